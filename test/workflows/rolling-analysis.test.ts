/**
 * A rolling update's analysis after a batch (`steps[].analysis`, workflows/rolling/analysis.ts) with stubbed
 * activities on the time-skipping server: a pass goes on, a failure rolls back within the bounds, inconclusive and
 * too few samples wait for a person (or act by policy), an abort in the middle of the analysis rolls back, and a run
 * continued as new at the gate that follows does not measure again.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Measurement, MeasurementPhase } from '../../workflows/analysis/types';
import { abortSignal, approveSignal } from '../../workflows/messages';
import { analysisMetric } from '../support/specs';
import type { SpecOverrides } from '../support/specs';
import { useWorkflowHarness } from './harness';
import type { Run } from './harness';
import { expectDefaultBounds, expectOldVersionBack, newIds, withRun } from './rolling-run';
import type { RollingWorld } from './rolling-world';

const harness = useWorkflowHarness();

type Scripted = MeasurementPhase | 'error';

/** Measurements in order (the last one repeats); what each was asked is kept. */
function scripted(world: RollingWorld, phases: Scripted[], asked: { canary: string; stable: string }[]): void {
  let i = 0;
  world.activities.measureMetric = async (input) => {
    const phase = phases[Math.min(i++, phases.length - 1)] as Scripted;
    asked.push({ canary: input.args.canary ?? '', stable: input.args.stable ?? '' });
    if (phase === 'error') {
      throw ApplicationFailure.create({ type: 'ProviderUnreachable', message: 'prometheus down', nonRetryable: true });
    }
    const m: Measurement = {
      metric: input.metric.name,
      provider: 'web',
      query: `GET errors of ${input.args.canary}`,
      value: phase === 'failed' ? 0.3 : 0.01,
      samples: phase === 'insufficient' ? 3 : 500,
      phase,
      message: `${phase} (${input.args.version} after ${input.args.stableVersion})`,
      measuredAt: new Date().toISOString(),
    };
    return m;
  };
}

function analysed(
  steps: Record<string, unknown>[],
  metric: Record<string, unknown> = {},
  insufficientSamples?: Record<string, unknown>,
): SpecOverrides {
  const provider = { web: { url: 'http://127.0.0.1:9/m', jsonPath: '$.e', samplesJsonPath: '$.n' } };
  return {
    strategy: { steps },
    analysis: {
      templates: { health: { metrics: [analysisMetric('error-rate', { provider, minSamples: 10, ...metric })] } },
      ...(insufficientSamples ? { insufficientSamples } : {}),
    },
  };
}

const afterBatch1 = [{ afterBatch: 1, analysis: { templates: ['health'] } }];

async function run(
  spec: SpecOverrides,
  phases: Scripted[],
  body: (run: Run<RollingWorld>, asked: { canary: string; stable: string }[]) => Promise<void>,
  maxHistoryEvents?: number,
  setUp: (world: RollingWorld) => void = () => undefined,
): Promise<void> {
  const asked: { canary: string; stable: string }[] = [];
  await withRun(
    harness,
    {},
    spec,
    async (r) => body(r, asked),
    { maxHistoryEvents },
    (world) => {
      scripted(world, phases, asked);
      setUp(world);
    },
  );
}

