/**
 * The router metrics through nginx, without a workflow: the nginx driver with `metricsLog` writes its files, a real
 * nginx accepts them (`nginx -t` before each reload) and logs every module request, and a real mtail running
 * activities/drivers/nginx/cutover-router.mtail exports them as the local router's metrics. Counted exactly: a backend
 * whose sample app answers 30 % of pages with 500 (deterministically: 3 of any 10 consecutive pages).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FLAG_FILE, newNginxDriver } from '../../../../activities/drivers/nginx';
import type { Router } from '../../../../activities/ports';
import { startMtail } from '../../../support/mtail';
import type { MtailServer, Series } from '../../../support/mtail';
import { startNginx } from '../../../support/nginx';
import type { NginxServer } from '../../../support/nginx';
import type { SampleApp } from '../local-support';
import { get, sleep, startSampleApp, tempDir } from '../local-support';

jest.setTimeout(120_000);

const MODULES = ['Shop', 'Cart', 'Orders'];
const dir = tempDir('nginx-metrics');
const metricsLog = path.join(dir, 'cutover-metrics.log');
let apps: SampleApp[] = [];
let nginx: NginxServer;
let mtail: MtailServer;
let driver: Router;

const REQUESTS = 'cutover_router_requests_total';
const DURATION_COUNT = 'cutover_router_request_duration_seconds_count';

/** module/backend/code_class -> count (module/backend for the histogram's series). */
function byKey(series: Series[]): Map<string, number> {
  return new Map(
    series.map((s) => [[s.labels.module, s.labels.backend, s.labels.code_class].filter(Boolean).join('/'), s.value]),
  );
}

async function counts(): Promise<Map<string, number>> {
  return byKey([...(await mtail.metrics(REQUESTS)), ...(await mtail.metrics(DURATION_COUNT))]);
}

/** What changed between two readings (zero changes left out). */
function diff(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of after) {
    const d = value - (before.get(key) ?? 0);
    if (d !== 0) out[key] = d;
  }
  return out;
}

/** The counts once mtail has read everything written so far (two readings 400 ms apart agree: it polls every 250). */
async function settled(): Promise<Map<string, number>> {
  let last = await counts();
  for (;;) {
    await sleep(400);
    const now = await counts();
    if (Object.keys(diff(last, now)).length === 0) return now;
    last = now;
  }
}

/** Runs `action`, waits until mtail has counted `n` more answers (and a moment for any beyond), returns the change. */
async function counted(n: number, action: () => Promise<void>): Promise<Record<string, number>> {
  const total = (m: Map<string, number>) =>
    [...m].filter(([k]) => k.split('/').length === 3).reduce((sum, [, v]) => sum + v, 0);
  const before = await settled();
  await action();
  const deadline = Date.now() + 10_000;
  while (total(await counts()) - total(before) < n && Date.now() < deadline) await sleep(100);
  return diff(before, await settled());
}

/** `n` GETs of `urlPath` through nginx, one after the other. */
const gets = (n: number, urlPath: string) => async () => {
  for (let i = 0; i < n; i++) await get(`${nginx.url}${urlPath}`);
};

beforeAll(async () => {
  const platformServer = await startSampleApp({ dir, version: 'platform-server', modules: MODULES });
  const blue = await startSampleApp({ dir, version: '1.0.0', modules: MODULES });
  const bad = await startSampleApp({ dir, version: '2.0.0-bad', modules: MODULES, env: { SAMPLE_ERROR_RATE: '0.3' } });
  apps = [platformServer, blue, bad];
  nginx = await startNginx({ platformServer: platformServer.url, dir: path.join(dir, 'nginx') });
  mtail = await startMtail({ log: metricsLog, dir: path.join(dir, 'mtail') });
  driver = newNginxDriver(nginx.routerConfig({ metricsLog }));
  await driver.ensureBackend('shop-1-blue', [blue.url]);
  await driver.ensureBackend('shop-2-green', [bad.url]);
  await driver.setModuleRule('Shop', [{ backend: 'shop-1-blue', weight: 100 }]);
  await driver.setModuleRule('Cart', [{ backend: 'shop-2-green', weight: 100 }]);
});

