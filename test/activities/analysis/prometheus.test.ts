/**
 * The Prometheus provider against a real Prometheus (started here, scraping an exporter this test serves every
 * second): the router's request counters per backend, judged with the contract's error-rate query. Each backend's
 * counters grow by a fixed step per scrape, so its 5xx ratio is exact: good 1 %, meh 10 %, bad 30 %, idle 0/0, and
 * quiet has one request per scrape (never 100 in a minute).
 */
import type { PrometheusProviderConfig } from '../../../activities/analysis/metric';
import { freePort } from '../../support/temporal';
import { ARGS, measureOnce, metricOf, rejection } from './metrics';
import type { PrometheusServer } from '../../support/prometheus';
import type { Exporter } from './prometheus-server';
import { startPrometheus } from '../../support/prometheus';
import { startExporter, waitFor } from './prometheus-server';

jest.setTimeout(120_000);

const COUNTER = 'cutover_router_requests_total';
const BACKENDS: Record<string, { ok: number; errors: number }> = {
  'shop-good': { ok: 99, errors: 1 },
  'shop-meh': { ok: 90, errors: 10 },
  'shop-bad': { ok: 70, errors: 30 },
  'shop-idle': { ok: 0, errors: 0 },
  'shop-quiet': { ok: 1, errors: 0 },
};
const ERROR_RATE =
  `sum(rate(${COUNTER}{backend="{{args.canary}}",code_class="5xx"}[1m])) / ` +
  `sum(rate(${COUNTER}{backend="{{args.canary}}"}[1m]))`;
const SAMPLES = `sum(increase(${COUNTER}{backend="{{args.canary}}"}[1m]))`;

let exporter: Exporter;
let prometheus: PrometheusServer;

beforeAll(async () => {
  exporter = await startExporter(
    Object.entries(BACKENDS).flatMap(([backend, steps]) => [
      { name: COUNTER, labels: { backend, code_class: '2xx' }, step: steps.ok },
      { name: COUNTER, labels: { backend, code_class: '5xx' }, step: steps.errors },
    ]),
  );
  prometheus = await startPrometheus({ targets: [new URL(exporter.url).host] });
  // Enough scrapes that rate() has several samples and the good backend has seen well over 100 requests.
  await waitFor('Prometheus to have scraped the exporter a few times', async () => {
    const found = await prometheus.query(`sum(increase(${COUNTER}{backend="shop-good"}[1m])) >= 300`);
    return found.length === 1;
  });
});

afterAll(async () => {
  await prometheus?.stop();
  await exporter?.close();
});

function prom(overrides: Partial<PrometheusProviderConfig> = {}): { prometheus: PrometheusProviderConfig } {
  return {
    prometheus: { address: prometheus.url, query: ERROR_RATE, samples: SAMPLES, timeout: 10_000, ...overrides },
  };
}

const canary = (backend: string) => ({ ...ARGS, canary: backend });

test('a canary under the success threshold is successful, with the query, samples and evaluation time recorded', async () => {
  const m = await measureOnce(metricOf(prom(), { minSamples: 100 }), canary('shop-good'));

  expect(m.phase).toBe('successful');
  expect(m.provider).toBe('prometheus');
  expect(m.value).toBeCloseTo(0.01, 6);
  expect(m.samples).toBeGreaterThanOrEqual(100);
  expect(m.query).toContain('backend="shop-good",code_class="5xx"');
  expect(m.query).not.toContain('{{');
  expect(m.message).toMatch(
    /^result 0\.(01|0099)\d*: successCondition `result < 0\.05` true, failureCondition `result > 0\.2` false: successful$/,
  );
  expect(m.window?.from).toBe(m.window?.to);
  expect(Date.parse(m.window?.from ?? '')).toBeGreaterThan(0);
  expect(Date.parse(m.measuredAt)).toBeGreaterThan(0);
});

