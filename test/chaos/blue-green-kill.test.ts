/**
 * Chaos, blue-green: the worker is SIGKILLed at every step of the runbook, and a fresh worker takes over. Whatever the
 * point (before a step did anything, while it ran, after it took effect but before its completion was reported), the
 * deployment ends as it would have, every replica was started as exactly one process, nothing is left over, every
 * rule points at healthy replicas of one version, and no request through the router failed (strict accounting).
 */
import { expectZeroDowntime, underLoad } from '../support/load';
import type { ZeroDowntimeExpectation } from '../support/load';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';
import {
  BLUE_GREEN_POINTS,
  checkInvariants,
  givenLiveV1,
  kill9,
  killDuringUpgrade,
  startChaosWorker,
} from '../support/chaos';

const upgrade = (f: Fixture): ZeroDowntimeExpectation => ({
  versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['2.0.0'] },
  deliveries: f.deliveries(),
});

describe('chaos: blue-green with the worker SIGKILLed at every step', () => {
  let f: Fixture;

  beforeEach(async () => {
    f = await createFixture('chaos-bg');
  });

  afterEach(async () => {
    await f.close();
  });

  test.each(BLUE_GREEN_POINTS.map((p) => [p.name, p] as const))('%s', async (_name, point) => {
    await givenLiveV1(f, 'blue-green');

    // When: the chaos worker runs v2's deployment and dies at the point; a fresh worker takes over.
    const { result, report, invariants } = await killDuringUpgrade(f, 'blue-green', point);

    // Then
    expect(result.outcome).toBe('succeeded');
    expectZeroDowntime(report, upgrade(f));
    expect(invariants.violations).toEqual([]);
    expect(invariants.launches.replicas).toBe(2);
    process.stdout.write(
      `chaos blue-green ${point.name}: killed; launches ${invariants.launches.activities} activities, ` +
        `at most ${invariants.launches.maxAttempt} attempts; ${report.sent} requests, ${report.failed} failed\n`,
    );
  });

  test('while compensating a rejection (retiring green): the rollback completes, v1 serves as before', async () => {
    await givenLiveV1(f, 'blue-green');
    const chaos = await startChaosWorker(f, {
      activity: 'retireReplicaSet',
      when: 'during',
      afterMs: 50,
      action: 'kill',
    });
    const { value, report } = await underLoad(f.load(), async () => {
      const id = await f.deploy('2.0.0', { strategy: { approval: { mode: 'required', timeout: '1h' } } });
      await f.waitForPhase(id, 'AwaitingApproval');
      await f.client.reject(id, { by: 'chaos', reason: 'testing compensation' });
      await chaos.reached();
      await chaos.exited;
      const survivor = await f.startWorkerProcess();
      return { id, result: await f.result(id), survivor };
    });

    expect(value.result.outcome).toBe('rolled-back');
    expect(value.result.reason).toMatch(/rejected by chaos/);
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0'], after: ['1.0.0'] },
      deliveries: f.deliveries(),
    });
    const invariants = await checkInvariants(f, value.id, { version: '1.0.0', replicas: 2 });
    expect(invariants.violations).toEqual([]);
    await kill9(value.survivor);
  });
});
