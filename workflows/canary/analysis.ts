/**
 * An analysis run: every metric of the named templates measured at its interval, each measurement an activity
 * (measureMetric: retried a few times; what still fails is an error, not a failure, until consecutiveErrorLimit),
 * the verdict computed by workflows/analysis/verdict.ts after every measurement. Metrics run side by side; the first
 * metric that fails ends the others. Until enough requests reached the canary (minSamples) a measurement does not
 * count and the run extends, up to `analysis.insufficientSamples.deadline` past its planned end.
 *
 * Every measurement is in the history (the activity's result) and in the status ledger (the latest ones per metric,
 * with counts of all), so `cutover status` and the UI say why a canary was promoted or rolled back.
 */
import { condition, isCancellation } from '@temporalio/workflow';
import { budgeted } from '../activity-presets';
import type { Measurement } from '../analysis/types';
import type { MetricLedger } from '../analysis/verdict';
import { analysisOutcome, metricOutcome } from '../analysis/verdict';
import { failureMessage } from '../runbook';
import type { AnalysisMetric } from '../spec';
import type { AnalysisRecord, AnalysisRunOutcome, MetricRecord } from '../types';
import type { CanaryRun } from './run';

/** Measurements per metric the status keeps (all of them are in the history). */
export const METRIC_RECORD_LIMIT = 20;
/** Attempts of one measurement before it counts as an error. */
const MEASURE_ATTEMPTS = 3;
const DEFAULT_PROVIDER_TIMEOUT_MS = 10_000;

export interface AnalysisRequest {
  label: string;
  templates: string[];
  args?: Record<string, string>;
  /** Background analysis: runs until `stopped()` (count 0 = until then). */
  stopped?: () => boolean;
}

export interface AnalysisVerdict {
  outcome: Exclude<AnalysisRunOutcome, 'running'>;
  reason: string;
  record: AnalysisRecord;
}

/** The args every analysis gets, and the step's own. */
export function analysisArgs(run: CanaryRun, extra: Record<string, string> = {}): Record<string, string> {
  return {
    application: run.spec.application,
    version: run.spec.version,
    stableVersion: run.canary.stableVersion ?? '',
    canary: run.canaryBackend,
    stable: run.stableBackend,
    modules: run.spec.modules.join(','),
    ...extra,
  };
}

export async function runAnalysis(run: CanaryRun, request: AnalysisRequest): Promise<AnalysisVerdict> {
  const { spec, tracker } = run;
  const templates = spec.analysis?.templates ?? {};
  const metrics: AnalysisMetric[] = request.templates.flatMap((name) => templates[name]?.metrics ?? []);
  const args = analysisArgs(run, request.args);
  const record: AnalysisRecord = {
    label: request.label,
    templates: request.templates,
    outcome: 'running',
    startedAt: new Date().toISOString(),
    metrics: metrics.map((m) => emptyRecord(m, run.dryRunBy.get(m.name))),
  };
  run.canary.analyses.push(record);
  const ledgers: MetricLedger[] = metrics.map((m) => ({
    metric: m.name,
    dryRun: m.dryRun || run.dryRunBy.has(m.name),
    measurements: [],
    errors: [],
    consecutiveErrors: 0,
  }));
  const insufficient = spec.analysis?.insufficientSamples ?? { deadline: 600_000, policy: 'pause' as const };
  let decided = false;
  const stopped = () => decided || (request.stopped?.() ?? false);

  tracker.event(
    `analysis ${request.label}: ${metrics.map((m) => m.name).join(', ')} (${request.templates.join(', ')})`,
  );
  await Promise.all(
    metrics.map(async (metric, i) => {
      const ledger = ledgers[i] as MetricLedger;
      const shown = record.metrics[i] as MetricRecord;
      const started = Date.now();
      const plannedEnd = started + metric.initialDelay + metric.interval * Math.max(metric.count - 1, 0);
      const extendUntil = plannedEnd + insufficient.deadline;
      if (metric.initialDelay > 0) await condition(stopped, metric.initialDelay);
      while (!stopped()) {
        ledger.dryRun = metric.dryRun || run.dryRunBy.has(metric.name);
        await measureOnce(run, metric, args, ledger, shown);
        let outcome = metricOutcome(metric, ledger);
        // Too few requests reached the canary: the measurement did not count; measure again until the deadline.
        const extending =
          outcome === 'insufficient' ||
          (outcome === 'running' && metric.count > 0 && ledger.measurements.some((m) => m.phase === 'insufficient'));
        if (extending && Date.now() >= extendUntil) outcome = 'insufficient';
        else if (outcome === 'insufficient') outcome = 'running';
        shown.outcome = outcome;
        if (outcome !== 'running') {
          // A failing metric that decides ends the others; a dry-run one only says so.
          if (!ledger.dryRun && outcome !== 'successful') decided = true;
          return;
        }
        await condition(stopped, metric.interval);
      }
    }),
  );

  const decisive = metrics.filter((_, i) => !ledgers[i]?.dryRun);
  const insufficientMetric = record.metrics.find((m) => !m.dryRun && m.outcome === 'insufficient');
  let outcome: AnalysisVerdict['outcome'];
  let reason: string;
  if (insufficientMetric) {
    outcome = 'insufficient';
    reason =
      `${insufficientMetric.name}: too few requests reached the canary by the deadline ` +
      `(${insufficientMetric.counts.insufficient} measurements below minSamples)`;
  } else {
    const verdict = analysisOutcome(
      decisive,
      ledgers.filter((l) => !l.dryRun),
    );
    reason = verdict.reason;
    outcome = verdict.outcome === 'running' ? (request.stopped?.() ? 'stopped' : 'successful') : verdict.outcome;
  }
  Object.assign(record, { outcome, reason, endedAt: new Date().toISOString() });
  tracker.event(`analysis ${request.label} ${outcome}: ${reason}`);
  return { outcome, reason, record };
}

async function measureOnce(
  run: CanaryRun,
  metric: AnalysisMetric,
  args: Record<string, string>,
  ledger: MetricLedger,
  shown: MetricRecord,
): Promise<void> {
  const timeout = providerTimeout(metric) + 5_000;
  try {
    const m: Measurement = await budgeted(timeout, MEASURE_ATTEMPTS).measureMetric({
      deploymentId: run.status.deploymentId,
      metric,
      args,
    });
    ledger.measurements.push(m);
    ledger.consecutiveErrors = 0;
    shown.counts[m.phase]++;
    shown.measurements.push(m);
    if (shown.measurements.length > METRIC_RECORD_LIMIT) shown.measurements.shift();
  } catch (err) {
    if (isCancellation(err)) throw err;
    const error = { at: new Date().toISOString(), message: failureMessage(err) };
    ledger.errors.push(error);
    ledger.consecutiveErrors++;
    shown.counts.error++;
    shown.errors.push(error);
    if (shown.errors.length > 5) shown.errors.shift();
  }
}

function providerTimeout(metric: AnalysisMetric): number {
  const p = metric.provider as Record<string, { timeout?: number } | undefined>;
  const config = p.prometheus ?? p.web ?? p.cloudwatch;
  return config?.timeout ?? DEFAULT_PROVIDER_TIMEOUT_MS;
}

function emptyRecord(metric: AnalysisMetric, dryRunBy: string | undefined): MetricRecord {
  return {
    name: metric.name,
    dryRun: metric.dryRun || dryRunBy !== undefined,
    ...(dryRunBy ? { dryRunBy } : {}),
    outcome: 'running',
    counts: { successful: 0, failed: 0, inconclusive: 0, insufficient: 0, error: 0 },
    measurements: [],
    errors: [],
  };
}
