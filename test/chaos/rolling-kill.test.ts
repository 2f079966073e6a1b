/**
 * Chaos, rolling update: the worker is SIGKILLed at every step of a batch (launch, probe, register, deregister,
 * drain, retire), after a continue-as-new, and while a rollback puts the old version back; a fresh worker takes over.
 * The same invariants as for blue-green hold afterwards (test/support/chaos.ts), with strict load accounting.
 */
import { validateSpec } from '../../workflows/spec';
import { deploymentId } from '../../workflows/types';
import {
  ROLLING_POINTS,
  checkInvariants,
  givenLiveV1,
  kill9,
  killDuringUpgrade,
  startChaosWorker,
} from '../support/chaos';
import { expectZeroDowntime, underLoad } from '../support/load';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';

/** Two replicas, one at a time (maxSurge 1, maxUnavailable 0): two batches of launch, probe, register, retire. */
const oneAtATime = { maxSurge: 1, maxUnavailable: 0 };

const upgradeVersions = { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['2.0.0'] };

describe('chaos: rolling update with the worker SIGKILLed at every step', () => {
  let f: Fixture;

  beforeEach(async () => {
    f = await createFixture('chaos-roll');
    // Given: v1 on 2 replicas behind the rolling backend (deployed by an in-process worker, then stopped).
    await givenLiveV1(f, 'rolling');
  });

  afterEach(async () => {
    await f.close();
  });

  test.each(ROLLING_POINTS.map((p) => [p.name, p] as const))('%s', async (_name, point) => {
    const { result, report, invariants } = await killDuringUpgrade(f, 'rolling', point);

    expect(result.outcome).toBe('succeeded');
    expectZeroDowntime(report, { versions: upgradeVersions, deliveries: f.deliveries() });
    expect(invariants.violations).toEqual([]);
    process.stdout.write(
      `chaos rolling ${point.name}: killed; ${invariants.launches.activities} launch activities, ` +
        `at most ${invariants.launches.maxAttempt} attempts; ${report.sent} requests, ${report.failed} failed\n`,
    );
  });

  test('right after continuing as new: the next run picks up the carried bookkeeping', async () => {
    const validated = validateSpec(f.rollingSpec('2.0.0', { replicas: 2, strategy: oneAtATime }));
    if (!validated.ok) throw new Error('the test builds a valid spec');
    // The first activity of a later run: the kill lands on the run that continued as new.
    const chaos = await startChaosWorker(f, {
      activity: 'launchToCount',
      when: 'before',
      action: 'kill',
      newRun: true,
    });
    const { value, report } = await underLoad(f.load(), async () => {
      const handle = await f.client.temporal.workflow.start('rollingUpdateDeployment', {
        taskQueue: f.taskQueue,
        workflowId: deploymentId(validated.spec.environment, validated.spec.application),
        args: [{ spec: validated.spec, specNormalized: true, maxHistoryEvents: 40 }],
      });
      await chaos.reached();
      await chaos.exited;
      const survivor = await f.startWorkerProcess();
      return { id: handle.workflowId, result: await f.result(handle.workflowId), survivor };
    });

    expect(value.result.outcome).toBe('succeeded');
    expect(value.result.status.rolling?.run).toBeGreaterThanOrEqual(2);
    expectZeroDowntime(report, { versions: upgradeVersions, deliveries: f.deliveries() });
    const invariants = await checkInvariants(f, value.id, { version: '2.0.0', replicas: 2 });
    expect(invariants.violations).toEqual([]);
    await kill9(value.survivor);
  });

  test('while the rollback launches the old version again: the rollback completes, v1 serves', async () => {
    // The first launch is batch 1 going forward; the second is the rollback putting a v1 replica back.
    const chaos = await startChaosWorker(f, {
      activity: 'launchToCount',
      when: 'during',
      afterMs: 300,
      action: 'kill',
      nth: 2,
    });
    const { value, report } = await underLoad(f.load(), async () => {
      const id = await f.deployRolling('2.0.0', {
        replicas: 2,
        env: { SAMPLE_START_DELAY_MS: '1500' },
        strategy: { ...oneAtATime, steps: [{ afterBatch: 1, pause: { approval: true } }] },
      });
      await f.waitForPhase(id, 'AwaitingApproval', 120_000);
      await f.client.abort(id, { by: 'chaos', reason: 'testing the rollback' });
      await chaos.reached();
      await chaos.exited;
      const survivor = await f.startWorkerProcess();
      return { id, result: await f.result(id), survivor };
    });

    expect(value.result.outcome).toBe('rolled-back');
    expect(value.result.reason).toMatch(/aborted by chaos/);
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['1.0.0'] },
      deliveries: f.deliveries(),
    });
    const invariants = await checkInvariants(f, value.id, { version: '1.0.0', replicas: 2 });
    expect(invariants.violations).toEqual([]);
    await kill9(value.survivor);
  });
});
