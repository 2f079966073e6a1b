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
import { checkInvariants, kill9, startChaosWorker } from '../support/chaos';
import type { KillPoint } from '../support/chaos';

/** Every step of the upgrade, with what makes its window wide enough to be hit. */
const UPGRADE_POINTS: KillPoint[] = [
  {
    name: 'while launching green (processes started, not yet listening)',
    plan: { activity: 'provisionReplicaSet', when: 'during', afterMs: 300, action: 'kill' },
    env: { SAMPLE_START_DELAY_MS: '2000' },
  },
  {
    name: 'after green launched, before the launch was reported',
    plan: { activity: 'provisionReplicaSet', when: 'after', action: 'kill' },
  },
  {
    name: 'while probing green',
    plan: { activity: 'awaitHealthy', when: 'during', afterMs: 500, action: 'kill' },
    env: { SAMPLE_HEALTHY_AFTER_MS: '3000' },
  },
  { name: 'after publishing the green backend', plan: { activity: 'publishBackend', when: 'after', action: 'kill' } },
  { name: 'after switching the rules', plan: { activity: 'switchTraffic', when: 'after', action: 'kill' } },
  { name: 'before verifying through the router', plan: { activity: 'verifyTraffic', when: 'before', action: 'kill' } },
  { name: 'before draining blue', plan: { activity: 'drainTargets', when: 'before', action: 'kill' } },
  { name: 'after retiring blue', plan: { activity: 'retireReplicaSet', when: 'after', action: 'kill' } },
];

const upgrade = (f: Fixture): ZeroDowntimeExpectation => ({
  versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['2.0.0'] },
  deliveries: f.deliveries(),
});

/** Given v1 live (deployed by an in-process worker that is then stopped). */
async function givenLiveV1(f: Fixture): Promise<void> {
  await f.startInProcessWorker();
  expect((await f.result(await f.deploy('1.0.0'))).outcome).toBe('succeeded');
  await f.stopInProcessWorker();
}

describe('chaos: blue-green with the worker SIGKILLed at every step', () => {
  let f: Fixture;

  beforeEach(async () => {
    f = await createFixture('chaos-bg');
  });

  afterEach(async () => {
    await f.close();
  });

  test.each(UPGRADE_POINTS.map((p) => [p.name, p] as const))('%s', async (_name, point) => {
    await givenLiveV1(f);

    // When: the chaos worker runs v2's deployment and dies at the point; a fresh worker takes over.
    const chaos = await startChaosWorker(f, point.plan);
    const { value, report } = await underLoad(f.load(), async () => {
      const id = await f.deploy('2.0.0', { env: point.env ?? {}, health: { deadline: '2m', interval: '200ms' } });
      await chaos.reached();
      await chaos.exited;
      const survivor = await f.startWorkerProcess();
      const result = await f.result(id);
      return { id, result, survivor };
    });

    // Then
    expect(value.result.outcome).toBe('succeeded');
    expectZeroDowntime(report, upgrade(f));
    const invariants = await checkInvariants(f, value.id, { version: '2.0.0', replicas: 2 });
    expect(invariants.violations).toEqual([]);
    expect(invariants.launches.replicas).toBe(2);
    process.stdout.write(
      `chaos blue-green ${point.name}: killed; launches ${invariants.launches.activities} activities, ` +
        `at most ${invariants.launches.maxAttempt} attempts; ${report.sent} requests, ${report.failed} failed\n`,
    );
    await kill9(value.survivor);
  });

  test('while compensating a rejection (retiring green): the rollback completes, v1 serves as before', async () => {
    await givenLiveV1(f);
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
