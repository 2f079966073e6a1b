/**
 * Rolling-update workflow logic with stubbed activities, on the time-skipping
 * test server: batches within the surge/unavailable bounds, pauses, the
 * progress deadline, abort in every phase, continue-as-new with a pending
 * approval, and 1,000 replicas with every run's history bounded.
 */
import type { WorkflowFailedError, WorkflowHandle } from '@temporalio/client';
import { abortSignal, approveSignal, promoteUpdate, rejectSignal } from '../../workflows/messages';
import { configRevisionOf, rollingReplicaSetName } from '../../workflows/rolling-math';
import type { DeploymentResult, Phase, RollingInput } from '../../workflows/types';
import { rollingSpec } from '../support/specs';
import type { SpecOverrides } from '../support/specs';
import { historyRuns, updateRefusal, useWorkflowHarness } from './harness';
import type { Run } from './harness';
import { NEW_SET, expectDefaultBounds, expectOldVersionBack, newIds, withRun as runRolling } from './rolling-run';
import type { RollingWorld, RollingWorldOptions } from './rolling-world';

const harness = useWorkflowHarness();
const withRun = (
  world: Partial<RollingWorldOptions>,
  spec: SpecOverrides,
  body: (run: Run<RollingWorld>) => Promise<void>,
  extra?: Partial<RollingInput>,
) => runRolling(harness, world, spec, body, extra);

const approvalAfter1 = { steps: [{ afterBatch: 1, pause: { approval: true } }] };

