/**
 * Payload sizes at the spec's limits, read from real histories on the time-skipping test server: the largest spec
 * the schema accepts (SPEC_LIMITS: 250 modules of 100 characters, 10,000 replicas, the spec at 64 KiB), run through
 * blue-green and a rolling update that continues as new at every batch boundary. Every workflow input, activity
 * input and result, continue-as-new input and workflow result is measured against Temporal's 512 KB warning.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { SPEC_LIMITS, validateSpec } from '../../workflows/spec';
import type { DeploymentResult, RollingInput } from '../../workflows/types';
import { censusOfRun, formatCensus, PAYLOAD_ERROR_BYTES, PAYLOAD_WARN_BYTES, startedInput } from '../support/payloads';
import type { PayloadCensus } from '../support/payloads';
import { largestSpec } from '../support/specs';
import { createWorld } from './fake-activities';
import { sleep, useWorkflowHarness } from './harness';
import { createRollingWorld } from './rolling-world';

const harness = useWorkflowHarness();
const REPLICAS = Number(process.env.SIZES_REPLICAS ?? 10_000);

/** Waits for the last run of `handle`'s workflow id to close; returns every run seen on the way (first to last). */
async function runsUntilClosed(handle: WorkflowHandle): Promise<{ runIds: string[]; result: DeploymentResult }> {
  const { client } = harness.env;
  const runIds: string[] = [];
  for (;;) {
    const latest = await client.workflow.getHandle(handle.workflowId).describe();
    if (!runIds.includes(latest.runId)) runIds.push(latest.runId);
    if (latest.status.name !== 'RUNNING' && latest.status.name !== 'CONTINUED_AS_NEW') {
      const result = (await client.workflow.getHandle(handle.workflowId, latest.runId).result()) as DeploymentResult;
      return { runIds, result };
    }
    await sleep(50);
  }
}

async function censusOfRuns(handle: WorkflowHandle, runIds: string[]): Promise<PayloadCensus> {
  const census: PayloadCensus = new Map();
  const { address, namespace } = harness.env;
  for (const runId of runIds) await censusOfRun(address, namespace ?? 'default', handle.workflowId, runId, census);
  return census;
}

const largest = (census: PayloadCensus) => Math.max(...census.values());
const overWarning = (census: PayloadCensus) =>
  [...census]
    .filter(([, bytes]) => bytes >= PAYLOAD_WARN_BYTES)
    .map(([what]) => what)
    .sort();

/**
 * What a 10,000-replica rolling update carries over 512 KB: nothing. The bounded path (rolling-bounded-payloads)
 * carries counts per replica set and set names; the activities resolve the replicas themselves.
 */
const ROLLING_OVER_WARNING: string[] = [];

/** The input of a run (its started event), decoded. */
async function lastRunInput(workflowId: string, runId: string): Promise<RollingInput> {
  const { address, namespace } = harness.env;
  const [input] = await startedInput(address, namespace ?? 'default', workflowId, runId);
  return input as RollingInput;
}

/** Replicas a carried book tracks as serving (any shape: counted per set, old/new lists, or from/to lists). */
function trackedReplicas(book: NonNullable<RollingInput['resume']>['book'] | undefined): number {
  if (!book) return 0;
  if ('shape' in book) return [...book.old, ...book.new].reduce((n, g) => n + g.count, 0);
  return 'from' in book ? book.from.length + book.to.length : book.old.length + book.new.length;
}

/** JSON bytes of the parts of a continued run's input. */
function partSizes(input: RollingInput) {
  const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v ?? null));
  return {
    total: bytes(input),
    spec: bytes(input.spec),
    status: bytes(input.resume?.status),
    context: bytes(input.resume?.context),
    book: bytes(input.resume?.book),
    perTrackedReplica: Math.round(bytes(input.resume?.book) / (trackedReplicas(input.resume?.book) || 1)),
  };
}

