/**
 * The canary workflow with stubbed activities on the time-skipping test server: every step type, each failure path
 * of the analysis (a metric fails; inconclusive -> gate -> its timeout's default; errors past the limit; too few
 * samples -> extension -> policy), a split that is applied but not effective, abort at a pause, background analysis,
 * and a metric switched to dry run by a signal.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Measurement, MeasurementPhase } from '../../workflows/analysis/types';
import { abortSignal, metricDryRunSignal, promoteUpdate } from '../../workflows/messages';
import type { SplitMeasurement } from '../../activities/canary';
import { analysisMetric, canarySpec } from '../support/specs';
import { createWorld } from './fake-activities';
import type { World } from './fake-activities';
import { useWorkflowHarness } from './harness';
import type { Run } from './harness';

const harness = useWorkflowHarness();

type Scripted = MeasurementPhase | 'error';

interface CanaryWorld extends World {
  measured: { metric: string; phase: Scripted }[];
  splits: number[];
}

/** A world where blue serves 1.0.0; `script` gives each metric's measurements in order (the last one repeats). */
function canaryWorld(script: Record<string, Scripted[]>, split: (weight: number) => number = (w) => w): CanaryWorld {
  const world = createWorld({
    application: 'shop',
    modules: ['Catalog', 'Cart'],
    liveColor: 'blue',
    liveVersion: '1.0.0',
  });
  const measured: CanaryWorld['measured'] = [];
  const splits: number[] = [];
  const taken: Record<string, number> = {};
  world.activities.measureMetric = async (input) => {
    const name = input.metric.name;
    const phases = script[name] ?? ['successful'];
    const i = taken[name] ?? 0;
    taken[name] = i + 1;
    const phase = phases[Math.min(i, phases.length - 1)] as Scripted;
    measured.push({ metric: name, phase });
    if (phase === 'error') {
      throw ApplicationFailure.create({ type: 'ProviderUnreachable', message: 'prometheus down', nonRetryable: true });
    }
    const m: Measurement = {
      metric: name,
      provider: 'web',
      query: `GET ${input.args.canary}`,
      value: phase === 'failed' ? 0.3 : 0.01,
      samples: phase === 'insufficient' ? 3 : 500,
      phase,
      message: `${phase} (${input.args.canary} vs ${input.args.stable})`,
      measuredAt: new Date().toISOString(),
    };
    return m;
  };
  world.activities.measureSplit = async (input): Promise<SplitMeasurement> => {
    const share = split(input.weight);
    splits.push(input.weight);
    const ok = share === input.weight;
    return {
      weight: input.weight,
      status: 'measured',
      requests: 1000,
      canary: share * 10,
      stable: 1000 - share * 10,
      other: 0,
      share,
      tolerance: 2,
      withinTolerance: ok,
      detail: `${share}% of 1000 answers from ${input.canaryVersion} (weight ${input.weight}%)`,
    };
  };
  return Object.assign(world, { measured, splits });
}

async function withCanary(
  world: CanaryWorld,
  spec: ReturnType<typeof canarySpec>,
  body: (run: Run<CanaryWorld>) => Promise<void>,
  maxHistoryEvents?: number,
): Promise<void> {
  await harness.run(
    {
      workflowType: 'canaryDeployment',
      input: { spec, maxHistoryEvents },
      world,
      taskQueue: 'canary-unit',
      workflowId: 'deploy-test-shop',
    },
    body,
  );
}

/** A provider that reports how many requests reached the canary (what minSamples needs). */
const counted = { web: { url: 'http://127.0.0.1:9/metrics', jsonPath: '$.errorRate', samplesJsonPath: '$.requests' } };

const analysis = (metrics: Record<string, unknown>[], insufficientSamples?: Record<string, unknown>) => ({
  templates: { health: { metrics } },
  ...(insufficientSamples ? { insufficientSamples } : {}),
});