describe('rolling update: batches', () => {
  test('defaults (25%/25% of 4): two batches, every replica replaced, within the bounds, old set retired', async () => {
    await withRun({}, {}, async ({ world, outcome }) => {
      const { result, failed } = await outcome();
      expect(failed).toBe(false);
      expect(result.outcome).toBe('succeeded');
      expect(result.liveVersion).toBe('2.0.0');
      expect(result.status.strategy).toBe('rolling');
      expect(result.status.previousVersion).toBe('1.0.0');
      expect(result.status.rolling).toMatchObject({ batch: 2, batches: 2, old: 0, new: 4, healthy: 4 });
      expect(world.alive()).toEqual(newIds(4).map((id) => ({ id, version: '2.0.0' })));
      expect(world.serving()).toHaveLength(4);
      expect([...world.sets.keys()]).toEqual([NEW_SET]);
      expectDefaultBounds(world);
      expect([...world.launches.values()].every((n) => n === 1)).toBe(true);
    });
  });

  test('maxSurge 1, maxUnavailable 0: per replica launch, probe, register, deregister, drain, retire', async () => {
    await withRun({}, { strategy: { maxSurge: 1, maxUnavailable: 0 } }, async ({ world, outcome }) => {
      const { result } = await outcome();
      expect(result.status.rolling?.batches).toBe(4);
      const perBatch = [
        'launchToCount',
        'awaitSetAvailable',
        'registerSetTargets',
        'deregisterSetTargets',
        'drainUnserved',
        'retireUnserved',
      ];
      const names = world.calls.map((c) => c.name).filter((n) => perBatch.includes(n));
      expect(names).toEqual([...perBatch, ...perBatch, ...perBatch, ...perBatch]);
      expect(world.bounds.minServing).toBe(4);
      expect(world.bounds.maxAlive).toBe(5);
      const steps = result.status.steps.map((s) => s.name);
      expect(steps).toContain('batch 1/4: launch 1 2.0.0 replicas');
      expect(steps).toContain('batch 4/4: replace: retire 1 1.0.0 replicas');
    });
  });

  test('maxSurge 0, maxUnavailable 1: an old replica goes first, then its replacement', async () => {
    await withRun({}, { strategy: { maxSurge: 0, maxUnavailable: 1 } }, async ({ world, outcome }) => {
      await outcome();
      const first = world.calls.findIndex((c) => c.name === 'retireUnserved');
      expect(first).toBeLessThan(world.calls.findIndex((c) => c.name === 'launchToCount'));
      expect(world.bounds.minServing).toBe(3);
      expect(world.bounds.maxAlive).toBe(4);
    });
  });

  test('first deployment (the platform server serves): launch all, publish, switch the modules, verify', async () => {
    await withRun({ live: 'none' }, {}, async ({ world, outcome }) => {
      const { result } = await outcome();
      expect(result.outcome).toBe('succeeded');
      expect(result.status.previousVersion).toBeNull();
      expect(world.rules.Cart?.backends).toEqual([{ backend: 'shop-rolling', weight: 100 }]);
      expect(world.serving()).toHaveLength(4);
      expect(world.called('verifyTraffic')).toBe(1);
      expect(world.alive().map((r) => r.id)).toEqual(newIds(4));
    });
  });

  test('first deployment aborted while probing: the modules stay on the platform server, nothing is left', async () => {
    await withRun({ live: 'none' }, {}, async ({ world, handle, outcome }) => {
      const hold = world.hold('awaitSetAvailable', 1);
      await hold.reached;
      await handle.signal(abortSignal, { by: 'erin' });
      const { result } = await outcome();
      expect(result.outcome).toBe('rolled-back');
      expect(world.rules).toEqual({});
      expect(world.alive()).toEqual([]);
      expect(world.backends.has('shop-rolling')).toBe(false);
    });
  });

  test('an application live on blue (blue-green) is adopted: same replicas moved to the rolling backend, then rolled', async () => {
    await withRun({ live: 'blue' }, {}, async ({ world, outcome }) => {
      const { result } = await outcome();
      expect(result.outcome).toBe('succeeded');
      expect(world.rules.Catalog?.backends).toEqual([{ backend: 'shop-rolling', weight: 100 }]);
      expect(world.backends.has('shop-blue')).toBe(false);
      expect(world.alive().map((r) => r.id)).toEqual(newIds(4));
      expectDefaultBounds(world);
    });
  });

  test('an adopted application that rolls back returns to blue', async () => {
    await withRun({ live: 'blue' }, { strategy: approvalAfter1 }, async ({ world, handle, outcome, waitForPhase }) => {
      await waitForPhase('AwaitingApproval');
      await handle.signal(rejectSignal, { by: 'carol' });
      const { result } = await outcome();
      expect(result.outcome).toBe('rolled-back');
      expect(world.rules.Catalog?.backends).toEqual([{ backend: 'shop-blue', weight: 100 }]);
      expect(world.backends.has('shop-rolling')).toBe(false);
      expect(world.backends.get('shop-blue')).toHaveLength(4);
      expect(world.alive().map((r) => r.version)).toEqual(Array(4).fill('1.0.0'));
      expectDefaultBounds(world);
    });
  });

  test('configuration only: same version, new env -> a new replica set rolls through every replica', async () => {
    const env = { FEATURE_X: 'on' };
    const set = rollingReplicaSetName('shop', '1.0.0', configRevisionOf(env));
    await withRun({}, { version: '1.0.0', env }, async ({ world, outcome }) => {
      const { result } = await outcome();
      expect(result.outcome).toBe('succeeded');
      expect(result.status.rolling?.replicaSet).toBe(set);
      expect(world.alive().map((r) => r.id)).toEqual([0, 1, 2, 3].map((i) => `${set}-${i}`));
      expect(world.sets.get(set)?.env).toEqual(env);
      expectDefaultBounds(world);
    });
  });

  test('the same version and configuration already serving: nothing to do', async () => {
    await withRun({}, {}, async ({ world, handle }) => {
      await handle.result();
      const again = await harness.env.client.workflow.start('rollingUpdateDeployment', {
        taskQueue: (await handle.describe()).taskQueue,
        workflowId: `${handle.workflowId}-again`,
        args: [{ spec: rollingSpec({ replicas: 4 }) }],
      });
      const result = (await again.result()) as DeploymentResult;
      expect(result.outcome).toBe('succeeded');
      expect(result.status.events.map((e) => e.message).join('\n')).toMatch(/already serves with 4 replicas/);
      expect(world.called('launchToCount')).toBe(2);
    });
  });

  test('an invalid spec fails at once, naming the field, with no side effect', async () => {
    await withRun({}, { strategy: { maxSurge: 0, maxUnavailable: '0%' } }, async ({ world, handle }) => {
      const err = await handle.result().catch((e: WorkflowFailedError) => e);
      expect((err as WorkflowFailedError).cause?.message).toMatch(/maxUnavailable: may not be 0 when maxSurge is 0/);
      expect(world.calls).toHaveLength(0);
    });
  });
});