afterAll(async () => {
  try {
    await mtail?.stop();
    await nginx?.stop();
    for (const app of apps) await app.stop();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('nginx accepts the files and logs each module request: module, backend, class, seconds, then the combined format', async () => {
  await get(`${nginx.url}/Shop/page?q=1`);
  const last = fs.readFileSync(metricsLog, 'utf8').trimEnd().split('\n').at(-1);
  expect(last).toMatch(
    /^Shop shop-1-blue 2xx \d+\.\d{3} 127\.0\.0\.1 - - \[[^\]]+\] "GET \/Shop\/page\?q=1 HTTP\/1\.1" 200 \d+ "-" "[^"]*"$/,
  );
});

test('mtail counts every answer by module, backend and class, all four classes exported; the histogram counts them too', async () => {
  expect(await counted(20, gets(20, '/Shop/'))).toEqual({
    'Shop/shop-1-blue/2xx': 20,
    'Shop/shop-1-blue': 20,
  });
  // 10 consecutive pages of the bad build: exactly 3 answered 500.
  expect(await counted(10, gets(10, '/Cart/'))).toEqual({
    'Cart/shop-2-green/2xx': 7,
    'Cart/shop-2-green/5xx': 3,
    'Cart/shop-2-green': 10,
  });
  const shop = (await mtail.metrics(REQUESTS)).filter((s) => s.labels.backend === 'shop-1-blue');
  expect(shop.map((s) => [s.labels.code_class, s.value === 0 ? 0 : 'some'])).toEqual([
    ['2xx', 'some'],
    ['3xx', 0],
    ['4xx', 0],
    ['5xx', 0],
  ]);
  const buckets = (await mtail.metrics('cutover_router_request_duration_seconds_bucket')).map((s) => s.labels.le);
  expect(new Set(buckets)).toEqual(
    new Set(['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']),
  );
});

test('paths without a rule (location /) are not logged', async () => {
  // mtail reads the log in order: once the Shop request after them is counted, the others would have been too.
  const change = await counted(1, async () => {
    await gets(3, '/Orders/')();
    await gets(2, '/Nothing/here')();
    await gets(1, '/Shop/')();
  });
  expect(change).toEqual({ 'Shop/shop-1-blue/2xx': 1, 'Shop/shop-1-blue': 1 });
  expect(new Set((await mtail.metrics(REQUESTS)).map((s) => s.labels.module))).toEqual(new Set(['Shop', 'Cart']));
});

test('requests answered by the reload drain location (@cutover_close) are counted with their module', async () => {
  const flag = path.join(nginx.confDir, FLAG_FILE);
  fs.writeFileSync(flag, '');
  try {
    const change = await counted(4, async () => {
      for (let i = 0; i < 4; i++) {
        const answer = await fetch(`${nginx.url}/Shop/`);
        await answer.arrayBuffer();
        expect(answer.headers.get('connection')).toBe('close'); // it really went through @cutover_close
      }
      await gets(2, '/Orders/')(); // location / while reloading: @cutover_close too, and not logged
    });
    expect(change).toEqual({ 'Shop/shop-1-blue/2xx': 4, 'Shop/shop-1-blue': 4 });
  } finally {
    fs.rmSync(flag, { force: true });
  }
});

test('a later change without metricsLog stays valid for nginx: that module stops logging, the others go on', async () => {
  const plain = newNginxDriver(nginx.routerConfig());
  await plain.setModuleRule('Shop', [{ backend: 'shop-1-blue', weight: 100 }]);
  await plain.setModuleRule('Shop', [{ backend: 'shop-1-blue', weight: 100 }]); // no change: no reload
  const change = await counted(10, async () => {
    for (let i = 0; i < 5; i++) expect((await get(`${nginx.url}/Shop/`)).version).toBe('1.0.0');
    await gets(10, '/Cart/')();
  });
  expect(change).toEqual({ 'Cart/shop-2-green/2xx': 7, 'Cart/shop-2-green/5xx': 3, 'Cart/shop-2-green': 10 });
});
