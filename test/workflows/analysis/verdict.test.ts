/** The verdict of an analysis from its measurements (Argo Rollouts' limits), and the reason it gives. */
import { analysisOutcome, metricOutcome } from '../../../workflows/analysis/verdict';
import type { MetricLedger } from '../../../workflows/analysis/verdict';
import type { Measurement, MeasurementPhase } from '../../../workflows/analysis/types';
import { analysisMetricSchema } from '../../../workflows/spec';
import type { AnalysisMetric } from '../../../workflows/spec';

/** A normalised metric, through the real schema (defaults: count 1, failureLimit 0, consecutiveErrorLimit 4...). */
function metric(o: Record<string, unknown> = {}): AnalysisMetric {
  return analysisMetricSchema.parse({
    name: 'error-rate',
    provider: { prometheus: { address: 'http://127.0.0.1:9090', query: 'up', samples: 'count(up)' } },
    successCondition: 'result < 0.05',
    failureCondition: 'result > 0.2',
    ...o,
  });
}

let clock = 0;
function measured(phase: MeasurementPhase, value: unknown, message: string, name = 'error-rate'): Measurement {
  clock += 30_000;
  return {
    metric: name,
    provider: 'prometheus',
    query: 'up',
    value,
    phase,
    message,
    measuredAt: new Date(Date.UTC(2026, 0, 1) + clock).toISOString(),
  };
}
const ok = (value = 0.01) => measured('successful', value, `result ${value} < 0.05`);
const bad = (value = 0.31) => measured('failed', value, `result ${value} > 0.2`);
const unsure = (value = 0.1) => measured('inconclusive', value, `result ${value}: neither condition holds`);
const few = (samples = 12) => ({ ...measured('insufficient', null, `${samples} requests < minSamples 100`), samples });

function ledger(measurements: Measurement[], o: Partial<MetricLedger> = {}): MetricLedger {
  return { metric: 'error-rate', dryRun: false, measurements, errors: [], consecutiveErrors: 0, ...o };
}

describe('metricOutcome', () => {
  test.each([
    ['nothing measured yet', {}, [], 'running'],
    ['fewer than count taken', { count: 3 }, [ok(), ok()], 'running'],
    ['all count taken, all successful', { count: 3 }, [ok(), ok(), ok()], 'successful'],
    ['one failure over failureLimit 0', { count: 3 }, [ok(), bad()], 'failed'],
    ['failures within failureLimit, count reached', { count: 3, failureLimit: 1 }, [ok(), bad(), ok()], 'successful'],
    ['failures over failureLimit before count', { count: 5, failureLimit: 1 }, [bad(), bad()], 'failed'],
    ['one inconclusive over inconclusiveLimit 0', { count: 3 }, [unsure()], 'inconclusive'],
    ['inconclusive within its limit', { count: 2, inconclusiveLimit: 1 }, [unsure(), ok()], 'successful'],
    ['insufficient measurements do not count', { count: 2 }, [ok(), few(), few()], 'insufficient'],
    ['a sufficient one after insufficient ones counts', { count: 2 }, [few(), ok(), ok()], 'successful'],
    ['count 0 never completes by itself', { count: 0 }, [ok(), ok(), ok(), ok()], 'running'],
    ['count 0 still fails', { count: 0 }, [ok(), ok(), bad()], 'failed'],
  ])('%s: %j %s', (_what, overrides, measurements, expected) => {
    expect(metricOutcome(metric(overrides), ledger(measurements as Measurement[]))).toBe(expected);
  });

  test('errors in a row over consecutiveErrorLimit are an error; up to the limit the metric runs on', () => {
    const errors = [1, 2, 3, 4, 5].map((n) => ({ at: `2026-01-01T00:0${n}:00.000Z`, message: 'connect ECONNREFUSED' }));
    expect(metricOutcome(metric(), ledger([], { errors: errors.slice(0, 4), consecutiveErrors: 4 }))).toBe('running');
    expect(metricOutcome(metric(), ledger([], { errors, consecutiveErrors: 5 }))).toBe('error');
    expect(metricOutcome(metric({ consecutiveErrorLimit: 0 }), ledger([], { consecutiveErrors: 1 }))).toBe('error');
  });

  test('an error after an insufficient measurement: running, not waiting for samples', () => {
    expect(metricOutcome(metric(), ledger([few()], { consecutiveErrors: 1 }))).toBe('running');
  });
});