describe('payload sizes at the spec limits', () => {
  test('the largest accepted spec is just under its limit; one byte more in any part is refused naming the part', () => {
    const spec = largestSpec({ type: 'blue-green' });
    const result = validateSpec(spec);
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    const bytes = Buffer.byteLength(JSON.stringify(result.spec));
    expect(bytes).toBeLessThanOrEqual(SPEC_LIMITS.specBytes);
    expect(bytes).toBeGreaterThan(SPEC_LIMITS.specBytes - 1024);

    const over = validateSpec({
      ...spec,
      platform: { ...spec.platform, command: [...spec.platform.command, 'x'.repeat(100)] },
    });
    expect(over.ok).toBe(false);
    if (!over.ok) expect(over.issues).toEqual([{ field: 'platform', message: expect.stringMatching(/64 KiB limit/) }]);
    process.stdout.write(`largest accepted spec: ${bytes.toLocaleString('en-US')} B as JSON\n`);
  });

  test('blue-green at the limits (module by module, preview, 10,000 replicas live and new): every payload under 512 KB (replica sets by name and counts)', async () => {
    const spec = largestSpec({
      type: 'blue-green',
      switchMode: 'module-by-module',
      preview: { enabled: true },
      rollbackWindow: '0s',
    });
    const world = createWorld({
      application: spec.application,
      modules: spec.modules,
      liveColor: 'blue',
      liveVersion: '1.0.0',
      // Blue as large as green: discovery summarises it, the drain and the retire go by its name.
      liveReplicas: spec.replicas,
    });
    await harness.run(
      {
        workflowType: 'blueGreenDeployment',
        input: { spec },
        world,
        taskQueue: 'sizes-bg',
        workflowId: 'deploy-sizes-bg',
      },
      async ({ handle }) => {
        const { runIds, result } = await runsUntilClosed(handle);
        expect(result.outcome).toBe('succeeded');
        const census = await censusOfRuns(handle, runIds);
        process.stdout.write(
          `blue-green, ${spec.modules.length} modules, ${spec.replicas} replicas:\n${formatCensus(census)}\n`,
        );
        expect(largest(census)).toBeLessThan(PAYLOAD_ERROR_BYTES);
        // Replica sets travel by name and counts (patch blue-green-bounded-payloads): nothing grows with the replicas.
        expect(overWarning(census)).toEqual([]);
        expect(census.get('activity result: scaleUpReplicaSet')).toBeLessThan(1024);
        expect(census.get('activity result: awaitReplicaSetHealthy')).toBeLessThan(1024);
        expect(census.has('activity result: provisionReplicaSet')).toBe(false);
        expect(census.has('activity result: awaitHealthy')).toBe(false);
      },
    );
  }, 120_000);

  test('rolling update of 10,000 replicas continuing as new between batches: every payload under 512 KB, the carry-over measured', async () => {
    const steps = Array.from({ length: SPEC_LIMITS.steps }, (_, i) => ({
      afterBatch: i + 1,
      pause: { duration: '1s' },
    }));
    const spec = { ...largestSpec({ type: 'rolling', drainTimeout: '1s', steps }), replicas: REPLICAS };
    const world = createRollingWorld({
      application: spec.application,
      modules: spec.modules,
      live: 'rolling',
      liveReplicas: REPLICAS,
    });
    const input = { spec, maxHistoryEvents: 100 } as unknown as RollingInput;
    await harness.run(
      {
        workflowType: 'rollingUpdateDeployment',
        input,
        world,
        taskQueue: 'sizes-rolling',
        workflowId: 'deploy-sizes-rolling',
      },
      async ({ handle }) => {
        const { runIds, result } = await runsUntilClosed(handle);
        expect(result.outcome).toBe('succeeded');
        expect(world.alive()).toHaveLength(spec.replicas);
        const census = await censusOfRuns(handle, runIds);
        process.stdout.write(
          `rolling, ${spec.modules.length} modules, ${spec.replicas} replicas, ${runIds.length} runs seen:\n${formatCensus(census)}\n`,
        );
        expect(largest(census)).toBeLessThan(PAYLOAD_ERROR_BYTES);
        expect(overWarning(census)).toEqual(ROLLING_OVER_WARNING);
        process.stdout.write(`largest rolling payload: ${largest(census).toLocaleString('en-US')} B\n`);
        const carry = await lastRunInput(handle.workflowId, runIds.at(-1) as string);
        const parts = partSizes(carry);
        process.stdout.write(`continue-as-new carry-over at ${REPLICAS} replicas: ${JSON.stringify(parts)}\n`);
        expect(parts.book + parts.status + parts.context + parts.spec).toBeLessThanOrEqual(parts.total);
        // The book is counts per replica set: a few hundred bytes, whatever the replica count.
        expect(carry.resume?.book).toHaveProperty('shape', 'counts');
        expect(parts.book).toBeLessThan(1024);
      },
    );
  }, 300_000);
});
