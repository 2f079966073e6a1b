/**
 * The Temporal UI as the operator's console, at the workflow level (stubbed activities, the time-skipping test
 * server): every activity a runbook step schedules carries the step's name as its summary in the history, an undo's
 * activities carry "undo: <name>", and the workflow's current details (the `__temporal_workflow_metadata` query the UI
 * reads) show the phase, the step and the gate, for blue-green, canary and rolling.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { SplitMeasurement } from '../../activities/canary';
import { rejectSignal } from '../../workflows/messages';
import { blueGreenSpec, canarySpec } from '../support/specs';
import { createWorld } from './fake-activities';
import { useWorkflowHarness } from './harness';
import { withRun as withRolling } from './rolling-run';

const harness = useWorkflowHarness();

/** [activity type, summary] of every activity scheduled, in order. */
async function scheduled(handle: WorkflowHandle): Promise<[string, string | undefined][]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).flatMap((e: temporal.api.history.v1.IHistoryEvent) => {
    const a = e.activityTaskScheduledEventAttributes;
    if (!a) return [];
    const payload = e.userMetadata?.summary;
    const summary = payload ? defaultPayloadConverter.fromPayload<string>(payload) : undefined;
    return [[a.activityType?.name ?? '', summary]];
  });
}

async function currentDetails(handle: WorkflowHandle): Promise<string> {
  const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return metadata.currentDetails ?? '';
}

test('blue-green: each activity is summed up as its runbook step; the details show the phase and the open gate', async () => {
  const world = createWorld({
    application: 'shop',
    modules: ['Catalog', 'Cart'],
    liveColor: 'blue',
    liveVersion: '1.0.0',
  });
  const spec = blueGreenSpec({ strategy: { approval: { mode: 'required', timeout: '1d' } } });
  await harness.run(
    { workflowType: 'blueGreenDeployment', input: { spec }, world, taskQueue: 'console-bg', workflowId: 'console-bg' },
    async ({ handle, waitForPhase, outcome }) => {
      await waitForPhase('AwaitingApproval');
      const waiting = await currentDetails(handle);
      expect(waiting).toContain('- **Phase:** AwaitingApproval');
      expect(waiting).toMatch(/- \*\*Gate:\*\* waiting for approval until \S+, then rollback/);
      expect(waiting).toContain('- **Traffic:** blue (1.0.0); target green (2.0.0)');

      // Rejected: the undo runs, and its activities say so.
      await handle.signal(rejectSignal, { by: 'alice', reason: 'not today' });
      const { result } = await outcome();
      expect(result.outcome).toBe('rolled-back');
      const activities = await scheduled(handle);
      expect(activities).toContainEqual(['discoverLiveSets', 'discover live version']);
      expect(activities.some(([, s]) => s?.startsWith('undo: retire green'))).toBe(true);
      // Outside a step or an undo there is nothing to name; everything else is named.
      const unnamed = activities.filter(([, s]) => s === undefined).map(([t]) => t);
      expect(unnamed).toEqual([]);
      const done = await currentDetails(handle);
      expect(done).toContain('- **Phase:** RolledBack');
      expect(done).toContain('- **Gate:** rejected by alice');
    },
  );
});

test('blue-green approved: the switch is summed up as "switch Catalog, Cart to green"', async () => {
  const world = createWorld({
    application: 'shop',
    modules: ['Catalog', 'Cart'],
    liveColor: 'blue',
    liveVersion: '1.0.0',
  });
  await harness.run(
    {
      workflowType: 'blueGreenDeployment',
      input: { spec: blueGreenSpec() },
      world,
      taskQueue: 'console-bg-auto',
      workflowId: 'console-bg-auto',
    },
    async ({ handle, outcome }) => {
      expect((await outcome()).result.outcome).toBe('succeeded');
      const activities = await scheduled(handle);
      expect(activities).toContainEqual(['switchTraffic', 'switch Catalog, Cart to green']);
      expect(activities.filter(([, s]) => s === undefined)).toEqual([]);
      const details = await currentDetails(handle);
      expect(details).toContain('- **Phase:** Succeeded');
      expect(details).toContain('- **Outcome:** succeeded');
    },
  );
});

test('canary: the details show the step and the weight while it pauses', async () => {
  const world = createWorld({
    application: 'shop',
    modules: ['Catalog', 'Cart'],
    liveColor: 'blue',
    liveVersion: '1.0.0',
  });
  world.activities.measureSplit = async (input): Promise<SplitMeasurement> => ({
    weight: input.weight,
    status: 'measured',
    requests: 100,
    canary: input.weight,
    stable: 100 - input.weight,
    other: 0,
    share: input.weight,
    tolerance: 2,
    withinTolerance: true,
    detail: `${input.weight}% of 100 answers from ${input.canaryVersion}`,
  });
  const spec = canarySpec({ strategy: { steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 100 }] } });
  await harness.run(
    {
      workflowType: 'canaryDeployment',
      input: { spec },
      world,
      taskQueue: 'console-canary',
      workflowId: 'console-canary',
    },
    async ({ handle, waitForPhase }) => {
      await waitForPhase('Paused');
      const details = await currentDetails(handle);
      expect(details).toContain('- **Phase:** Paused');
      expect(details).toMatch(/- \*\*Canary:\*\* step 2\/3 .*weight 20 %/);
      expect(details).toMatch(/- \*\*Gate:\*\* waiting for approval/);
      const activities = await scheduled(handle);
      expect(activities.length).toBeGreaterThan(0);
      expect(activities.filter(([, s]) => s === undefined)).toEqual([]);
    },
  );
});

test('rolling: the details show the batch and its plan', async () => {
  await withRolling(
    harness,
    {},
    { strategy: { steps: [{ afterBatch: 1, pause: { approval: true } }] } },
    async (run) => {
      await run.waitForPhase('AwaitingApproval');
      const details = await currentDetails(run.handle);
      expect(details).toContain('- **Phase:** AwaitingApproval');
      expect(details).toMatch(/- \*\*Gate:\*\* waiting for approval/);
      expect(details).toMatch(/- \*\*Rolling:\*\* batch 1\/2, /);
      expect(details).toMatch(/- \*\*Now:\*\* batch 1\/2: take out \d+, launch \d+/);
      const activities = await scheduled(run.handle);
      expect(activities.filter(([, s]) => s === undefined)).toEqual([]);
    },
  );
});