describe('rolling update with analysis after a batch', () => {
  test('passes: the update goes on; the ledger is in the status; the one backend is measured', async () => {
    const newAlive: number[] = [];
    const spy = (world: RollingWorld) => {
      const measure = world.activities.measureMetric;
      world.activities.measureMetric = async (input) => {
        newAlive.push(world.alive().filter((r) => r.version === '2.0.0').length);
        return measure(input);
      };
    };
    await run(
      analysed(afterBatch1),
      ['successful'],
      async ({ world, outcome }, asked) => {
        const { result } = await outcome();
        expect(result.outcome).toBe('succeeded');
        expect(world.alive().map((r) => r.id)).toEqual(newIds(4));
        expectDefaultBounds(world);
        const [record] = result.status.analyses ?? [];
        expect(record).toMatchObject({ label: 'after batch 1', outcome: 'successful', templates: ['health'] });
        expect(record?.metrics[0]?.counts.successful).toBe(2);
        expect(asked).toEqual([
          { canary: 'shop-rolling', stable: 'shop-rolling' },
          { canary: 'shop-rolling', stable: 'shop-rolling' },
        ]);
        // Measured once batch 1 served: 2 of the 4 replicas alive were new.
        expect(newAlive).toEqual([2, 2]);
      },
      undefined,
      spy,
    );
  });

  test('a failing metric rolls the first batch back within the bounds, saying why', async () => {
    await run(analysed(afterBatch1), ['failed'], async ({ world, outcome }) => {
      const { result, failureType } = await outcome();
      expect(failureType).toBe('DeploymentRolledBack');
      expect(result.reason).toMatch(/^analysis after batch 1\/2 failed: .*error-rate/);
      expect(result.status.analyses?.[0]?.outcome).toBe('failed');
      expectOldVersionBack(world);
      expectDefaultBounds(world);
    });
  });

  test('errors past consecutiveErrorLimit fail the analysis and roll back', async () => {
    await run(analysed(afterBatch1, { consecutiveErrorLimit: 2 }), ['error'], async ({ world, outcome }) => {
      const { result } = await outcome();
      expect(result.outcome).toBe('rolled-back');
      expect(result.reason).toMatch(/analysis after batch 1\/2 failed/);
      expect(result.status.analyses?.[0]?.metrics[0]?.counts.error).toBeGreaterThanOrEqual(3);
      expectOldVersionBack(world);
    });
  });

  test('inconclusive: the update waits for a person (even with approval automatic); approve goes on', async () => {
    const spec = analysed(afterBatch1, { failureCondition: 'result > 0.5' });
    (spec.strategy as Record<string, unknown>).approval = { mode: 'automatic' };
    await run(spec, ['inconclusive'], async ({ handle, outcome, waitForPhase }) => {
      const waiting = await waitForPhase('AwaitingApproval');
      expect(waiting.approval.pending).toBe(true);
      expect(waiting.events.map((e) => e.message).join('\n')).toMatch(
        /analysis after batch 1\/2 inconclusive .*: the update waits for a person/,
      );
      await handle.signal(approveSignal, { by: 'alice', version: '2.0.0' });
      const { result } = await outcome();
      expect(result.outcome).toBe('succeeded');
      expect(result.status.approval.approved?.by).toBe('alice');
    });
  });

  test('inconclusive and nobody decides: the approval timeout default (rollback) applies', async () => {
    const spec = analysed(afterBatch1, { failureCondition: 'result > 0.5' });
    await run(spec, ['inconclusive'], async ({ world, outcome }) => {
      const { result } = await outcome();
      expect(result.outcome).toBe('rolled-back');
      expect(result.reason).toMatch(/approval timed out at the pause after batch 1\/2/);
      expectOldVersionBack(world);
    });
  });

  test('too few samples with policy fail: extends up to the deadline, then rolls back', async () => {
    const spec = analysed(afterBatch1, {}, { deadline: '1m', policy: 'fail' });
    await run(spec, ['insufficient'], async ({ world, outcome }) => {
      const { result } = await outcome();
      expect(result.outcome).toBe('rolled-back');
      expect(result.reason).toMatch(
        /^analysis after batch 1\/2: error-rate: too few requests reached the canary by the deadline/,
      );
      expect(result.status.analyses?.[0]?.metrics[0]?.counts.insufficient).toBeGreaterThan(2);
      expectOldVersionBack(world);
    });
  });

  test('too few samples with policy pass: the update goes on, and the events say so', async () => {
    const spec = analysed(afterBatch1, {}, { deadline: '1m', policy: 'pass' });
    await run(spec, ['insufficient'], async ({ outcome }) => {
      const { result } = await outcome();
      expect(result.outcome).toBe('succeeded');
      expect(result.status.events.map((e) => e.message).join('\n')).toMatch(/passed by policy/);
    });
  });

  test('an abort in the middle of the analysis rolls back', async () => {
    await run(analysed(afterBatch1, { count: 5, interval: '1h' }), ['successful'], async (r, asked) => {
      await r.waitFor(() => asked.length >= 1, 'a first measurement');
      await r.handle.signal(abortSignal, { by: 'erin', reason: 'stop' });
      const { result } = await r.outcome();
      expect(result.outcome).toBe('rolled-back');
      expect(result.reason).toBe('aborted by erin: stop');
      expect(asked.length).toBeLessThan(5);
      expectOldVersionBack(r.world);
      expectDefaultBounds(r.world);
    });
  });

  test('analysis then an approval pause; continued as new at the gate, the next run does not measure again', async () => {
    const steps = [{ afterBatch: 1, analysis: { templates: ['health'] }, pause: { approval: true } }];
    await run(
      analysed(steps),
      ['successful'],
      async ({ handle, outcome, waitFor }, asked) => {
        await waitFor((s) => s.phase === 'AwaitingApproval', 'the approval');
        const firstRun = (await handle.describe()).runId;
        while ((await handle.describe()).historyLength < 150) {
          await handle.signal(approveSignal, { by: 'mallory', version: '9.9.9' });
        }
        await waitFor((s) => s.phase === 'AwaitingApproval' && (s.rolling?.run ?? 0) >= 2, 'run 2 waiting');
        expect((await handle.describe()).runId).not.toBe(firstRun);
        await handle.signal(approveSignal, { by: 'alice', version: '2.0.0' });
        const { result } = await outcome();
        expect(result.outcome).toBe('succeeded');
        expect(asked).toHaveLength(2);
        expect(result.status.analyses?.map((a) => a.outcome)).toEqual(['successful']);
      },
      150,
    );
  });
});
