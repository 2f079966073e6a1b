/**
 * Metrics and logs on real parts: a worker process (dist/worker/main.js) with its Cutover metrics and the Temporal
 * SDK's, the hook server and the local router, all scraped by a real Prometheus during two real blue-green
 * deployments on the local fixture (one of them waits for approval); the assertions go through Prometheus' HTTP API.
 * The worker's JSON log lines of a deployment carry its id.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';
import { HOOK_TOKEN, hookConfig, lifeTimeGet, makeHookDirs, startHookServer } from '../support/hooks';
import type { RunningHookServer } from '../support/hooks';
import { startPrometheus } from '../support/prometheus';
import type { PrometheusServer } from '../support/prometheus';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitForReady(url: string): Promise<void> {
  const until = Date.now() + 60_000;
  for (;;) {
    const res = await fetch(url).catch(() => undefined);
    if (res?.status === 200) return;
    await res?.arrayBuffer();
    if (Date.now() > until) throw new Error(`${url} never answered 200 (last: ${res?.status ?? 'no answer'})`);
    await sleep(200);
  }
}

/** The value of a query that must answer exactly one sample, once it has one (scrapes and polls lag). */
async function eventually(prom: PrometheusServer, promql: string, expected: number): Promise<number> {
  const until = Date.now() + 30_000;
  let last: number | undefined;
  for (;;) {
    const samples = await prom.query(promql);
    last = samples.length === 1 ? samples[0]?.value : undefined;
    if (last === expected || Date.now() > until) return last ?? NaN;
    await sleep(250);
  }
}

