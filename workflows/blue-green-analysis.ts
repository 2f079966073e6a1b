/**
 * Blue-green's analysis, with the canary's runner (workflows/analysis/run.ts): before promotion against green (its
 * backend is `{{args.canary}}`: the preview's requests, or none), and after the switch while blue is kept (a failure
 * switches back). The records go to `status.analyses`; `cutover status` shows them like a canary's.
 */
import { patched } from '@temporalio/workflow';
import type { Color } from '../activities/ports';
import { backendName } from '../activities/ports';
import { runAnalysis } from './analysis/run';
import type { AnalysisVerdict } from './analysis/run';
import type { BlueGreenSpec } from './spec';
import type { DeploymentTracker } from './tracker';
import type { LiveSets, LiveState } from './types';

/** Runs that analyse (a spec with pre- or post-promotion analysis) mark it once; no earlier run could have. */
export const BLUE_GREEN_ANALYSIS_PATCH = 'blue-green-analysis';

export type PromotionStage = 'pre-promotion' | 'post-promotion';

/** The analysis of `stage` if the spec has one (undefined otherwise): green against what was live. */
export async function promotionAnalysis(
  stage: PromotionStage,
  spec: BlueGreenSpec,
  tracker: DeploymentTracker,
  green: Color,
  live: LiveState | LiveSets | undefined,
): Promise<AnalysisVerdict | undefined> {
  const request = stage === 'pre-promotion' ? spec.strategy.prePromotionAnalysis : spec.strategy.postPromotionAnalysis;
  if (!request || !patched(BLUE_GREEN_ANALYSIS_PATCH)) return undefined;
  const status = tracker.status;
  status.analyses ??= [];
  const records = status.analyses;
  return runAnalysis(
    {
      spec,
      tracker,
      records,
      dryRunBy: new Map(),
      args: () => ({
        application: spec.application,
        version: spec.version,
        stableVersion: live?.liveVersion ?? '',
        canary: backendName(spec.application, green),
        stable: live?.liveColor ? backendName(spec.application, live.liveColor) : '',
        modules: spec.modules.join(','),
      }),
    },
    { label: stage, ...request },
  );
}

/** Whether a verdict lets the deployment go on by itself (too few samples only when the policy says pass). */
export function passed(spec: BlueGreenSpec, verdict: AnalysisVerdict): boolean {
  if (verdict.outcome === 'successful' || verdict.outcome === 'stopped') return true;
  return verdict.outcome === 'insufficient' && spec.analysis?.insufficientSamples.policy === 'pass';
}
