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
import { failureMessage } from '../runbook';
import type { AnalysisMetric, DeploymentSpec } from '../spec';
import type { DeploymentTracker } from '../tracker';
import type { AnalysisCarry, AnalysisRecord, AnalysisRunOutcome, MetricRecord } from '../types';
import type { Measurement } from './types';
import type { MetricLedger } from './verdict';
import { analysisOutcome, metricOutcome } from './verdict';

/** The deployment an analysis runs in: its spec (templates), tracker, where records go, and the built-in args. */
export interface AnalysisHost {
  spec: DeploymentSpec;
  tracker: DeploymentTracker;
  /** The status's ledger of analysis runs (status.canary.analyses, or status.analyses). */
  records: AnalysisRecord[];
  /** Metrics switched to dry run by a signal (name -> who). */
  dryRunBy: ReadonlyMap<string, string>;
  /** application, version, stableVersion, canary, stable, modules: as they are when the analysis starts. */
  args: () => Record<string, string>;
}

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
  /** Checked between measurements: true suspends the analysis (the run continues as new; `carry` resumes it). */
  suspend?: () => boolean;
  /** An analysis an earlier run of this workflow suspended. */
  resume?: AnalysisCarry;
}

export interface AnalysisVerdict {
  /** 'suspended': the run continues as new, and the next one resumes the analysis from `carry`. */
  outcome: Exclude<AnalysisRunOutcome, 'running'> | 'suspended';
  reason: string;
  record: AnalysisRecord;
  carry: AnalysisCarry;
}

/** Measurements of one metric a carried ledger keeps besides the failed and inconclusive ones (those decide). */
const CARRIED_MEASUREMENTS = 20;

export async function runAnalysis(run: AnalysisHost, request: AnalysisRequest): Promise<AnalysisVerdict> {
  const { spec, tracker } = run;
  const templates = spec.analysis?.templates ?? {};
  const metrics: AnalysisMetric[] = request.templates.flatMap((name) => templates[name]?.metrics ?? []);
  const args = { ...run.args(), ...request.args };
  const resumed = request.resume;
  const carriedRecord = resumed ? run.records[resumed.record] : undefined;
  const record: AnalysisRecord = carriedRecord ?? {
    label: request.label,
    templates: request.templates,
    outcome: 'running',
    startedAt: new Date().toISOString(),
    metrics: metrics.map((m) => emptyRecord(m, run.dryRunBy.get(m.name))),
  };
  if (!carriedRecord) run.records.push(record);
  const recordIndex = run.records.indexOf(record);
  const ledgers: MetricLedger[] = metrics.map(
    (m) =>
      resumed?.ledgers.find((l) => l.metric === m.name) ?? {
        metric: m.name,
        dryRun: m.dryRun || run.dryRunBy.has(m.name),
        measurements: [],
        errors: [],
        consecutiveErrors: 0,
      },
  );
  const insufficient = spec.analysis?.insufficientSamples ?? { deadline: 600_000, policy: 'pause' as const };
  const startedAt = resumed?.startedAt ?? Date.now();
  let decided = false;
  let suspended = false;
  const suspending = () => request.suspend?.() ?? false;
  const stopped = () => decided || suspended || (request.stopped?.() ?? false) || suspending();

  if (!resumed) {
    tracker.event(
      `analysis ${request.label}: ${metrics.map((m) => m.name).join(', ')} (${request.templates.join(', ')})`,
    );
  }
  await Promise.all(
    metrics.map(async (metric, i) => {
      const ledger = ledgers[i] as MetricLedger;
      const shown = record.metrics[i] as MetricRecord;
      if (shown.outcome !== 'running') return; // done before an earlier run continued as new
      const plannedEnd = startedAt + metric.initialDelay + metric.interval * Math.max(metric.count - 1, 0);
      const extendUntil = plannedEnd + insufficient.deadline;
      // The first measurement after the initial delay; a resumed metric waits out its interval since the last one.
      const last = ledger.measurements[ledger.measurements.length - 1];
      const firstAt = last ? Date.parse(last.measuredAt) + metric.interval : startedAt + metric.initialDelay;
      if (firstAt > Date.now()) await condition(stopped, firstAt - Date.now());
      for (;;) {
        if (decided || request.stopped?.()) return;
        if (suspended || suspending()) {
          suspended = true;
          return;
        }
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

  const carry: AnalysisCarry = { startedAt, record: recordIndex, ledgers: ledgers.map((l) => compact(l, metrics)) };
  if (suspended && !decided) {
    return { outcome: 'suspended', reason: 'continued as new in the middle of the analysis', record, carry };
  }
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
  return { outcome, reason, record, carry };
}

/**
 * A ledger as the next run carries it: every failed and inconclusive measurement (each counts against its limit, and
 * there are at most limit + 1 of either), the successes (a metric with a `count` has fewer than `count` while it
 * runs; a background metric keeps its latest 20: its successes only ever said how many were taken), the latest
 * measurements with too few samples and the latest errors: the verdict of the compacted ledger is the whole one's.
 */
export function compact(ledger: MetricLedger, metrics: AnalysisMetric[]): MetricLedger {
  const metric = metrics.find((m) => m.name === ledger.metric);
  const decides = (m: Measurement) => m.phase === 'failed' || m.phase === 'inconclusive';
  const keepOthers = metric && metric.count > 0 ? metric.count : CARRIED_MEASUREMENTS;
  const successes = ledger.measurements.filter((m) => m.phase === 'successful').slice(-keepOthers);
  const insufficient = ledger.measurements.filter((m) => m.phase === 'insufficient').slice(-5);
  const kept = new Set([...ledger.measurements.filter(decides), ...successes, ...insufficient]);
  return { ...ledger, measurements: ledger.measurements.filter((m) => kept.has(m)), errors: ledger.errors.slice(-5) };
}

async function measureOnce(
  run: AnalysisHost,
  metric: AnalysisMetric,
  args: Record<string, string>,
  ledger: MetricLedger,
  shown: MetricRecord,
): Promise<void> {
  const timeout = providerTimeout(metric) + 5_000;
  try {
    const m: Measurement = await budgeted(timeout, MEASURE_ATTEMPTS).measureMetric({
      deploymentId: run.tracker.status.deploymentId,
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
