/**
 * A rolling update's analysis after a batch (`steps[].analysis`): the canary's runner (workflows/analysis/run.ts)
 * against the application's one backend, run to a verdict before the step's pause. Old and new replicas share that
 * backend, so `{{args.canary}}` and `{{args.stable}}` name the same one and the metrics measure the mixed fleet.
 *
 * A failure (a metric failed, or its errors passed consecutiveErrorLimit) rolls back; inconclusive, or too few samples under policy `pause`, makes the
 * step's gate wait for a person (with `strategy.approval`'s timeout and default). The record goes to
 * `status.analyses` and carries over continue-as-new with the status: a run continued at the gate that follows does
 * not measure again.
 */
import { patched } from '@temporalio/workflow';
import { backendName } from '../../activities/ports';
import { runAnalysis } from '../analysis/run';
import type { AnalysisVerdict } from '../analysis/run';
import { RollBack } from '../runbook';
import type { RollingStrategy } from '../spec';
import type { AnalysisRecord } from '../types';
import type { RollingRun } from './run';

/** Runs that analyse after a batch mark it once; no earlier run could have (the spec had no such field). */
export const ROLLING_ANALYSIS_PATCH = 'rolling-analysis';

type StepAnalysis = NonNullable<RollingStrategy['steps'][number]['analysis']>;

/** What the step's gate does after the analysis: nothing more to ask, or wait for a person (and why). */
export type AfterAnalysis = { ask: false } | { ask: true; why: string };

/** The analysis after `batch`: a failure throws RollBack; otherwise whether a person must decide. */
export async function analyseAfter(
  run: RollingRun,
  batch: number,
  request: StepAnalysis,
  where: string,
): Promise<AfterAnalysis> {
  if (!patched(ROLLING_ANALYSIS_PATCH)) return { ask: false };
  const { spec, tracker, status } = run;
  status.analyses ??= [];
  const label = `after batch ${batch}`;
  // Measured by an earlier run of this update (continued as new at the gate that follows): judge that verdict again.
  const earlier = status.analyses.find((r) => r.label === label && r.outcome !== 'running');
  if (earlier) return judge(run, earlier, where);
  tracker.setPhase('Verifying');
  const backend = backendName(spec.application, 'rolling');
  const verdict: AnalysisVerdict = await runAnalysis(
    {
      spec,
      tracker,
      records: status.analyses,
      dryRunBy: new Map(),
      args: () => ({
        application: spec.application,
        version: spec.version,
        stableVersion: status.previousVersion ?? '',
        canary: backend,
        stable: backend,
        modules: spec.modules.join(','),
      }),
    },
    { label, ...request },
  );
  return judge(run, verdict.record, where);
}

function judge(run: RollingRun, record: AnalysisRecord, where: string): AfterAnalysis {
  const reason = record.reason ?? record.outcome;
  switch (record.outcome) {
    case 'successful':
    case 'stopped':
      return { ask: false };
    case 'failed':
      throw new RollBack(`analysis ${where} ${record.outcome}: ${reason}`);
    case 'insufficient': {
      const policy = run.spec.analysis?.insufficientSamples.policy ?? 'pause';
      if (policy === 'fail') throw new RollBack(`analysis ${where}: ${reason}`);
      if (policy === 'pass') {
        run.tracker.event(`analysis ${where}: ${reason}; passed by policy (insufficientSamples.policy pass)`);
        return { ask: false };
      }
      return { ask: true, why: `analysis ${where} had too few samples (${reason})` };
    }
    default:
      return { ask: true, why: `analysis ${where} ${record.outcome} (${reason})` };
  }
}