describe('canary workflow', () => {
  test('setWeight, pause, analysis, setWeight, pause until promoted: promoted with every split measured', async () => {
    const world = canaryWorld({ 'error-rate': ['successful'] });
    // Short waits: the status is polled in real time until the last pause (time skips only while a result is awaited).
    const spec = canarySpec({
      analysis: analysis([analysisMetric('error-rate', { interval: '1s' })]),
      strategy: {
        steps: [
          { setWeight: 10 },
          { pause: { duration: '1s' } },
          { analysis: { templates: ['health'] } },
          { setWeight: 50 },
          { pause: {} },
        ],
      },
    });
    await withCanary(world, spec, async ({ handle, outcome, waitFor }) => {
      const paused = await waitFor((s) => s.canary?.step === 5 && s.approval.pending, 'the pause until promoted');
      expect(paused.phase).toBe('Paused');
      expect(paused.canary?.weight).toBe(50);
      expect(world.rules.Catalog?.backends).toEqual([
        { backend: 'shop-blue', weight: 50 },
        { backend: 'shop-green', weight: 50 },
      ]);
      await handle.executeUpdate(promoteUpdate, { args: [{ by: 'alice', version: '2.0.0' }] });
      const { result, failed } = await outcome();
      expect(failed).toBe(false);
      expect(result.outcome).toBe('succeeded');
      expect(result.liveColor).toBe('green');
      expect(world.rules.Catalog?.backends).toEqual([{ backend: 'shop-green', weight: 100 }]);
      expect(world.splits).toEqual([10, 50, 100]);
      expect(result.status.canary?.splits.map((s) => s.weight)).toEqual([10, 50, 100]);
      const ledger = result.status.canary?.analyses[0];
      expect(ledger).toMatchObject({ label: 'step 3', outcome: 'successful' });
      expect(ledger?.metrics[0]?.counts.successful).toBe(2);
      expect(ledger?.metrics[0]?.measurements[0]?.query).toBe('GET shop-green');
      // The stable version kept every replica until the canary took every request, then was retired.
      expect(Object.keys(world.sets)).toEqual(['shop-2-0-0-green']);
      expect(world.backends['shop-blue']).toBeUndefined();
      expect(result.status.approval.approved?.by).toBe('alice');
    });
  });

  test('a failing metric rolls back at its analysis: traffic back to stable (verified), canary retired', async () => {
    const world = canaryWorld({ 'error-rate': ['failed'] });
    const spec = canarySpec({
      analysis: analysis([analysisMetric('error-rate')]),
      strategy: { steps: [{ setWeight: 20 }, { analysis: { templates: ['health'] } }, { setWeight: 100 }] },
    });
    await withCanary(world, spec, async ({ outcome }) => {
      const { result, failed, failureType } = await outcome();
      expect(failed).toBe(true);
      expect(failureType).toBe('DeploymentRolledBack');
      expect(result.reason).toMatch(/analysis step 2 failed: error-rate/);
      expect(world.rules.Catalog?.backends).toEqual([{ backend: 'shop-blue', weight: 100 }]);
      expect(Object.keys(world.sets)).toEqual(['shop-1.0.0-blue']);
      expect(world.backends['shop-green']).toBeUndefined();
      const verifications = world.calls.filter((c) => c.name === 'verifyTraffic');
      expect((verifications.at(-1)?.input as { version: string }).version).toBe('1.0.0');
      expect(world.splits).toEqual([20]);
      expect(world.measured).toEqual([{ metric: 'error-rate', phase: 'failed' }]);
      expect(result.liveVersion).toBe('1.0.0');
    });
  });

  test('inconclusive: pauses at a gate; nobody decides, so its timeout default (rollback) applies', async () => {
    const world = canaryWorld({ latency: ['inconclusive'] });
    const spec = canarySpec({
      analysis: analysis([analysisMetric('latency', { failureCondition: 'result > 0.5', count: 1 })]),
      strategy: {
        steps: [{ setWeight: 10 }, { analysis: { templates: ['health'] } }, { setWeight: 100 }],
        inconclusive: { timeout: '1h', onTimeout: 'rollback' },
      },
    });
    await withCanary(world, spec, async ({ outcome, waitFor }) => {
      await waitFor((s) => s.approval.pending, 'the inconclusive gate');
      const { result, failureType } = await outcome();
      expect(failureType).toBe('DeploymentRolledBack');
      expect(result.reason).toMatch(/inconclusive and nobody decided/);
      expect(result.status.approval.timedOut).toBe(true);
    });
  });

  test('inconclusive, then promoted by a person at the gate: the canary goes on and is promoted', async () => {
    const world = canaryWorld({ latency: ['inconclusive'] });
    const spec = canarySpec({
      analysis: analysis([analysisMetric('latency', { failureCondition: 'result > 0.5', count: 1 })]),
      strategy: { steps: [{ setWeight: 10 }, { analysis: { templates: ['health'] } }, { setWeight: 100 }] },
    });
    await withCanary(world, spec, async ({ handle, outcome, waitFor }) => {
      await waitFor((s) => s.approval.pending, 'the inconclusive gate');
      await handle.executeUpdate(promoteUpdate, {
        args: [{ by: 'bob', version: '2.0.0', comment: 'latency is fine' }],
      });
      const { result } = await outcome();
      expect(result.outcome).toBe('succeeded');
      expect(result.status.approval.approved).toMatchObject({ by: 'bob', reason: 'latency is fine' });
    });
  });

  test('errors past consecutiveErrorLimit fail the analysis (an error alone is not a failure)', async () => {
    const world = canaryWorld({ 'error-rate': ['error', 'error', 'successful', 'error', 'error', 'error'] });
    const spec = canarySpec({
      analysis: analysis([analysisMetric('error-rate', { count: 5, consecutiveErrorLimit: 2 })]),
      strategy: { steps: [{ setWeight: 10 }, { analysis: { templates: ['health'] } }, { setWeight: 100 }] },
    });
    await withCanary(world, spec, async ({ outcome }) => {
      const { result, failureType } = await outcome();
      expect(failureType).toBe('DeploymentRolledBack');
      const metric = result.status.canary?.analyses[0]?.metrics[0];
      expect(metric).toMatchObject({ outcome: 'error' });
      expect(metric?.counts).toMatchObject({ error: 5, successful: 1 });
      expect(world.measured).toHaveLength(6);
    });
  });

  test('too few samples: the step extends up to the deadline, then applies the policy (fail)', async () => {
    const world = canaryWorld({ 'error-rate': ['insufficient'] });
    const spec = canarySpec({
      analysis: analysis([analysisMetric('error-rate', { minSamples: 100, count: 2, provider: counted })], {
        deadline: '1m',
        policy: 'fail',
      }),
      strategy: { steps: [{ setWeight: 10 }, { analysis: { templates: ['health'] } }, { setWeight: 100 }] },
    });
    await withCanary(world, spec, async ({ outcome }) => {
      const { result, failureType } = await outcome();
      expect(failureType).toBe('DeploymentRolledBack');
      expect(result.reason).toMatch(/too few requests reached the canary/);
      // 2 planned (10 s apart), extended by a minute: measured at 0, 10, ..., 70 s.
      expect(world.measured.length).toBeGreaterThan(2);
      expect(result.status.canary?.analyses[0]?.metrics[0]?.counts.insufficient).toBe(world.measured.length);
    });
  });

  test('too few samples with policy pass: the canary goes on, and the result says so', async () => {
    const world = canaryWorld({ 'error-rate': ['insufficient'] });
    const spec = canarySpec({
      analysis: analysis([analysisMetric('error-rate', { minSamples: 100, count: 1, provider: counted })], {
        deadline: '30s',
        policy: 'pass',
      }),
      strategy: { steps: [{ setWeight: 10 }, { analysis: { templates: ['health'] } }, { setWeight: 100 }] },
    });
    await withCanary(world, spec, async ({ outcome }) => {
      const { result } = await outcome();
      expect(result.outcome).toBe('succeeded');
      expect(result.status.events.some((e) => /passed by policy/.test(e.message))).toBe(true);
    });
  });

  test('a weight applied but not effective (the measured split differs): measured 3 times, then rolled back', async () => {
    const world = canaryWorld({}, (w) => (w === 25 ? 60 : w));
    const spec = canarySpec({
      strategy: { steps: [{ setWeight: 25 }, { pause: { duration: '1m' } }, { setWeight: 100 }] },
    });
    await withCanary(world, spec, async ({ outcome }) => {
      const { result, failureType } = await outcome();
      expect(failureType).toBe('DeploymentRolledBack');
      expect(result.reason).toMatch(/weight 25% was applied but not effective: 60%/);
      expect(world.splits).toEqual([25, 25, 25]);
      expect(world.rules.Catalog?.backends).toEqual([{ backend: 'shop-blue', weight: 100 }]);
    });
  });

  test('abort at a pause: traffic back to stable, the canary kept for abortScaleDownDelay, then retired', async () => {
    const world = canaryWorld({});
    const spec = canarySpec({
      strategy: { steps: [{ setWeight: 30 }, { pause: {} }], abortScaleDownDelay: '10m' },
    });
    await withCanary(world, spec, async ({ handle, outcome, waitFor }) => {
      await waitFor((s) => s.approval.pending, 'the pause');
      await handle.signal(abortSignal, { by: 'carol', reason: 'customers complain' });
      const { result, failureType } = await outcome();
      expect(failureType).toBe('DeploymentRolledBack');
      expect(result.reason).toBe('aborted by carol: customers complain');
      expect(world.rules.Catalog?.backends).toEqual([{ backend: 'shop-blue', weight: 100 }]);
      const names = world.calls.map((c) => c.name);
      expect(names.lastIndexOf('restoreRules')).toBeLessThan(names.lastIndexOf('retireReplicaSet'));
      expect(result.status.steps.map((s) => s.name)).toContain('undo: send every request back to the stable version');
    });
  });

  describe('abort at every step: traffic back to stable (verified), the canary retired', () => {
    /** Makes the `call`-th call of an activity wait until released (installed before the worker starts). */
    function holdCall(world: CanaryWorld, name: keyof CanaryWorld['activities'], call = 1) {
      let reached: () => void = () => undefined;
      let release: () => void = () => undefined;
      const reachedP = new Promise<void>((r) => (reached = r));
      const released = new Promise<void>((r) => (release = r));
      const activities = world.activities as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
      const original = activities[name] as (...a: unknown[]) => Promise<unknown>;
      let n = 0;
      activities[name] = async (...args: unknown[]) => {
        if (++n === call) {
          reached();
          await released;
        }
        return original(...args);
      };
      return { reached: reachedP, release };
    }

    const analysed = { analysis: { templates: ['health'] } };
    const cases: [string, Record<string, unknown>[], keyof CanaryWorld['activities'] | 'Paused'][] = [
      [
        'setCanaryScale (the canary replicas starting)',
        [{ setCanaryScale: { replicas: 1 } }],
        'awaitReplicaSetHealthy',
      ],
      ['setWeight (the rules changing)', [], 'switchTraffic'],
      ['setWeight (the split being measured)', [], 'measureSplit'],
      ['analysis (a measurement)', [analysed], 'measureMetric'],
      ['setHeaderRoute (the route being added)', [{ setHeaderRoute: {} }], 'setPreview'],
      ['pause with a duration', [{ pause: { duration: '1h' } }], 'Paused'],
    ];
    test.each(cases)('abort during %s', async (_what, before, hold) => {
      const world = canaryWorld({});
      const held = hold === 'Paused' ? undefined : holdCall(world, hold);
      const spec = canarySpec({
        analysis: analysis([analysisMetric('error-rate', { interval: '1s' })]),
        strategy: { steps: [{ setWeight: 20 }, ...before, { setWeight: 100 }] },
      });
      // What is held is the first call of its kind: setWeight 20's own switchTraffic and measureSplit, or the step
      // between setWeight 20 and setWeight 100.
      await withCanary(world, spec, async ({ handle, outcome, waitFor }) => {
        if (held) await held.reached;
        else await waitFor((s) => s.phase === 'Paused', 'the timed pause');
        await handle.signal(abortSignal, { by: 'erin', reason: 'stop' });
        await waitFor((s) => s.events.some((e) => /abort requested by erin/.test(e.message)), 'the abort');
        held?.release();
        const { result, failureType } = await outcome();
        expect(failureType).toBe('DeploymentRolledBack');
        expect(result.outcome).toBe('rolled-back');
        expect(result.reason).toBe('aborted by erin: stop');
        expect(world.rules.Catalog?.backends).toEqual([{ backend: 'shop-blue', weight: 100 }]);
        expect(world.rules.Cart?.backends).toEqual([{ backend: 'shop-blue', weight: 100 }]);
        expect(Object.keys(world.sets).filter((name) => name.includes('green'))).toEqual([]);
        expect(Object.keys(world.sets).filter((name) => name.includes('blue'))).toHaveLength(1);
        expect(world.splits).not.toContain(100);
      });
    });

    test('after the last setWeight is verified the canary is promoted: an abort then is ignored', async () => {
      const world = canaryWorld({});
      const held = holdCall(world, 'drainReplicaSets');
      const spec = canarySpec({ strategy: { steps: [{ setWeight: 20 }, { setWeight: 100 }] } });
      await withCanary(world, spec, async ({ handle, outcome, waitFor }) => {
        await held.reached;
        await handle.signal(abortSignal, { by: 'erin' });
        await waitFor((s) => s.events.some((e) => /abort from erin ignored/.test(e.message)), 'the refusal');
        held.release();
        const { result } = await outcome();
        expect(result.outcome).toBe('succeeded');
        expect(world.rules.Catalog?.backends).toEqual([{ backend: 'shop-green', weight: 100 }]);
      });
    });
  });

  test('background analysis fails the rollout at once, in the middle of a pause', async () => {
    const world = canaryWorld({ 'error-rate': ['successful', 'failed'] });
    const spec = canarySpec({
      analysis: analysis([analysisMetric('error-rate', { count: 0, interval: '30s' })]),
      strategy: {
        steps: [{ setWeight: 10 }, { pause: { duration: '1h' } }, { setWeight: 100 }],
        backgroundAnalysis: { templates: ['health'], startingStep: 1 },
      },
    });
    await withCanary(world, spec, async ({ outcome }) => {
      const { result, failureType } = await outcome();
      expect(failureType).toBe('DeploymentRolledBack');
      expect(result.reason).toMatch(/background analysis/);
      expect(result.status.canary?.analyses[0]).toMatchObject({ label: 'background', outcome: 'failed' });
      expect(world.splits).toEqual([10]);
    });
  });

  test('a metric switched to dry run by a signal is measured but no longer decides (who is recorded)', async () => {
    const world = canaryWorld({ 'error-rate': ['successful', 'failed', 'failed'] });
    const spec = canarySpec({
      analysis: analysis([analysisMetric('error-rate', { count: 3, interval: '1m' })]),
      strategy: { steps: [{ setWeight: 10 }, { analysis: { templates: ['health'] } }, { setWeight: 100 }] },
    });
    await withCanary(world, spec, async ({ handle, outcome, waitFor }) => {
      await waitFor((s) => (s.canary?.analyses[0]?.metrics[0]?.counts.successful ?? 0) === 1, 'the first measurement');
      await handle.signal(metricDryRunSignal, { metric: 'error-rate', by: 'dave', reason: 'known noisy' });
      const { result } = await outcome();
      expect(result.outcome).toBe('succeeded');
      // The failed measurement after the switch is shown, and decided nothing.
      expect(result.status.canary?.analyses[0]?.metrics[0]).toMatchObject({
        dryRun: true,
        dryRunBy: 'dave',
        outcome: 'failed',
      });
      expect(result.status.canary?.analyses[0]?.outcome).toBe('successful');
      expect(world.measured.map((m) => m.phase)).toEqual(['successful', 'failed']);
    });
  });

  test('nothing live on containers: refused before anything is launched', async () => {
    const world = canaryWorld({});
    const base = createWorld({ application: 'shop', modules: ['Catalog', 'Cart'], liveColor: null });
    world.activities.discoverLiveSets = base.activities.discoverLiveSets;
    await withCanary(world, canarySpec(), async ({ outcome }) => {
      const { result, failed } = await outcome();
      expect(failed).toBe(true);
      expect(result.reason).toMatch(/needs a version live on containers/);
      expect(world.called('scaleUpReplicaSet')).toBe(0);
    });
  });

  describe('continue-as-new keeps every run short', () => {
    test('in the middle of an analysis: the next run resumes it, nothing is measured twice', async () => {
      const world = canaryWorld({ 'error-rate': ['insufficient', 'successful'] });
      const spec = canarySpec({
        analysis: analysis([
          analysisMetric('error-rate', { count: 6, interval: '10s', minSamples: 10, provider: counted }),
        ]),
        strategy: { steps: [{ setWeight: 10 }, { analysis: { templates: ['health'] } }, { setWeight: 100 }] },
      });
      await withCanary(
        world,
        spec,
        async ({ outcome }) => {
          const { result } = await outcome();
          expect(result.outcome).toBe('succeeded');
          const c = result.status.canary;
          expect(c?.run).toBeGreaterThan(1);
          expect(c?.runEvents.every((n) => n <= 60 + 40)).toBe(true);
          expect(c?.analyses).toHaveLength(1);
          expect(c?.analyses[0]?.metrics[0]?.counts).toMatchObject({ successful: 6, insufficient: 1 });
          expect(world.measured).toHaveLength(7);
          expect(world.splits).toEqual([10, 100]);
        },
        60,
      );
    });

    test('during a long pause with background analysis; a failure after it still rolls everything back', async () => {
      const world = canaryWorld({ 'error-rate': [...Array<Scripted>(12).fill('successful'), 'failed'] });
      const spec = canarySpec({
        analysis: analysis([analysisMetric('error-rate', { count: 0, interval: '30s' })]),
        strategy: {
          steps: [{ setWeight: 20 }, { setHeaderRoute: {} }, { pause: { duration: '1h' } }, { setWeight: 100 }],
          backgroundAnalysis: { templates: ['health'], startingStep: 0 },
        },
      });
      await withCanary(
        world,
        spec,
        async ({ outcome }) => {
          const { result, failureType } = await outcome();
          expect(failureType).toBe('DeploymentRolledBack');
          expect(result.reason).toMatch(/background analysis/);
          expect(result.status.canary?.run).toBeGreaterThan(1);
          // The undos of the first run, rebuilt by the last: header route removed, traffic back, canary retired.
          expect(world.previews).toEqual({});
          expect(world.rules.Catalog?.backends).toEqual([{ backend: 'shop-blue', weight: 100 }]);
          expect(Object.keys(world.sets)).toEqual(['shop-1.0.0-blue']);
          expect(world.measured).toHaveLength(13);
        },
        60,
      );
    });

    test('between steps: a ten-step linear canary runs in several runs and is promoted', async () => {
      const world = canaryWorld({});
      const spec = canarySpec({ strategy: { preset: 'linear10PercentEvery1Minute', steps: undefined } });
      await withCanary(
        world,
        spec,
        async ({ outcome }) => {
          const { result } = await outcome();
          expect(result.outcome).toBe('succeeded');
          expect(result.status.canary?.run).toBeGreaterThan(1);
          expect(world.splits).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
          expect(result.status.canary?.splits.map((x) => x.weight)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
        },
        80,
      );
    });
  });
});
