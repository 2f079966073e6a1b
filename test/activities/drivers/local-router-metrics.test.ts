/**
 * What the local router counts, read from a real router process: GET /metrics (Prometheus text, prom-client) and the
 * per-backend counts of GET /stats, for answers of every status class, paths without a rule, the 502 the router
 * answers itself, retries, and requests in flight.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { newLocalRouterDriver } from '../../../activities/drivers/local';
import type { Router } from '../../../activities/ports';
import type { RunningRouter } from './local-support';
import { freePort, get, sleep, startRouterProcess, tempDir } from './local-support';
import { startNamedServer } from './named-servers';
import type { NamedServer } from './named-servers';

jest.setTimeout(60_000);

const dir = tempDir('router-metrics');
let platformServer: NamedServer;
let shop: NamedServer;
let router: RunningRouter;
let driver: Router;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (label values here never contain quotes or commas). */
function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_]\w*)="([^"]*)"/g))
      labels[pair[1] as string] = pair[2] ?? '';
    out.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return out;
}

async function metrics(): Promise<{ contentType: string | null; samples: Sample[] }> {
  const response = await fetch(`${router.adminUrl}/metrics`);
  return { contentType: response.headers.get('content-type'), samples: parseExposition(await response.text()) };
}

/** The value of the one sample of `name` whose labels are exactly `labels`, or undefined. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  const wanted = JSON.stringify(Object.entries(labels).sort());
  return samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === wanted)?.value;
}

interface Stats {
  inFlight: Record<string, number>;
  retries: number;
  backends: Record<string, { requests: number; byClass: Record<string, number> }>;
}

async function stats(): Promise<Stats> {
  return (await (await fetch(`${router.adminUrl}/stats`)).json()) as Stats;
}

beforeAll(async () => {
  platformServer = await startNamedServer('platform');
  shop = await startNamedServer('shop', {
    status: (_n, urlPath) => (urlPath.endsWith('/moved') ? 302 : urlPath.endsWith('/missing') ? 404 : 200),
  });
  router = await startRouterProcess({
    stateFile: path.join(dir, 'rules.json'),
    defaultTarget: platformServer.url,
    logFile: path.join(dir, 'router.log'),
  });
  driver = newLocalRouterDriver({ adminUrl: router.adminUrl, publicUrl: router.publicUrl });
  await driver.ensureBackend('shop-v1', [shop.url]);
  await driver.setModuleRule('Shop', [{ backend: 'shop-v1', weight: 100 }]);
});

afterAll(async () => {
  await router?.stop();
  await Promise.all([platformServer?.stop(), shop?.stop()]);
});

test('every answer counts under its rule’s module, the backend that answered and its status class', async () => {
  // When: answers of three classes from the Shop rule, and paths of ten modules without a rule.
  for (const urlPath of ['/Shop/a', '/Shop/b', '/Shop/c', '/Shop/moved', '/Shop/missing', '/Shop/x/missing']) {
    await get(`${router.publicUrl}${urlPath}`);
  }
  for (let i = 0; i < 10; i++) await get(`${router.publicUrl}/Unruled${i}/page`);

  // Then: Prometheus text, one series per (module, backend, class), every class of a route present.
  const { contentType, samples } = await metrics();
  expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  const requests = (labels: Record<string, string>) => valueOf(samples, 'cutover_router_requests_total', labels);
  expect(
    ['2xx', '3xx', '4xx', '5xx'].map((c) => requests({ module: 'Shop', backend: 'shop-v1', code_class: c })),
  ).toEqual([3, 1, 2, 0]);
  // Paths without a rule are the default rule's: one module label, not one per path (bounded cardinality).
  expect(requests({ module: 'default', backend: 'default', code_class: '2xx' })).toBe(10);
  const modules = new Set(
    samples.filter((s) => s.name === 'cutover_router_requests_total').map((s) => s.labels.module),
  );
  expect([...modules].sort()).toEqual(['Shop', 'default']);

  // The duration histogram: buckets 5 ms .. 10 s, one observation per answer.
  const route = { module: 'Shop', backend: 'shop-v1' };
  const buckets = samples
    .filter((s) => s.name === 'cutover_router_request_duration_seconds_bucket' && s.labels.backend === 'shop-v1')
    .map((s) => s.labels.le);
  expect(buckets).toEqual(['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']);
  expect(valueOf(samples, 'cutover_router_request_duration_seconds_count', route)).toBe(6);
  expect(valueOf(samples, 'cutover_router_request_duration_seconds_bucket', { ...route, le: '+Inf' })).toBe(6);
  expect(valueOf(samples, 'cutover_router_request_duration_seconds_sum', route)).toBeGreaterThan(0);
  expect(valueOf(samples, 'cutover_router_in_flight', { backend: 'shop-v1' })).toBe(0);

  // And: GET /stats has the same counts per backend, for a test or an activity without Prometheus.
  const { backends } = await stats();
  expect(backends['shop-v1']).toEqual({ requests: 6, byClass: { '2xx': 3, '3xx': 1, '4xx': 2, '5xx': 0 } });
  expect(backends.default).toEqual({ requests: 10, byClass: { '2xx': 10, '3xx': 0, '4xx': 0, '5xx': 0 } });
});

test('a 502 the router answers itself counts as backend "none"; every retry counts under the module', async () => {
  // Given: a module whose only backend's targets refuse connections.
  await driver.ensureBackend('gone', [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`]);
  await driver.setModuleRule('Gone', [{ backend: 'gone', weight: 100 }]);
  const retriesBefore = (await stats()).retries;

  // When
  const answers = [await get(`${router.publicUrl}/Gone/`), await get(`${router.publicUrl}/Gone/again`)];

  // Then
  expect(answers.map((a) => a.status)).toEqual([502, 502]);
  const { samples } = await metrics();
  const { retries, backends } = await stats();
  expect(retries - retriesBefore).toBeGreaterThanOrEqual(2); // each request tried both targets at least
  expect(valueOf(samples, 'cutover_router_upstream_retries_total', { module: 'Gone' })).toBe(retries - retriesBefore);
  expect(
    valueOf(samples, 'cutover_router_requests_total', { module: 'Gone', backend: 'none', code_class: '5xx' }),
  ).toBe(2);
  // The backend that never answered has answered nothing (its series exist, at 0).
  expect(
    valueOf(samples, 'cutover_router_requests_total', { module: 'Gone', backend: 'gone', code_class: '5xx' }),
  ).toBe(0);
  expect(valueOf(samples, 'cutover_router_request_duration_seconds_count', { module: 'Gone', backend: 'none' })).toBe(
    2,
  );
  expect(backends.none).toEqual({ requests: 2, byClass: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 2 } });
  expect(backends.gone).toEqual({ requests: 0, byClass: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 } });
});

test('a request being answered is in flight for its backend until its response ends', async () => {
  // Given: a backend that holds its answers until released.
  const held: http.ServerResponse[] = [];
  const slow = http.createServer((_req, res) => {
    held.push(res);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('started');
  });
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
  const slowUrl = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
  await driver.ensureBackend('slow', [slowUrl]);
  await driver.setModuleRule('Slow', [{ backend: 'slow', weight: 100 }]);
  const inFlight = async () => valueOf((await metrics()).samples, 'cutover_router_in_flight', { backend: 'slow' });
  try {
    // When: two requests are being answered.
    const pending = [get(`${router.publicUrl}/Slow/1`), get(`${router.publicUrl}/Slow/2`)];
    while (held.length < 2) await sleep(20);
    await sleep(50); // the router has the response headers by now (the backend flushed them)

    // Then: both are in flight for "slow", also in /stats (per target), and none are once they end.
    expect(await inFlight()).toBe(2);
    expect((await stats()).inFlight[slowUrl]).toBe(2);
    for (const res of held) res.end(' done');
    expect((await Promise.all(pending)).map((a) => a.body)).toEqual(['started done', 'started done']);
    let now = await inFlight();
    for (let i = 0; now !== 0 && i < 100; i++) now = (await sleep(20), await inFlight());
    expect(now).toBe(0);
    expect((await stats()).backends.slow?.requests).toBe(2);
  } finally {
    for (const res of held) res.destroy();
    await new Promise((resolve) => slow.close(resolve));
  }
});