describe('analysisOutcome', () => {
  test('a failed metric fails the analysis at once, naming the metric and its figures', () => {
    const rate = metric({ count: 5, failureLimit: 1 });
    expect(analysisOutcome([rate], [ledger([bad(0.25), ok(), bad(0.31)])])).toEqual({
      outcome: 'failed',
      reason: 'error-rate failed: 2 of 3 measurements failed (failureLimit 1); last: result 0.31 > 0.2',
    });
  });

  test('an erring metric counts as failed, with the last error', () => {
    const errors = [{ at: '2026-01-01T00:00:00.000Z', message: 'connect ECONNREFUSED 127.0.0.1:9090\n  at x' }];
    expect(
      analysisOutcome([metric({ consecutiveErrorLimit: 0 })], [ledger([], { errors, consecutiveErrors: 1 })]),
    ).toEqual({
      outcome: 'failed',
      reason:
        'error-rate failed: 1 measurement error in a row (consecutiveErrorLimit 0); last: connect ECONNREFUSED 127.0.0.1:9090 at x',
    });
  });

  test('the worst deciding metric wins: failed over inconclusive over running', () => {
    const rate = metric({ count: 3 });
    const latency = metric({ name: 'latency', count: 3 });
    const latencyLedger = (ms: Measurement[]) => ({ ...ledger(ms), metric: 'latency' });
    expect(analysisOutcome([rate, latency], [ledger([unsure()]), latencyLedger([ok()])]).outcome).toBe('inconclusive');
    expect(analysisOutcome([rate, latency], [ledger([unsure()]), latencyLedger([bad()])])).toEqual({
      outcome: 'failed',
      reason: 'latency failed: 1 of 1 measurement failed (failureLimit 0); last: result 0.31 > 0.2',
    });
    expect(analysisOutcome([rate, latency], [ledger([ok(), ok(), ok()]), latencyLedger([ok()])])).toEqual({
      outcome: 'running',
      reason: 'latency running: 1 of 3 measurements taken',
    });
  });

  test('successful once every metric took its count, with the failures it tolerated', () => {
    const rate = metric({ count: 2, failureLimit: 1 });
    expect(analysisOutcome([rate], [ledger([bad(), ok()])])).toEqual({
      outcome: 'successful',
      reason: 'error-rate successful: 2 of 2 measurements, 1 failed (failureLimit 1)',
    });
  });

  test('a dry-run metric is shown but never decides; the analysis waits for it to finish', () => {
    const rate = metric({ count: 1 });
    const latency = metric({ name: 'latency', count: 2, dryRun: true });
    const latencyLedger = (ms: Measurement[]) => ({ ...ledger(ms), metric: 'latency', dryRun: true });
    expect(analysisOutcome([rate, latency], [ledger([ok()]), latencyLedger([bad()])])).toEqual({
      outcome: 'successful',
      reason:
        'error-rate successful: 1 of 1 measurements; dry-run (never decides): latency failed: 1 of 1 measurement ' +
        'failed (failureLimit 0); last: result 0.31 > 0.2',
    });
    expect(analysisOutcome([rate, latency], [ledger([ok()]), latencyLedger([ok()])]).outcome).toBe('running');
    expect(analysisOutcome([latency], [latencyLedger([bad()])])).toEqual({
      outcome: 'successful',
      reason:
        'only dry-run metrics, which never decide: latency failed: 1 of 1 measurement failed (failureLimit 0); last: result 0.31 > 0.2',
    });
  });

  test('too few samples keeps the analysis running, saying so', () => {
    expect(analysisOutcome([metric({ count: 2, minSamples: 100 })], [ledger([ok(), few(12)])])).toEqual({
      outcome: 'running',
      reason: 'error-rate waiting for samples: 1 of 2 measurements taken; last: 12 requests < minSamples 100',
    });
  });

  test('a metric without a ledger yet is running; a background metric (count 0) runs until it fails', () => {
    expect(analysisOutcome([metric({ count: 2 })], [])).toEqual({
      outcome: 'running',
      reason: 'error-rate running: 0 of 2 measurements taken',
    });
    expect(analysisOutcome([metric({ count: 0 })], [ledger([ok(), ok()])])).toEqual({
      outcome: 'running',
      reason: 'error-rate running: 2 measurements taken (until ended)',
    });
  });

  test('a long provider message is cut to one bounded line in the reason', () => {
    const long = measured('failed', 1, `result 1 > 0.2 ${'x'.repeat(1000)}`);
    const { reason } = analysisOutcome([metric()], [ledger([long])]);
    expect(reason.length).toBeLessThan(400);
    expect(reason).toMatch(/…$/);
  });
});
