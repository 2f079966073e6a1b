/**
 * The verdict of an analysis from its measurements, with Argo Rollouts' semantics: a metric fails once more of its
 * measurements failed than its failureLimit, is inconclusive once more were inconclusive than its
 * inconclusiveLimit, errs once more errors came in a row than its consecutiveErrorLimit, and succeeds once its
 * `count` measurements are taken (measurements with too few samples are not judged and do not count). An analysis
 * is the worst of its deciding (non-dry-run) metrics: a failed or erring metric fails it at once, an inconclusive
 * one makes it inconclusive at once; otherwise it runs until every metric, dry-run ones too, is done.
 *
 * A metric with `count: 0` (background analysis) never completes by itself: it is 'running' until it fails, and the
 * workflow reads 'running' at the end of the rollout as passed.
 *
 * Pure: no Node built-ins, workflows import it.
 */
import type { AnalysisMetric } from '../spec/analysis';
import type { Measurement } from './types';

export type MetricOutcome = 'running' | 'successful' | 'failed' | 'inconclusive' | 'error' | 'insufficient';

/** What the workflow has seen of one metric in one analysis. */
export interface MetricLedger {
  metric: string;
  dryRun: boolean;
  measurements: Measurement[];
  /** Measurements that could not be taken (the provider unreachable after the activity's retries). */
  errors: { at: string; message: string }[];
  /** Errors since the last measurement that was taken. */
  consecutiveErrors: number;
}

export type AnalysisOutcome = 'running' | 'successful' | 'failed' | 'inconclusive';

/** A message from a provider as it appears in a reason: one line, bounded. */
const MESSAGE_CHARS = 200;

interface Tally {
  judged: number;
  failed: number;
  inconclusive: number;
  lastFailed?: Measurement;
  lastInconclusive?: Measurement;
}

function tally(ledger: MetricLedger): Tally {
  const t: Tally = { judged: 0, failed: 0, inconclusive: 0 };
  for (const m of ledger.measurements) {
    if (m.phase === 'insufficient') continue;
    t.judged++;
    if (m.phase === 'failed') {
      t.failed++;
      t.lastFailed = m;
    } else if (m.phase === 'inconclusive') {
      t.inconclusive++;
      t.lastInconclusive = m;
    }
  }
  return t;
}

/** The outcome of one metric so far. */
export function metricOutcome(metric: AnalysisMetric, ledger: MetricLedger): MetricOutcome {
  const t = tally(ledger);
  if (t.failed > metric.failureLimit) return 'failed';
  if (t.inconclusive > metric.inconclusiveLimit) return 'inconclusive';
  if (ledger.consecutiveErrors > metric.consecutiveErrorLimit) return 'error';
  if (metric.count > 0 && t.judged >= metric.count) return 'successful';
  const last = ledger.measurements[ledger.measurements.length - 1];
  if (ledger.consecutiveErrors === 0 && last?.phase === 'insufficient') return 'insufficient';
  return 'running';
}

/** The outcome of an analysis (its metrics and what was measured of each), and one line saying why. */
export function analysisOutcome(
  metrics: AnalysisMetric[],
  ledgers: MetricLedger[],
): { outcome: AnalysisOutcome; reason: string } {
  const results = metrics.map((metric) => {
    const ledger = ledgers.find((l) => l.metric === metric.name) ?? emptyLedger(metric);
    return { metric, ledger, outcome: metricOutcome(metric, ledger) };
  });
  const deciding = results.filter((r) => !r.metric.dryRun);
  const dryRun = results.filter((r) => r.metric.dryRun);
  const described = (rs: typeof results) => rs.map((r) => describe(r.metric, r.ledger, r.outcome)).join('; ');
  const withDryRun = (reason: string) =>
    dryRun.length ? `${reason}; dry-run (never decides): ${described(dryRun)}` : reason;

  const failed = deciding.filter((r) => r.outcome === 'failed' || r.outcome === 'error');
  if (failed.length) return { outcome: 'failed', reason: withDryRun(described(failed)) };
  const inconclusive = deciding.filter((r) => r.outcome === 'inconclusive');
  if (inconclusive.length) return { outcome: 'inconclusive', reason: withDryRun(described(inconclusive)) };
  const running = results.filter((r) => r.outcome === 'running' || r.outcome === 'insufficient');
  if (running.length) return { outcome: 'running', reason: described(running) };
  if (!deciding.length) {
    return { outcome: 'successful', reason: `only dry-run metrics, which never decide: ${described(dryRun)}` };
  }
  return { outcome: 'successful', reason: withDryRun(described(deciding)) };
}

function emptyLedger(metric: AnalysisMetric): MetricLedger {
  return { metric: metric.name, dryRun: metric.dryRun, measurements: [], errors: [], consecutiveErrors: 0 };
}

function oneLine(message: string): string {
  const line = message.replace(/\s+/g, ' ').trim();
  return line.length <= MESSAGE_CHARS ? line : `${line.slice(0, MESSAGE_CHARS)}…`;
}

/** One metric's figures, e.g. "error-rate failed: 2 of 3 measurements failed (failureLimit 1); last: result 0.31 > 0.2". */
function describe(metric: AnalysisMetric, ledger: MetricLedger, outcome: MetricOutcome): string {
  const t = tally(ledger);
  const of = (n: number) => `${n} of ${t.judged} measurement${t.judged === 1 ? '' : 's'}`;
  const taken =
    metric.count > 0
      ? `${t.judged} of ${metric.count} measurements taken`
      : `${t.judged} measurement${t.judged === 1 ? '' : 's'} taken (until ended)`;
  switch (outcome) {
    case 'failed':
      return (
        `${metric.name} failed: ${of(t.failed)} failed (failureLimit ${metric.failureLimit})` +
        (t.lastFailed ? `; last: ${oneLine(t.lastFailed.message)}` : '')
      );
    case 'error': {
      const lastError = ledger.errors[ledger.errors.length - 1];
      return (
        `${metric.name} failed: ${ledger.consecutiveErrors} measurement error${ledger.consecutiveErrors === 1 ? '' : 's'} in a row ` +
        `(consecutiveErrorLimit ${metric.consecutiveErrorLimit})` +
        (lastError ? `; last: ${oneLine(lastError.message)}` : '')
      );
    }
    case 'inconclusive':
      return (
        `${metric.name} inconclusive: ${of(t.inconclusive)} inconclusive (inconclusiveLimit ${metric.inconclusiveLimit})` +
        (t.lastInconclusive ? `; last: ${oneLine(t.lastInconclusive.message)}` : '')
      );
    case 'successful':
      return (
        `${metric.name} successful: ${t.judged} of ${metric.count} measurements` +
        (t.failed ? `, ${t.failed} failed (failureLimit ${metric.failureLimit})` : '') +
        (t.inconclusive ? `, ${t.inconclusive} inconclusive (inconclusiveLimit ${metric.inconclusiveLimit})` : '')
      );
    case 'insufficient': {
      const last = ledger.measurements[ledger.measurements.length - 1];
      return `${metric.name} waiting for samples: ${taken}` + (last ? `; last: ${oneLine(last.message)}` : '');
    }
    case 'running':
      return (
        `${metric.name} running: ${taken}` +
        (ledger.consecutiveErrors ? `, ${ledger.consecutiveErrors} error(s) in a row` : '')
      );
  }
}