describe('metrics scraped by a real Prometheus, and JSON logs', () => {
  let f: Fixture;
  let hooks: RunningHookServer;
  let prom: PrometheusServer;
  let workerLog: string;
  let metricsPort: number;

  beforeAll(async () => {
    f = await createFixture('observe');
    metricsPort = await freePort();
    const sdkPort = await freePort();
    workerLog = path.join(f.stateDir, 'worker.log');
    await f.startWorkerProcess({
      env: {
        CUTOVER_METRICS_PORT: String(metricsPort),
        CUTOVER_METRICS_HOST: '127.0.0.1',
        CUTOVER_SDK_METRICS_ADDRESS: `127.0.0.1:${sdkPort}`,
        CUTOVER_APPROVALS_POLL_INTERVAL: '300ms',
      },
    });
    await waitForReady(`http://127.0.0.1:${metricsPort}/readyz`);
    hooks = await startHookServer(hookConfig(makeHookDirs('observe'), {}), f.client);
    prom = await startPrometheus({
      targets: [
        `127.0.0.1:${metricsPort}`,
        `127.0.0.1:${sdkPort}`,
        new URL(hooks.url).host,
        new URL(f.stack.adminUrl).host,
      ],
    });
  });

  afterAll(async () => {
    await prom?.stop();
    await hooks?.close();
    await f?.close();
  });

  test('deployments, steps, rule switches, approvals, SDK, hook and router metrics', async () => {
    // Given: v1 deployed; v2 waits for approval.
    const first = await f.deploy('1.0.0');
    expect((await f.result(first)).outcome).toBe('succeeded');
    const second = await f.deploy('2.0.0', { strategy: { approval: { mode: 'required', timeout: '1h' } } });
    await f.waitForPhase(second, 'AwaitingApproval');

    // Then: the gate is seen by the approvals poll (visibility + status query), and its age grows.
    expect(await eventually(prom, 'cutover_approvals_waiting', 1)).toBe(1);
    const age = await prom.query('cutover_approval_oldest_wait_seconds');
    expect(age).toHaveLength(1);
    expect(age[0]?.value).toBeGreaterThan(0);

    // When: approved, and some traffic goes through the router; the hook server gets three calls.
    await f.client.approve(second, { by: 'alice', version: '2.0.0' });
    expect((await f.result(second)).outcome).toBe('succeeded');
    for (let i = 0; i < 5; i++) expect(await f.versionOf('Catalog')).toBe('2.0.0');
    expect((await lifeTimeGet(hooks, 'build', {})).status).toBe(200); // a connection test
    expect((await lifeTimeGet(hooks, 'build', {}, { token: null })).status).toBe(401);
    expect((await lifeTimeGet(hooks, 'run', {}, { token: `${HOOK_TOKEN}-wrong` })).status).toBe(403);
    await prom.waitForScrape();

    // Then: Cutover's own deployment metrics, from the workflow interceptor's sink.
    expect(await eventually(prom, 'cutover_deployments_started_total{strategy="blue-green"}', 2)).toBe(2);
    expect(
      await eventually(prom, 'cutover_deployments_finished_total{strategy="blue-green",outcome="succeeded"}', 2),
    ).toBe(2);
    expect(await prom.query('cutover_rollbacks_total')).toEqual([]);
    expect(await eventually(prom, 'cutover_approvals_waiting', 0)).toBe(0);

    // Step durations by activity, and the rule switches.
    const switchSteps = await prom.query('cutover_step_duration_seconds_count{activity="switchTraffic",outcome="ok"}');
    expect(switchSteps).toHaveLength(1);
    expect(switchSteps[0]?.value).toBeGreaterThanOrEqual(2);
    const healthy = await prom.query(
      'cutover_step_duration_seconds_sum{activity="awaitReplicaSetHealthy",outcome="ok"}',
    );
    expect(healthy[0]?.value).toBeGreaterThan(0);
    const switches = await prom.query('cutover_rule_switches_total{activity="switchTraffic",outcome="ok"}');
    expect(switches[0]?.value).toBe(switchSteps[0]?.value);

    // The SDK's runtime metrics (on their own port).
    const sdk = await prom.query('count by (__name__) ({__name__=~"temporal_.+"})');
    const sdkNames = sdk.map((s) => s.metric.__name__);
    expect(sdkNames).toEqual(
      expect.arrayContaining(['temporal_workflow_completed', 'temporal_activity_execution_latency_count']),
    );
    expect(await prom.query('temporal_workflow_completed{workflow_type="blueGreenDeployment"}')).not.toEqual([]);

    // The hook server's calls by stage and status.
    expect(await eventually(prom, 'cutover_hook_requests_total{stage="build",status="200"}', 1)).toBe(1);
    expect(await eventually(prom, 'cutover_hook_requests_total{stage="build",status="401"}', 1)).toBe(1);
    expect(await eventually(prom, 'cutover_hook_requests_total{stage="run",status="403"}', 1)).toBe(1);
    expect(await prom.query('cutover_hook_request_duration_seconds_count{stage="build"}')).toEqual([
      expect.objectContaining({ value: 2 }),
    ]);

    // The local router's per-backend requests and latency.
    const routed = await prom.query('sum(cutover_router_requests_total{module="Catalog",code_class="2xx"})');
    expect(routed[0]?.value).toBeGreaterThanOrEqual(5);
    expect(await prom.query('cutover_router_request_duration_seconds_bucket{module="Catalog"}')).not.toEqual([]);

    // Logs: JSON lines; every line of the deployments' workflows and activities names the deployment.
    const lines = fs
      .readFileSync(workerLog, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const ofSecond = lines.filter((l) => l.workflowId === second);
    expect(ofSecond.length).toBeGreaterThan(0);
    expect(ofSecond.every((l) => l.deploymentId === second)).toBe(true);
    expect(ofSecond.some((l) => l.msg === 'phase' && l.phase === 'AwaitingApproval')).toBe(true);
    expect(lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('cutover worker polling'))).toBe(true);
  });

  test('the worker answers /healthz, /readyz and 404 elsewhere', async () => {
    const base = `http://127.0.0.1:${metricsPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', reason: 'polling' });
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
    expect((await fetch(`${hooks.url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${hooks.url}/readyz`)).json()).toEqual({ status: 'ready' });
  });
});