describe('rolling update: pauses', () => {
  test('approval after the first batch (a canary): waits with batch 1/2 visible, approve continues', async () => {
    await withRun({}, { strategy: approvalAfter1 }, async ({ world, handle, outcome, waitForPhase }) => {
      const waiting = await waitForPhase('AwaitingApproval');
      expect(waiting.approval.pending).toBe(true);
      expect(waiting.rolling).toMatchObject({ batch: 1, batches: 2, old: 2, new: 2, healthy: 4 });
      expect(world.serving()).toHaveLength(4);
      expect(await updateRefusal(handle.executeUpdate(promoteUpdate, { args: [{ by: 'bob', version: '9' }] }))).toMatch(
        /version "9" but version "2.0.0" is waiting/,
      );
      await handle.signal(approveSignal, { by: 'alice', version: '2.0.0' });
      const { result } = await outcome();
      expect(result.outcome).toBe('succeeded');
      expect(result.status.approval.approved?.by).toBe('alice');
    });
  });

  test('the promote update passes the pause', async () => {
    await withRun({}, { strategy: approvalAfter1 }, async ({ handle, outcome, waitForPhase }) => {
      await waitForPhase('AwaitingApproval');
      expect(await handle.executeUpdate(promoteUpdate, { args: [{ by: 'bob', version: '2.0.0' }] })).toMatchObject({
        accepted: true,
      });
      expect((await outcome()).result.outcome).toBe('succeeded');
    });
  });

  test('reject at the pause rolls the first batch back within the bounds', async () => {
    await withRun({}, { strategy: approvalAfter1 }, async ({ world, handle, outcome, waitForPhase }) => {
      await waitForPhase('AwaitingApproval');
      await handle.signal(rejectSignal, { by: 'carol', reason: 'canary errors' });
      const { result, failureType } = await outcome();
      expect(failureType).toBe('DeploymentRolledBack');
      expect(result.outcome).toBe('rolled-back');
      expect(result.reason).toMatch(/rejected at the pause after batch 1\/2 by carol: canary errors/);
      expect(result.liveVersion).toBe('1.0.0');
      expectOldVersionBack(world);
      expectDefaultBounds(world);
      expect(result.status.rolling?.direction).toBe('rollback');
    });
  });

  test('the approval timeout rolls back (a day passes instantly)', async () => {
    await withRun({}, { strategy: approvalAfter1 }, async ({ world, outcome }) => {
      const { result } = await outcome();
      expect(result.reason).toMatch(/approval timed out at the pause after batch 1/);
      expect(result.status.approval.timedOut).toBe(true);
      expectOldVersionBack(world);
    });
  });

  test('approval mode automatic lets approval pauses pass', async () => {
    const strategy = { ...approvalAfter1, approval: { mode: 'automatic' } };
    await withRun({}, { strategy }, async ({ outcome }) => {
      const { result } = await outcome();
      expect(result.outcome).toBe('succeeded');
      expect(result.status.approval.approved?.by).toBe('automatic');
    });
  });

  test('a timed pause waits its time (skipped instantly here), then the update goes on', async () => {
    const strategy = { maxSurge: 1, maxUnavailable: 0, steps: [{ afterBatch: 2, pause: { duration: '30m' } }] };
    await withRun({}, { strategy }, async ({ outcome, waitForPhase }) => {
      const paused = await waitForPhase('Paused');
      expect(paused.rolling?.batch).toBe(2);
      const { result } = await outcome();
      expect(result.outcome).toBe('succeeded');
      expect(result.status.steps.map((s) => s.name)).toContain('batch 3/4: launch 1 2.0.0 replicas');
    });
  });

  test('approve ends a timed pause early', async () => {
    const strategy = { steps: [{ afterBatch: 1, pause: { duration: '3d' } }] };
    await withRun({}, { strategy }, async ({ handle, outcome, waitForPhase }) => {
      await waitForPhase('Paused');
      await handle.signal(approveSignal, { by: 'dan' });
      const { result } = await outcome();
      expect(result.outcome).toBe('succeeded');
      expect(result.status.approval.approved?.by).toBe('dan');
    });
  });

  test('a pause after the last batch is recorded as skipped', async () => {
    await withRun({}, { strategy: { steps: [{ afterBatch: 2, pause: { approval: true } }] } }, async ({ outcome }) => {
      const { result } = await outcome();
      expect(result.outcome).toBe('succeeded');
      expect(result.status.steps.find((s) => s.name === 'pause after batch 2')?.state).toBe('skipped');
    });
  });
});

