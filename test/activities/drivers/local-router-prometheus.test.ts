/**
 * The local router's metrics as a real Prometheus sees them: a real router process splitting one module 90/10
 * between two tiny backends (the canary answering 500 to every fifth request), a real Prometheus scraping the
 * router's admin API every second, and the canary's error ratio read back with the query a canary analysis runs.
 */
import * as path from 'node:path';
import { newLocalRouterDriver } from '../../../activities/drivers/local';
import { startPrometheus } from '../../support/prometheus';
import type { PrometheusServer } from '../../support/prometheus';
import type { RunningRouter } from './local-support';
import { startRouterProcess, tempDir } from './local-support';
import { sendRequests, startNamedServer } from './named-servers';
import type { NamedServer } from './named-servers';

jest.setTimeout(90_000);

const dir = tempDir('router-prom');
let platformServer: NamedServer;
let stable: NamedServer;
let canary: NamedServer;
let router: RunningRouter;
let prometheus: PrometheusServer | undefined;

interface Stats {
  backends: Record<string, { requests: number; byClass: Record<string, number> }>;
}

async function stats(): Promise<Stats> {
  return (await (await fetch(`${router.adminUrl}/stats`)).json()) as Stats;
}

beforeAll(async () => {
  [platformServer, stable, canary] = await Promise.all([
    startNamedServer('platform'),
    startNamedServer('a'),
    startNamedServer('b', { status: (n) => (n % 5 === 0 ? 500 : 200) }),
  ]);
  router = await startRouterProcess({
    stateFile: path.join(dir, 'rules.json'),
    defaultTarget: platformServer.url,
    logFile: path.join(dir, 'router.log'),
  });
  const driver = newLocalRouterDriver({ adminUrl: router.adminUrl, publicUrl: router.publicUrl });
  await driver.ensureBackend('a', [stable.url]);
  await driver.ensureBackend('b', [canary.url]);
  await driver.setModuleRule('Shop', [
    { backend: 'a', weight: 90 },
    { backend: 'b', weight: 10 },
  ]);
  prometheus = await startPrometheus({ targets: [new URL(router.adminUrl).host], dir: path.join(dir, 'prometheus') });
});

afterAll(async () => {
  await prometheus?.stop();
  await router?.stop();
  await Promise.all([platformServer?.stop(), stable?.stop(), canary?.stop()]);
});

test("Prometheus reads the canary's error ratio (20 %) and every backend's count from the router", async () => {
  const server = prometheus as PrometheusServer;
  // Given: both backends have answered once already (their series exist) and Prometheus has scraped that.
  while (canary.answered.total < 1) await sendRequests(`${router.publicUrl}/Shop/warmup`, 20);
  await server.waitForScrape();
  const canaryBefore = { total: canary.answered.total, failed: canary.answered.byStatus.get(500) ?? 0 };

  // When: a few hundred requests go through the router, and Prometheus scrapes the result.
  const answers = await sendRequests(`${router.publicUrl}/Shop/page`, 600);
  await server.waitForScrape();

  // Then: the ratio Prometheus computes is the canary's, near 0.2 (every fifth of its answers is a 500).
  const canaryTotal = canary.answered.total - canaryBefore.total;
  const canaryFailed = (canary.answered.byStatus.get(500) ?? 0) - canaryBefore.failed;
  expect(canaryTotal).toBeGreaterThan(20); // 600 draws at p = 0.1: mean 60, sd 7.3
  expect(answers.byStatus.get(500)).toBe(canaryFailed);
  const [ratio, ...more] = await server.query(
    'sum(rate(cutover_router_requests_total{backend="b",code_class="5xx"}[30s])) / ' +
      'sum(rate(cutover_router_requests_total{backend="b"}[30s]))',
  );
  expect(more).toEqual([]);
  process.stdout.write(
    `canary error ratio: Prometheus ${ratio?.value.toFixed(4)}, backend ${canaryFailed}/${canaryTotal} = ` +
      `${(canaryFailed / canaryTotal).toFixed(4)}\n`,
  );
  expect(ratio?.value).toBeGreaterThan(0.15);
  expect(ratio?.value).toBeLessThan(0.25);
  expect(Math.abs((ratio?.value ?? 0) - canaryFailed / canaryTotal)).toBeLessThan(0.03);

  // And: the counts per backend and class in Prometheus are exactly the router's own (GET /stats) and the backends'.
  const counts = await server.query('sum by (backend, code_class) (cutover_router_requests_total{module="Shop"})');
  const byKey = Object.fromEntries(counts.map((s) => [`${s.metric.backend} ${s.metric.code_class}`, s.value]));
  const { backends } = await stats();
  expect(byKey).toEqual({
    'a 2xx': stable.answered.total,
    'a 3xx': 0,
    'a 4xx': 0,
    'a 5xx': 0,
    'b 2xx': canary.answered.byStatus.get(200),
    'b 3xx': 0,
    'b 4xx': 0,
    'b 5xx': canary.answered.byStatus.get(500),
  });
  expect(backends.a).toEqual({
    requests: stable.answered.total,
    byClass: { '2xx': stable.answered.total, '3xx': 0, '4xx': 0, '5xx': 0 },
  });
  expect(backends.b?.byClass['5xx']).toBe(canary.answered.byStatus.get(500));
  const durations = await server.query('sum by (backend) (cutover_router_request_duration_seconds_count)');
  expect(Object.fromEntries(durations.map((s) => [s.metric.backend, s.value]))).toEqual({
    a: stable.answered.total,
    b: canary.answered.total,
  });
  const retries = await server.query('sum(cutover_router_upstream_retries_total)');
  expect(retries).toEqual([]); // nothing was retried: no series at all
});
