/**
 * Blue-green workflow logic with stubbed activities, on the time-skipping
 * test server (day-long approval timeouts run instantly).
 */
import { WorkflowFailedError } from '@temporalio/client';
import {
  approveSignal,
  abortSignal,
  promoteUpdate,
  rejectSignal,
  rollbackSignal,
  statusQuery,
} from '../../workflows/messages';
import { blueGreenSpec } from '../support/specs';
import type { SpecOverrides } from '../support/specs';
import { createWorld } from './fake-activities';
import type { World, WorldOptions } from './fake-activities';
import { historyRuns, updateRefusal, useWorkflowHarness } from './harness';
import type { Run, RunSize } from './harness';

const harness = useWorkflowHarness();

async function withRun(
  worldOptions: Partial<WorldOptions>,
  specOverrides: SpecOverrides,
  body: (run: Run<World>) => Promise<void>,
): Promise<void> {
  const modules = specOverrides.modules ?? ['Catalog', 'Cart'];
  const world = createWorld({ application: 'shop', modules, liveColor: 'blue', liveVersion: '1.0.0', ...worldOptions });
  await harness.run(
    {
      workflowType: 'blueGreenDeployment',
      input: { spec: blueGreenSpec({ modules, ...specOverrides }) },
      world,
      taskQueue: 'bg-unit',
      workflowId: 'deploy-test-shop',
    },
    body,
  );
}

const required = { approval: { mode: 'required', timeout: '1d' } };