describe('rolling update: progress deadline', () => {
  test('a stalled batch rolls back by default', async () => {
    await withRun({ stall: (n) => n === 2 }, {}, async ({ world, outcome }) => {
      const { result } = await outcome();
      expect(result.outcome).toBe('rolled-back');
      expect(result.reason).toMatch(/batch 2\/2 made no progress within the progress deadline/);
      expectOldVersionBack(world);
      expectDefaultBounds(world);
    });
  });

  test('onProgressDeadline: pause -> waits for a person; approve waits again and completes', async () => {
    const strategy = { onProgressDeadline: 'pause' };
    await withRun({ stall: (n) => n === 2 }, { strategy }, async ({ world, handle, outcome, waitForPhase }) => {
      const waiting = await waitForPhase('AwaitingApproval');
      expect(waiting.events.map((e) => e.message).join('\n')).toMatch(/batch 2\/2 made no progress/);
      expect(world.serving()).toHaveLength(3); // one old replica taken out first (maxUnavailable 1)
      await handle.signal(approveSignal, { by: 'alice' });
      const { result } = await outcome();
      expect(result.outcome).toBe('succeeded');
      expect(world.called('awaitSetAvailable')).toBe(3);
      expectDefaultBounds(world);
    });
  });

  test('onProgressDeadline: pause -> reject rolls back', async () => {
    const strategy = { onProgressDeadline: 'pause' };
    await withRun({ stall: (n) => n === 1 }, { strategy }, async ({ world, handle, outcome, waitForPhase }) => {
      await waitForPhase('AwaitingApproval');
      await handle.signal(rejectSignal, { by: 'carol' });
      const { result } = await outcome();
      expect(result.outcome).toBe('rolled-back');
      expectOldVersionBack(world);
    });
  });

  test('a platform that refuses a launch in batch 2: rolled back, within the bounds', async () => {
    await withRun({ failLaunch: 2 }, {}, async ({ world, outcome }) => {
      const { result } = await outcome();
      expect(result.outcome).toBe('rolled-back');
      expect(result.reason).toMatch(/the platform refused the launch/);
      expectOldVersionBack(world);
      expectDefaultBounds(world);
    });
  });
});