test('a canary over the failure threshold fails', async () => {
  const m = await measureOnce(metricOf(prom()), canary('shop-bad'));

  expect(m.phase).toBe('failed');
  expect(m.value).toBeCloseTo(0.3, 6);
  expect(m.message).toMatch(/failureCondition `result > 0\.2` true: failed$/);
});

test('a canary between the two thresholds is inconclusive; with only a success condition it fails', async () => {
  const both = await measureOnce(metricOf(prom()), canary('shop-meh'));
  const successOnly = await measureOnce(metricOf(prom(), { failureCondition: undefined }), canary('shop-meh'));
  const failureOnly = await measureOnce(metricOf(prom(), { successCondition: undefined }), canary('shop-meh'));

  expect(both.phase).toBe('inconclusive');
  expect(both.value).toBeCloseTo(0.1, 6);
  expect(successOnly.phase).toBe('failed');
  expect(failureOnly.phase).toBe('successful');
});

test('fewer samples than minSamples is insufficient, and the conditions are not evaluated', async () => {
  // successCondition would fail on a number: proof that it is not evaluated.
  const metric = metricOf(prom(), { minSamples: 100, successCondition: 'result.size() > 0' });
  const m = await measureOnce(metric, canary('shop-quiet'));

  expect(m.phase).toBe('insufficient');
  expect(m.samples).toBeLessThan(100);
  expect(m.message).toBe(`${m.samples} samples < minSamples 100`);
});

test('a query that returns no series is inconclusive "no data", never successful', async () => {
  const m = await measureOnce(
    metricOf(prom({ samples: undefined }), { failureCondition: undefined }),
    canary('shop-absent'),
  );

  expect(m.phase).toBe('inconclusive');
  expect(m.message).toMatch(/^no data/);
  expect(m.value).toBeNull();
});

test('a ratio of nothing to nothing (NaN) is no data too', async () => {
  const m = await measureOnce(metricOf(prom({ samples: undefined })), canary('shop-idle'));

  expect(m.phase).toBe('inconclusive');
  expect(m.message).toMatch(/^no data.*NaN/);
});

test('several series give the list of their values to the conditions', async () => {
  const query = `sum by (code_class) (rate(${COUNTER}{backend="{{args.canary}}"}[1m]))`;
  const metric = metricOf(prom({ query, samples: undefined }), {
    successCondition: 'size(result) == 2 && result.all(x, x > 0.0)',
    failureCondition: undefined,
  });
  const m = await measureOnce(metric, canary('shop-bad'));

  expect(m.phase).toBe('successful');
  expect(m.value).toEqual([expect.any(Number), expect.any(Number)]);
});

test('an unreachable Prometheus throws a retryable error naming the address', async () => {
  const address = `http://127.0.0.1:${await freePort()}`;
  const failure = await rejection(measureOnce(metricOf(prom({ address }))));

  expect(failure.retryable).toBe(true);
  expect(failure.message).toContain(address);
  expect(failure.message).toMatch(/ECONNREFUSED/);
});

test('a query Prometheus cannot parse is a non-retryable AnalysisQueryRejectedError', async () => {
  const failure = await rejection(measureOnce(metricOf(prom({ query: 'sum(rate(' }))));

  expect(failure).toMatchObject({ retryable: false, type: 'AnalysisQueryRejectedError' });
  expect(failure.message).toMatch(/rejected the query `sum\(rate\(`: HTTP 400 bad_data/);
});

test('a condition that fails on the value type is a non-retryable AnalysisConditionError', async () => {
  const metric = metricOf(prom(), { successCondition: 'result.all(x, x < 0.05)', failureCondition: undefined });
  const failure = await rejection(measureOnce(metric, canary('shop-good')));

  expect(failure).toMatchObject({ retryable: false, type: 'AnalysisConditionError' });
  expect(failure.message).toContain('successCondition `result.all(x, x < 0.05)`');
});
