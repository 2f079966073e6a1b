/**
 * The web provider against a local HTTP server started here: a JSONPath to a number, a list and a map, the sample
 * count from samplesJsonPath, no data, the retryable answers (non-2xx, not JSON, no answer in time), the
 * non-retryable specs (unknown arg, bad JSONPath), cancellation, and header values kept out of every result.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { WebProviderConfig } from '../../../activities/analysis/metric';
import { ARGS, measureIn, measureOnce, metricOf, rejection } from './metrics';

jest.setTimeout(60_000);

const TOKEN = 'Bearer s3cret-token-4711';
const STATS = {
  errorRate: 0.013,
  requests: 150,
  rates: [0.01, 0.02, 0.03],
  byModule: { Catalog: 0.01, Cart: 0.3 },
  nothing: null,
  big: Array.from({ length: 50 }, (_, i) => i / 1000),
};

let server: http.Server;
let base: string;
const seen: Array<{ url: string; headers: http.IncomingHttpHeaders }> = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const url = req.url ?? '';
    if (url === '/stats') return json(200, STATS);
    if (url.startsWith('/canary/')) return json(200, { backend: url.split('/')[2], errorRate: 0.5 });
    if (url === '/secure') {
      return req.headers.authorization === TOKEN ? json(200, STATS) : json(401, { error: 'unauthorised' });
    }
    if (url === '/broken') return json(503, { error: 'overloaded' });
    if (url === '/html') return res.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>');
    if (url === '/hang') return; // never answers
    return json(404, { error: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen.length = 0;
});

function web(overrides: Partial<WebProviderConfig> = {}): { web: WebProviderConfig } {
  return { web: { url: `${base}/stats`, jsonPath: '$.errorRate', headers: {}, timeout: 10_000, ...overrides } };
}

test('a JSONPath to a number, with samples from samplesJsonPath, is judged like any value', async () => {
  const m = await measureOnce(metricOf(web({ samplesJsonPath: '$.requests' }), { minSamples: 100 }));

  expect(m).toMatchObject({ provider: 'web', phase: 'successful', value: 0.013, samples: 150 });
  expect(m.query).toBe(`GET ${base}/stats jsonPath $.errorRate`);
  expect(m.message).toMatch(/^result 0\.013: successCondition `result < 0\.05` true/);
});

test('fewer requests at samplesJsonPath than minSamples is insufficient', async () => {
  const m = await measureOnce(metricOf(web({ samplesJsonPath: '$.requests' }), { minSamples: 1000 }));

  expect(m).toMatchObject({ phase: 'insufficient', samples: 150, message: '150 samples < minSamples 1000' });
});

test('a JSONPath to a list gives the list to the conditions (result.all)', async () => {
  const all = (bound: string) => ({ successCondition: `result.all(x, x < ${bound})`, failureCondition: undefined });
  const passing = await measureOnce(metricOf(web({ jsonPath: '$.rates' }), all('0.05')));
  const failing = await measureOnce(metricOf(web({ jsonPath: '$.rates[*]' }), all('0.025')));

  expect(passing).toMatchObject({ phase: 'successful', value: [0.01, 0.02, 0.03] });
  expect(failing).toMatchObject({ phase: 'failed', value: [0.01, 0.02, 0.03] });
});

test('a JSONPath to a map gives the map to the conditions', async () => {
  const m = await measureOnce(
    metricOf(web({ jsonPath: '$.byModule' }), {
      successCondition: 'result.Catalog < 0.05',
      failureCondition: 'result.Cart > 0.2',
    }),
  );

  expect(m).toMatchObject({ phase: 'failed', value: { Catalog: 0.01, Cart: 0.3 } });
  expect(m.message).toMatch(/failureCondition `result\.Cart > 0\.2` true: failed$/);
});

test('a long list reaches the conditions whole and the measurement cut to 20 items', async () => {
  const m = await measureOnce(
    metricOf(web({ jsonPath: '$.big' }), { successCondition: 'size(result) == 50', failureCondition: undefined }),
  );

  expect(m.phase).toBe('successful');
  expect(m.value).toEqual(STATS.big.slice(0, 20));
});

test('a JSONPath that matches nothing, or null, is inconclusive "no data"', async () => {
  const missing = await measureOnce(metricOf(web({ jsonPath: '$.errorRatio' }), { failureCondition: undefined }));
  const nulled = await measureOnce(metricOf(web({ jsonPath: '$.nothing' }), { failureCondition: undefined }));

  expect(missing).toMatchObject({ phase: 'inconclusive', value: null });
  expect(missing.message).toMatch(/^no data: jsonPath \$\.errorRatio matched nothing/);
  expect(nulled.phase).toBe('inconclusive');
  expect(nulled.message).toMatch(/^no data/);
});

test('args are substituted into the URL and header values', async () => {
  const m = await measureOnce(
    metricOf(web({ url: `${base}/canary/{{args.canary}}`, headers: { 'X-Canary': '{{ args.canary }}' } })),
  );

  expect(seen[0]?.url).toBe(`/canary/${ARGS.canary}`);
  expect(seen[0]?.headers['x-canary']).toBe(ARGS.canary);
  expect(m).toMatchObject({
    phase: 'failed',
    value: 0.5,
    query: `GET ${base}/canary/${ARGS.canary} jsonPath $.errorRate`,
  });
});

test('an unknown arg is a non-retryable AnalysisArgUnknownError naming it', async () => {
  const failure = await rejection(measureOnce(metricOf(web({ url: `${base}/canary/{{args.canaryBackend}}` }))));

  expect(failure).toMatchObject({ retryable: false, type: 'AnalysisArgUnknownError' });
  expect(failure.message).toContain('{{args.canaryBackend}}');
  expect(failure.message).toContain('provider.web.url');
  expect(seen).toHaveLength(0);
});

test('header values are sent, and appear in neither the measurement nor an error', async () => {
  const secure = web({ url: `${base}/secure`, headers: { Authorization: TOKEN } });
  const m = await measureOnce(metricOf(secure));
  const refused = await rejection(
    measureOnce(metricOf(web({ url: `${base}/secure`, headers: { Authorization: 'Bearer wrong-7' } }))),
  );

  expect(seen[0]?.headers.authorization).toBe(TOKEN);
  expect(m.phase).toBe('successful');
  expect(JSON.stringify(m)).not.toContain('s3cret');
  expect(refused.retryable).toBe(true);
  expect(refused.message).toContain('HTTP 401');
  expect(refused.message).not.toContain('wrong-7');
});

test('a non-2xx answer throws a retryable error naming the URL and status', async () => {
  const failure = await rejection(measureOnce(metricOf(web({ url: `${base}/broken` }))));

  expect(failure.retryable).toBe(true);
  expect(failure.message).toBe(`web provider: GET ${base}/broken answered HTTP 503`);
});

test('an answer that is not JSON throws a retryable error', async () => {
  const failure = await rejection(measureOnce(metricOf(web({ url: `${base}/html` }))));

  expect(failure.retryable).toBe(true);
  expect(failure.message).toMatch(/answered HTTP 200 with a body that is not JSON \(text\/html\)/);
});

test('samplesJsonPath that matches no number throws a retryable error', async () => {
  const failure = await rejection(measureOnce(metricOf(web({ samplesJsonPath: '$.byModule' }), { minSamples: 1 })));

  expect(failure.retryable).toBe(true);
  expect(failure.message).toMatch(/samplesJsonPath \$\.byModule matched .*expected one number/);
});

test('no answer within the provider timeout throws a retryable error naming the timeout', async () => {
  const failure = await rejection(measureOnce(metricOf(web({ url: `${base}/hang`, timeout: 300 }))));

  expect(failure.retryable).toBe(true);
  expect(failure.message).toBe(
    "analysis metric error-rate: provider.web: no answer within 300 ms (the provider's timeout)",
  );
});

test('cancelling the activity aborts the request: the measurement ends cancelled', async () => {
  const env = new MockActivityEnvironment();
  const running = measureIn(env, metricOf(web({ url: `${base}/hang`, timeout: 120_000 })));
  while (!seen.some((s) => s.url === '/hang')) await new Promise((resolve) => setTimeout(resolve, 20));
  env.cancel();

  await expect(running).rejects.toBeInstanceOf(CancelledFailure);
});

test('a minSamples without samplesJsonPath is a non-retryable SpecInvalidError naming the field', async () => {
  const failure = await rejection(measureOnce(metricOf(web(), { minSamples: 10 })));

  expect(failure).toMatchObject({ retryable: false, type: 'SpecInvalidError' });
  expect(failure.message).toContain('provider.web.samplesJsonPath');
});

test('a JSONPath that does not parse is a non-retryable AnalysisQueryRejectedError', async () => {
  const failure = await rejection(measureOnce(metricOf(web({ jsonPath: '$.rates[?(@ > 0.01' }))));

  expect(failure).toMatchObject({ retryable: false, type: 'AnalysisQueryRejectedError' });
  expect(failure.message).toMatch(/^jsonPath \$\.rates\[\?\(@ > 0\.01 cannot be evaluated: /);
});