describe('rolling update: abort in every phase rolls back to exactly the old version', () => {
  const cases: [string, Phase, Parameters<RollingWorld['hold']>, Record<string, unknown>][] = [
    ['discovering', 'Discovering', ['discoverRollingSets', 1], {}],
    ['launching batch 2', 'ScalingUp', ['launchToCount', 2], {}],
    ['probing batch 2', 'AwaitingHealthy', ['awaitSetAvailable', 2], {}],
    ['registering batch 2', 'ProductionTrafficShift', ['registerSetTargets', 2], {}],
    ['draining (take out first) in batch 2', 'Draining', ['drainUnserved', 3], {}],
    ['draining (replace) in batch 1', 'Draining', ['drainUnserved', 2], {}],
    ['retiring in batch 2', 'RetiringOld', ['retireUnserved', 3], {}],
  ];
  test.each(cases)('abort while %s', async (_what, phase, [name, call], strategy) => {
    await withRun({}, { strategy }, async ({ world, handle, outcome, waitFor }) => {
      const hold = world.hold(name, call);
      await hold.reached;
      await waitFor((s) => s.phase === phase, phase);
      await handle.signal(abortSignal, { by: 'erin', reason: 'stop' });
      await waitFor((s) => s.events.some((e) => /abort requested by erin/.test(e.message)), 'the abort');
      hold.release();
      const { result } = await outcome();
      expect(result.outcome).toBe('rolled-back');
      expect(result.reason).toBe('aborted by erin: stop');
      expectOldVersionBack(world);
      expectDefaultBounds(world);
    });
  });

  test('abort while waiting at an approval pause', async () => {
    await withRun({}, { strategy: approvalAfter1 }, async ({ world, handle, outcome, waitForPhase }) => {
      await waitForPhase('AwaitingApproval');
      await handle.signal(abortSignal, { by: 'erin' });
      const { result } = await outcome();
      expect(result.outcome).toBe('rolled-back');
      expect(result.status.approval.pending).toBe(false);
      expectOldVersionBack(world);
      expectDefaultBounds(world);
    });
  });

  test('abort during a timed pause', async () => {
    await withRun({}, { strategy: { steps: [{ afterBatch: 1, pause: { duration: '1d' } }] } }, async (run) => {
      await run.waitForPhase('Paused');
      await run.handle.signal(abortSignal, { by: 'erin' });
      expect((await run.outcome()).result.outcome).toBe('rolled-back');
      expectOldVersionBack(run.world);
    });
  });

  test('abort while rolling back is ignored; after the last batch it is ignored too', async () => {
    await withRun({}, { strategy: approvalAfter1 }, async ({ world, handle, outcome, waitForPhase }) => {
      await waitForPhase('AwaitingApproval');
      const hold = world.hold('retireUnserved', 3);
      await handle.signal(rejectSignal, { by: 'carol' });
      await hold.reached;
      await handle.signal(abortSignal, { by: 'erin' });
      hold.release();
      const { result } = await outcome();
      expect(result.outcome).toBe('rolled-back');
      expect(result.status.events.map((e) => e.message).join('\n')).toMatch(
        /abort from erin ignored: already rolling back/,
      );
      expectOldVersionBack(world);
    });
  });
});

/**
 * History events of every run of a deployment, first to last: the earlier runs' counts as the workflow recorded them
 * when it continued as new, the last run's from the server.
 */
async function eventsPerRun(handle: WorkflowHandle, result: DeploymentResult): Promise<number[]> {
  const last = await harness.env.client.workflow.getHandle(handle.workflowId).describe();
  return [...(result.status.rolling?.runEvents ?? []), last.historyLength];
}

