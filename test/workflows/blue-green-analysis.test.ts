/**
 * Blue-green with the canary's analysis, stubbed activities on the time-skipping server: before promotion against
 * green (a failure rolls back; an inconclusive result makes an automatic gate wait for a person) and after the
 * switch while blue is kept (a failure switches back).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Measurement, MeasurementPhase } from '../../workflows/analysis/types';
import { promoteUpdate } from '../../workflows/messages';
import { analysisMetric, blueGreenSpec } from '../support/specs';
import { createWorld } from './fake-activities';
import type { World } from './fake-activities';
import { useWorkflowHarness } from './harness';
import type { Run } from './harness';

const harness = useWorkflowHarness();

/** Blue serves 1.0.0; every measurement of the analysis answers `phase` (and names the backend it measured). */
function world(phases: MeasurementPhase[]): World & { measured: string[] } {
  const w = createWorld({ application: 'shop', modules: ['Catalog', 'Cart'], liveColor: 'blue', liveVersion: '1.0.0' });
  const measured: string[] = [];
  w.activities.measureMetric = async (input) => {
    const phase = phases[Math.min(measured.length, phases.length - 1)];
    if (!phase) throw ApplicationFailure.create({ message: 'no phase scripted', nonRetryable: true });
    measured.push(`${input.args.canary} vs ${input.args.stable}`);
    const m: Measurement = {
      metric: input.metric.name,
      provider: 'web',
      query: 'GET /stats',
      value: phase === 'failed' ? 0.4 : 0.01,
      phase,
      message: phase,
      measuredAt: new Date().toISOString(),
    };
    return m;
  };
  return Object.assign(w, { measured });
}

const analysis = {
  templates: { health: { metrics: [analysisMetric('error-rate', { failureCondition: 'result > 0.2', count: 2 })] } },
};

async function withRun(
  w: World & { measured: string[] },
  strategy: Record<string, unknown>,
  body: (run: Run<World & { measured: string[] }>) => Promise<void>,
): Promise<void> {
  const spec = { ...blueGreenSpec({ strategy: { rollbackWindow: '1m', ...strategy } }), analysis };
  await harness.run(
    {
      workflowType: 'blueGreenDeployment',
      input: { spec },
      world: w,
      taskQueue: 'bg-analysis',
      workflowId: 'deploy-test-shop',
    },
    body,
  );
}

describe('blue-green with analysis', () => {
  test('pre- and post-promotion analyses pass: promoted, both ledgers in the status, green measured against blue', async () => {
    const w = world(['successful']);
    const both = { prePromotionAnalysis: { templates: ['health'] }, postPromotionAnalysis: { templates: ['health'] } };
    await withRun(w, both, async ({ outcome }) => {
      const { result } = await outcome();
      expect(result.outcome).toBe('succeeded');
      expect(result.status.analyses?.map((a) => [a.label, a.outcome])).toEqual([
        ['pre-promotion', 'successful'],
        ['post-promotion', 'successful'],
      ]);
      expect(w.measured).toEqual(Array(4).fill('shop-green vs shop-blue'));
    });
  });

  test('a failing pre-promotion analysis rolls back before any traffic moves', async () => {
    const w = world(['failed']);
    await withRun(w, { prePromotionAnalysis: { templates: ['health'] } }, async ({ outcome }) => {
      const { result, failureType } = await outcome();
      expect(failureType).toBe('DeploymentRolledBack');
      expect(result.reason).toMatch(/^pre-promotion analysis failed: error-rate failed/);
      expect(w.called('switchTraffic')).toBe(0);
      expect(Object.keys(w.sets)).toEqual(['shop-1.0.0-blue']);
    });
  });

  test('an inconclusive pre-promotion analysis makes the automatic gate wait for a person', async () => {
    const w = world(['inconclusive']);
    const strategy = { prePromotionAnalysis: { templates: ['health'] }, approval: { mode: 'automatic' } };
    const spec = { ...blueGreenSpec({ strategy: { rollbackWindow: '0s', ...strategy } }), analysis };
    const metric = analysisMetric('error-rate', {
      successCondition: 'result < 0.05',
      failureCondition: 'result > 0.2',
      count: 1,
    });
    spec.analysis = { templates: { health: { metrics: [metric] } } };
    await harness.run(
      {
        workflowType: 'blueGreenDeployment',
        input: { spec },
        world: w,
        taskQueue: 'bg-analysis',
        workflowId: 'deploy-test-shop',
      },
      async ({ handle, outcome, waitFor }) => {
        await waitFor((s) => s.approval.pending, 'the gate');
        await handle.executeUpdate(promoteUpdate, { args: [{ by: 'erin', version: '2.0.0' }] });
        const { result } = await outcome();
        expect(result.outcome).toBe('succeeded');
        expect(result.status.approval.approved?.by).toBe('erin');
      },
    );
  });

  test('a failing post-promotion analysis switches back inside the rollback window', async () => {
    const w = world(['successful', 'failed']);
    await withRun(w, { postPromotionAnalysis: { templates: ['health'] } }, async ({ outcome }) => {
      const { result, failureType } = await outcome();
      expect(failureType).toBe('DeploymentRolledBack');
      expect(result.reason).toMatch(/^post-promotion analysis failed/);
      expect(w.rules.Catalog?.backends).toEqual([{ backend: 'shop-blue', weight: 100 }]);
      expect(result.liveColor).toBe('blue');
    });
  });
});