describe('blue-green workflow', () => {
  test('automatic approval: green launched, probed, switched, verified; blue retired', async () => {
    await withRun({}, {}, async ({ world, outcome }) => {
      const { result, failed } = await outcome();
      expect(failed).toBe(false);
      expect(result.outcome).toBe('succeeded');
      expect(result.liveColor).toBe('green');
      expect(result.liveVersion).toBe('2.0.0');
      expect(world.rules.Catalog?.backends).toEqual([{ backend: 'shop-green', weight: 100 }]);
      expect(world.rules.Cart?.backends).toEqual([{ backend: 'shop-green', weight: 100 }]);
      expect(Object.keys(world.sets)).toEqual(['shop-2-0-0-green']);
      expect(world.backends['shop-blue']).toBeUndefined();
      const order = world.calls.map((c) => c.name);
      expect(order.indexOf('verifyTraffic')).toBeGreaterThan(order.indexOf('switchTraffic'));
      expect(order.indexOf('retireReplicaSet')).toBeGreaterThan(order.indexOf('verifyTraffic'));
      expect(result.status.steps.every((s) => s.state === 'done' || s.state === 'skipped')).toBe(true);
    });
  });

  test('a spec as written (the UI) runs as the recorded normalizeSpec local activity returned it', async () => {
    // The activity's answer stands for the schema of the day the run started: a later schema could differ, and the
    // run must keep the spec it started with (the history records the local activity's result).
    const world = createWorld({
      application: 'shop',
      modules: ['Catalog', 'Cart'],
      liveColor: 'blue',
      liveVersion: '1.0.0',
    });
    const normalizeSpec = world.activities.normalizeSpec;
    world.activities.normalizeSpec = async (input) => {
      const result = await normalizeSpec(input);
      return result.ok ? { ok: true, spec: { ...result.spec, replicas: 3 } } : result;
    };
    await harness.run(
      {
        workflowType: 'blueGreenDeployment',
        input: { spec: blueGreenSpec({ modules: ['Catalog', 'Cart'], replicas: 2 }) },
        world,
        taskQueue: 'bg-unit',
        workflowId: 'deploy-test-shop',
      },
      async ({ handle, outcome }) => {
        const { result } = await outcome();
        expect(result.outcome).toBe('succeeded');
        expect(world.sets['shop-2-0-0-green']?.desired).toBe(3);
        const events = (await handle.fetchHistory()).events ?? [];
        expect(
          events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity'),
        ).toHaveLength(1);
      },
    );
  });

  test('deploying again from green targets blue', async () => {
    await withRun({ liveColor: 'green' }, {}, async ({ world, outcome }) => {
      const { result } = await outcome();
      expect(result.liveColor).toBe('blue');
      expect(world.rules.Catalog?.backends[0]?.backend).toBe('shop-blue');
    });
  });

  test('takes over an application a rolling update left: green beside it, then the rolling set and backend go', async () => {
    await withRun({ liveColor: 'rolling' }, {}, async ({ world, outcome }) => {
      const { result, failed } = await outcome();
      expect(failed).toBe(false);
      expect(result.status.previousVersion).toBe('1.0.0');
      expect(result.liveColor).toBe('green');
      expect(world.rules.Catalog?.backends).toEqual([{ backend: 'shop-green', weight: 100 }]);
      expect(world.rules.Cart?.backends).toEqual([{ backend: 'shop-green', weight: 100 }]);
      expect(Object.keys(world.sets)).toEqual(['shop-2-0-0-green']);
      expect(world.backends['shop-rolling']).toBeUndefined();
    });
  });

  test('a rejected takeover of a rolling application leaves the rolling set serving', async () => {
    await withRun(
      { liveColor: 'rolling' },
      { strategy: required },
      async ({ world, handle, outcome, waitForPhase }) => {
        await waitForPhase('AwaitingApproval');
        await handle.signal(rejectSignal, { by: 'qa', reason: 'not today' });
        const { result, failed } = await outcome();
        expect(failed).toBe(true);
        expect(result.outcome).toBe('rolled-back');
        expect(result.liveColor).toBe('rolling');
        expect(world.rules.Catalog?.backends).toEqual([{ backend: 'shop-rolling', weight: 100 }]);
        expect(Object.keys(world.sets)).toEqual(['shop-1.0.0-rolling']);
        expect(world.backends['shop-rolling']).toHaveLength(2);
      },
    );
  });

  test('required approval: waits at the gate, approve signal promotes', async () => {
    await withRun({}, { strategy: required }, async ({ world, handle, outcome, waitForPhase }) => {
      const waiting = await waitForPhase('AwaitingApproval');
      expect(waiting.approval.pending).toBe(true);
      expect(waiting.approval.deadline).toBeDefined();
      expect(world.called('switchTraffic')).toBe(0);
      await handle.signal(approveSignal, { by: 'alice', version: '2.0.0' });
      const { result } = await outcome();
      expect(result.outcome).toBe('succeeded');
      expect(result.status.approval.approved?.by).toBe('alice');
    });
  });

  test('approve naming another version, or without "by", is ignored and recorded', async () => {
    await withRun({}, { strategy: required }, async ({ handle, outcome, waitForPhase }) => {
      await waitForPhase('AwaitingApproval');
      await handle.signal(approveSignal, { by: 'mallory', version: '9.9.9' });
      await handle.signal(approveSignal, { by: '' });
      const status = await handle.query(statusQuery);
      expect(status.phase).toBe('AwaitingApproval');
      expect(status.events.map((e) => e.message).join('\n')).toMatch(/mallory ignored: it names version "9.9.9"/);
      await handle.signal(approveSignal, { by: 'alice' });
      expect((await outcome()).result.outcome).toBe('succeeded');
    });
  });

  test('promote update: refused for another version, accepted for the waiting one', async () => {
    await withRun({}, { strategy: required }, async ({ handle, outcome, waitForPhase }) => {
      await waitForPhase('AwaitingApproval');
      expect(
        await updateRefusal(handle.executeUpdate(promoteUpdate, { args: [{ by: 'bob', version: '3.0.0' }] })),
      ).toMatch(/version "3.0.0" but version "2.0.0" is waiting/);
      const accepted = await handle.executeUpdate(promoteUpdate, { args: [{ by: 'bob', version: '2.0.0' }] });
      expect(accepted).toMatchObject({ accepted: true, version: '2.0.0' });
      expect((await outcome()).result.status.approval.approved?.by).toBe('bob');
    });
  });

  test('promote update is refused when the deployment is not waiting for approval', async () => {
    await withRun({}, { strategy: { rollbackWindow: '1h' } }, async ({ handle, outcome, waitForPhase }) => {
      await waitForPhase('RollbackWindow');
      expect(
        await updateRefusal(handle.executeUpdate(promoteUpdate, { args: [{ by: 'bob', version: '2.0.0' }] })),
      ).toMatch(/not waiting for approval \(phase RollbackWindow\)/);
      expect((await outcome()).result.outcome).toBe('succeeded');
    });
  });

  test('reject rolls back: traffic never moves, green retired', async () => {
    await withRun({}, { strategy: required }, async ({ world, handle, outcome, waitForPhase }) => {
      await waitForPhase('AwaitingApproval');
      await handle.signal(rejectSignal, { by: 'carol', reason: 'checkout broken' });
      const { result, failed, failureType } = await outcome();
      expect(failed).toBe(true);
      expect(failureType).toBe('DeploymentRolledBack');
      expect(result.outcome).toBe('rolled-back');
      expect(result.reason).toMatch(/rejected by carol: checkout broken/);
      expect(world.called('switchTraffic')).toBe(0);
      expect(world.rules.Catalog?.backends[0]?.backend).toBe('shop-blue');
      expect(Object.keys(world.sets)).toEqual(['shop-1.0.0-blue']);
    });
  });

  test('approval timeout rolls back by default (a day passes instantly)', async () => {
    await withRun({}, { strategy: required }, async ({ world, outcome }) => {
      const { result } = await outcome();
      expect(result.outcome).toBe('rolled-back');
      expect(result.reason).toMatch(/approval timed out/);
      expect(result.status.approval.timedOut).toBe(true);
      expect(world.called('switchTraffic')).toBe(0);
      expect(world.sets['shop-2-0-0-green']).toBeUndefined();
    });
  });

  test('approval timeout with onTimeout=promote promotes', async () => {
    const strategy = { approval: { mode: 'required', timeout: '2h', onTimeout: 'promote' } };
    await withRun({}, { strategy }, async ({ world, outcome }) => {
      const { result } = await outcome();
      expect(result.outcome).toBe('succeeded');
      expect(world.rules.Cart?.backends[0]?.backend).toBe('shop-green');
    });
  });

  test('unhealthy green: rolled back, green retired, traffic never moved', async () => {
    await withRun({ unhealthy: true }, {}, async ({ world, outcome }) => {
      const { result } = await outcome();
      expect(result.outcome).toBe('rolled-back');
      expect(result.reason).toMatch(/replicas of shop-2-0-0-green healthy/);
      expect(world.called('switchTraffic')).toBe(0);
      expect(world.sets['shop-2-0-0-green']).toBeUndefined();
      expect(world.sets['shop-1.0.0-blue']).toBeDefined();
    });
  });

  test('post-switch verification failure switches back automatically', async () => {
    await withRun({ verifyFails: true }, {}, async ({ world, outcome }) => {
      const { result } = await outcome();
      expect(result.outcome).toBe('rolled-back');
      expect(result.reason).toMatch(/post-switch verification failed/);
      expect(world.called('restoreRules')).toBe(1);
      expect(world.rules.Catalog?.backends[0]?.backend).toBe('shop-blue');
      expect(world.sets['shop-2-0-0-green']).toBeUndefined();
      expect(result.liveColor).toBe('blue');
    });
  });

  test('rollback signal inside the window switches back and retires green, keeps blue', async () => {
    await withRun({}, { strategy: { rollbackWindow: '2h' } }, async ({ world, handle, outcome, waitForPhase }) => {
      const inWindow = await waitForPhase('RollbackWindow');
      expect(inWindow.rollbackWindowEndsAt).toBeDefined();
      expect(world.rules.Catalog?.backends[0]?.backend).toBe('shop-green');
      await handle.signal(rollbackSignal, { by: 'dave', reason: 'errors up' });
      const { result } = await outcome();
      expect(result.outcome).toBe('rolled-back');
      expect(result.reason).toMatch(/rollback requested by dave/);
      expect(world.rules.Catalog?.backends[0]?.backend).toBe('shop-blue');
      expect(Object.keys(world.sets)).toEqual(['shop-1.0.0-blue']);
    });
  });

  test('the rollback window expires and blue is retired', async () => {
    await withRun({}, { strategy: { rollbackWindow: '3d' } }, async ({ world, outcome }) => {
      const { result } = await outcome();
      expect(result.outcome).toBe('succeeded');
      expect(world.sets['shop-1.0.0-blue']).toBeUndefined();
    });
  });

  test('abort while probing cancels the probe and undoes green', async () => {
    await withRun({ blockProbing: true }, {}, async ({ world, handle, outcome, waitForPhase }) => {
      await waitForPhase('AwaitingHealthy');
      await handle.signal(abortSignal, { by: 'erin', reason: 'wrong build' });
      const { result } = await outcome();
      expect(result.outcome).toBe('rolled-back');
      expect(result.reason).toMatch(/aborted by erin: wrong build/);
      expect(world.sets['shop-2-0-0-green']).toBeUndefined();
      expect(world.called('switchTraffic')).toBe(0);
      expect(result.status.steps.some((s) => s.name === 'undo: retire green' && s.state === 'compensated')).toBe(true);
    });
  });

  test('abort during the rollback window rolls back', async () => {
    await withRun({}, { strategy: { rollbackWindow: '1h' } }, async ({ world, handle, outcome, waitForPhase }) => {
      await waitForPhase('RollbackWindow');
      await handle.signal(abortSignal, { by: 'frank' });
      const { result } = await outcome();
      expect(result.outcome).toBe('rolled-back');
      expect(world.rules.Cart?.backends[0]?.backend).toBe('shop-blue');
    });
  });

  test('migration off the platform server creates explicit rules, retires nothing', async () => {
    await withRun({ liveColor: null }, {}, async ({ world, outcome }) => {
      const { result } = await outcome();
      expect(result.outcome).toBe('succeeded');
      expect(result.status.previousVersion).toBeNull();
      expect(world.rules.Catalog?.backends).toEqual([{ backend: 'shop-green', weight: 100 }]);
      expect(world.called('retireReplicaSet')).toBe(0);
    });
  });

  test('migration rollback removes the explicit rules again', async () => {
    await withRun(
      { liveColor: null },
      { strategy: { rollbackWindow: '1h' } },
      async ({ world, handle, outcome, waitForPhase }) => {
        await waitForPhase('RollbackWindow');
        expect(Object.keys(world.rules).sort()).toEqual(['Cart', 'Catalog']);
        await handle.signal(rollbackSignal, { by: 'gina' });
        const { result } = await outcome();
        expect(result.outcome).toBe('rolled-back');
        expect(world.rules).toEqual({});
        expect(world.sets).toEqual({});
        expect(result.liveColor).toBeNull();
      },
    );
  });

  test('module-by-module switch verifies each module before the next', async () => {
    await withRun(
      {},
      { modules: ['A', 'B', 'C'], strategy: { switchMode: 'module-by-module' } },
      async ({ world, outcome }) => {
        await outcome();
        const seq = world.calls.filter((c) => c.name === 'switchTraffic' || c.name === 'verifyTraffic');
        expect(seq.map((c) => `${c.name}:${(c.input as { modules: string[] }).modules.join()}`)).toEqual([
          'switchTraffic:A',
          'verifyTraffic:A',
          'switchTraffic:B',
          'verifyTraffic:B',
          'switchTraffic:C',
          'verifyTraffic:C',
        ]);
      },
    );
  });

  test('preview: route opened before approval with preview replicas, closed after; then full scale-up', async () => {
    const strategy = { ...required, preview: { enabled: true }, previewReplicas: 1 };
    await withRun({}, { replicas: 3, strategy }, async ({ world, handle, outcome, waitForPhase }) => {
      await waitForPhase('AwaitingApproval');
      expect(world.previews).toEqual({ Catalog: 'shop-green', Cart: 'shop-green' });
      expect(world.sets['shop-2-0-0-green']?.replicas).toHaveLength(1);
      await handle.signal(approveSignal, { by: 'alice' });
      const { result } = await outcome();
      expect(result.outcome).toBe('succeeded');
      expect(world.previews).toEqual({});
      expect(world.sets['shop-2-0-0-green']?.replicas).toHaveLength(3);
      expect(world.backends['shop-green']).toHaveLength(3);
    });
  });

  test('an invalid spec fails at once, naming the field, with no side effect', async () => {
    await withRun({}, { replicas: 0 }, async ({ world, handle }) => {
      await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
      const err = await handle.result().catch((e: WorkflowFailedError) => e);
      expect((err as WorkflowFailedError).cause?.message).toMatch(/replicas: .*>=1|replicas: Too small/i);
      expect(world.calls).toHaveLength(0);
    });
  });
});

describe('blue-green workflow: 1,000 replicas', () => {
  test('completes with one bounded history: events do not grow with replicas, no event near the payload limits', async () => {
    await withRun({}, { replicas: 1000 }, async ({ world, handle, outcome }) => {
      const { result } = await outcome();
      expect(result.outcome).toBe('succeeded');
      expect(world.sets['shop-2-0-0-green']?.replicas).toHaveLength(1000);

      const runs = await historyRuns(harness.env.client, handle.workflowId);
      expect(runs).toHaveLength(1);
      const [run] = runs as [RunSize];
      // The same runbook as for 2 replicas: a few dozen events, whatever the count.
      expect(run.events).toBeLessThan(150);
      // Replica addresses travel in the scale-up, probe and publish payloads: well under Temporal's 512 KB warning.
      expect(run.largestEventBytes).toBeLessThan(512 * 1024);
      expect(run.bytes).toBeLessThan(2 * 1024 * 1024);
      process.stdout.write(
        `blue-green, 1,000 replicas: ${run.events} events, ${(run.bytes / 1024).toFixed(1)} KiB ` +
          `(largest event ${(run.largestEventBytes / 1024).toFixed(1)} KiB)\n`,
      );
    });
  }, 120_000);
});