describe('rolling update: continue-as-new', () => {
  test('with a pending approval: the gate reopens in the next run with the same deadline; approve completes', async () => {
    await withRun(
      {},
      { strategy: approvalAfter1 },
      async ({ world, handle, outcome, waitForPhase, waitFor }) => {
        const waiting = await waitForPhase('AwaitingApproval');
        const firstRun = (await handle.describe()).runId;
        // Ignored approvals grow the history while the gate is open, past the bound: the run continues as new.
        while ((await handle.describe()).historyLength < 150) {
          await handle.signal(approveSignal, { by: 'mallory', version: '9.9.9' });
        }
        for (let i = 0; i < 400 && (await handle.describe()).runId === firstRun; i++) {
          await new Promise((r) => setTimeout(r, 25));
        }
        expect((await handle.describe()).runId).not.toBe(firstRun);
        const after = await waitFor(
          (s) => s.phase === 'AwaitingApproval' && (s.rolling?.run ?? 0) >= 2,
          'run 2 waiting',
        );
        expect(after.approval.pending).toBe(true);
        expect(after.approval.deadline).toBe(waiting.approval.deadline);
        expect(after.rolling).toMatchObject({ batch: 1, batches: 2, old: 2, new: 2 });
        expect(after.events.map((e) => e.message).join('\n')).toMatch(/continued as new after \d+ history events/);
        await handle.signal(approveSignal, { by: 'alice', version: '2.0.0' });
        const { result } = await outcome();
        expect(result.outcome).toBe('succeeded');
        expect(result.status.approval.approved?.by).toBe('alice');
        expect(world.alive().map((r) => r.id)).toEqual(newIds(4));
        expectDefaultBounds(world);
        expect((await eventsPerRun(handle, result)).length).toBeGreaterThanOrEqual(2);
      },
      { maxHistoryEvents: 150 },
    );
  });

  test('an abort in a later run rolls back what earlier runs did', async () => {
    const strategy = { maxSurge: 1, maxUnavailable: 0, steps: [{ afterBatch: 3, pause: { approval: true } }] };
    await withRun(
      {},
      { strategy },
      async ({ world, handle, outcome, waitFor }) => {
        const waiting = await waitFor((s) => s.phase === 'AwaitingApproval', 'the pause after batch 3');
        expect(waiting.rolling?.run).toBeGreaterThanOrEqual(2);
        await handle.signal(abortSignal, { by: 'erin' });
        const { result } = await outcome();
        expect(result.outcome).toBe('rolled-back');
        expectOldVersionBack(world);
        expect(world.bounds.minServing).toBe(4);
        expect(world.bounds.maxAlive).toBe(5);
      },
      { maxHistoryEvents: 60 },
    );
  });
});

describe('rolling update: 1,000 replicas', () => {
  test.each([
    ['25%', '25%'],
    ['1%', 0],
  ])(
    'maxSurge %p, maxUnavailable %p: completes, every history run stays bounded',
    async (maxSurge, maxUnavailable) => {
      const strategy = { maxSurge, maxUnavailable };
      await withRun({ liveReplicas: 1000 }, { replicas: 1000, strategy }, async ({ world, handle, outcome }) => {
        const { result } = await outcome();
        expect(result.outcome).toBe('succeeded');
        expect(world.alive()).toHaveLength(1000);
        expect(world.alive().every((r) => r.version === '2.0.0')).toBe(true);
        const { surge, unavailable } = {
          surge: result.status.rolling?.maxSurge ?? 0,
          unavailable: result.status.rolling?.maxUnavailable ?? 0,
        };
        expect(world.bounds.minServing).toBeGreaterThanOrEqual(1000 - unavailable);
        expect(world.bounds.maxAlive).toBeLessThanOrEqual(1000 + surge);
        const runs = await historyRuns(harness.env.client, handle.workflowId);
        expect(runs.length).toBe((result.status.rolling?.runEvents.length ?? 0) + 1);
        for (const run of runs) {
          // A run continues as new at the first batch boundary past 2,000 events: one batch at most beyond it.
          expect(run.events).toBeLessThan(2_200);
          // Far below Temporal's 50 MB history limit (and its 10 MB warning); no single event near the 2 MB blob limit.
          expect(run.bytes).toBeLessThan(4 * 1024 * 1024);
          expect(run.largestEventBytes).toBeLessThan(512 * 1024);
        }
        process.stdout.write(
          `1,000 replicas, maxSurge ${maxSurge}, maxUnavailable ${maxUnavailable}: ${result.status.rolling?.batches} batches, ` +
            `${runs.length} run(s); per run: ${runs.map((r) => `${r.events} events ${kib(r.bytes)} (largest event ${kib(r.largestEventBytes)})`).join('; ')}\n`,
        );
      });
    },
    300_000,
  );
});

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}
