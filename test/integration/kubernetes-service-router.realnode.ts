/**
 * Blue-green with `platform.kind: kubernetes` and `router.kind: kubernetes-service` on the real node
 * (scripts/k8s-node.sh: kubelet, containerd, runc, the CNI bridge and kube-proxy; docs/kubernetes-real-node.md), end
 * to end through Temporal (the dev server of the jest global setup, a worker in this process with the default
 * drivers). The switch is the router's: one patch of the Service's selector, then the wait until its EndpointSlices
 * list only the new pods, then `proxySync` for kube-proxy; verify() GETs through the ClusterIP on new connections.
 *
 * The Service starts in front of a "legacy" pod (the sample app answering as `platform-server`, what served before
 * Cutover), so kube-proxy has written its ClusterIP's rule before the first request (awaitServiceRule: without it
 * the address is routed off this machine). The migration to 1.0.0 runs without load; then the upgrade to 2.0.0
 * under the load of the other real-node suites (undici, 4 connections, GETs, POSTs and slow requests through the
 * ClusterIP).
 *
 * What a selector switch does to keep-alive connections is measured, not assumed: kube-proxy sends only new
 * connections to the new pods; an open one stays on its old pod until it closes (the old pod's exit at retirement
 * closes it, and a request caught by that may fail: the platform's preStop drain is what avoids it). The test runs
 * twice. Without a preStop it prints every phase's counts (docs/kubernetes-real-node.md records runs) and asserts
 * what holds whatever the keep-alive connections do: both deployments succeeded, the Service selects the 2.0.0 pods,
 * nothing failed before the upgrade, each phase was answered only by its versions (after the deployment: 2.0.0
 * only), and every request on a new connection after the switch is answered by 2.0.0. With `platform.preStop:
 * {httpGet: {path: /_drain}}` (the sample app closes its keep-alive connections before the kubelet's SIGTERM) it
 * asserts all that and the zero-downtime claim: no request failed or went unfinished.
 *
 * A real-node suite: `make test` runs it after the others (`make test-real-node` alone).
 */
import type { V1PodSpec } from '@kubernetes/client-node';
import { newKubernetesDriver } from '../../activities/drivers/kubernetes';
import { toK8sPod } from '../../activities/drivers/kubernetes/client-shapes';
import { podManifest } from '../../activities/drivers/kubernetes/records';
import { ANNOTATION_ORIGINAL } from '../../activities/drivers/kubernetes-service';
import { formatLoadReport, judgeLoad, startLoad } from '../../examples/load';
import type { LoadReport } from '../../examples/load';
import { createFixtureCore } from '../support/fixture-core';
import type { FixtureCore, RouterPart } from '../support/fixture-core';
import { awaitServiceRule, realNodePlatform, useRealNode } from '../support/k8s-node';
import type { RealNode } from '../support/k8s-node';
import { POD_DELIVERY_ENV } from '../support/pod-deliveries';

jest.setTimeout(300_000);

const realNode = useRealNode();

const MODULES = ['Catalog', 'Cart'];
const SERVICE = 'shop';
const LEGACY = { app: 'legacy' };
/** Requests on new connections after the switch (each its own TCP connection: `Connection: close`). */
const FRESH_REQUESTS = 40;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The driver's own pod spec (records.ts podManifest, client-shapes toK8sPod) answering as `version`. */
function legacyPodSpec(node: RealNode, namespace: string): V1PodSpec {
  const manifest = podManifest(
    { namespace, image: node.image, port: 8080, env: POD_DELIVERY_ENV },
    10,
    {
      record: { name: 'legacy', uid: 'none', resourceVersion: '', labels: {}, data: {} },
      spec: { application: 'legacy', version: 'platform-server', slot: 'rolling', modules: MODULES, env: {} },
      desired: 1,
    },
    'legacy-0',
  );
  return toK8sPod(manifest).spec as V1PodSpec;
}

/** GET /<module>/ on a new connection: the version that answered, or what went wrong. */
async function freshVersion(url: string, module: string): Promise<string> {
  return fetch(`${url}/${module}/`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(5_000) })
    .then(async (r) => {
      await r.arrayBuffer();
      return r.ok ? (r.headers.get('x-cutover-version') ?? 'none') : `HTTP ${r.status}`;
    })
    .catch((e: unknown) => `error ${String(e)}`);
}

async function awaitVersion(url: string, version: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const got = await freshVersion(url, MODULES[0] ?? '');
    if (got === version) return;
    if (Date.now() > deadline) throw new Error(`${url} does not answer ${version} (last: ${got})`);
    await sleep(200);
  }
}

interface ServiceRouterPart extends RouterPart {
  /** The Service's ClusterIP URL. */
  url: string;
  namespace: string;
}

/** The namespace, the legacy pod and the Service in front of it (its ClusterIP rule written), the fixture. */
async function createServiceFixture(
  node: RealNode,
  name: string,
  drain: boolean,
): Promise<FixtureCore<ServiceRouterPart>> {
  const namespace = await node.createNamespace(name);
  await node.core.createNamespacedPod({
    namespace,
    body: { metadata: { name: 'legacy-0', labels: LEGACY }, spec: legacyPodSpec(node, namespace) },
  });
  const created = await node.core.createNamespacedService({
    namespace,
    body: {
      metadata: { name: SERVICE },
      spec: { selector: LEGACY, ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] },
    },
  });
  const clusterIP = created.spec?.clusterIP ?? '';
  await awaitServiceRule(clusterIP);
  const url = `http://${clusterIP}:80`;
  await awaitVersion(url, 'platform-server');
  // The sample app's GET /_drain: Connection: close on every answer and idle keep-alive connections closed, then
  // answered once nothing else is in flight; the kubelet sends SIGTERM only after it answered.
  const preStop = drain ? { preStop: { httpGet: { path: '/_drain' } } } : {};
  const base = realNodePlatform(node, namespace);
  const platform = { spec: { ...base.spec, ...preStop }, driver: { ...base.driver, ...preStop } };
  const core = await createFixtureCore(
    {
      name,
      modules: MODULES,
      phaseTimeoutMs: 90_000,
      platform: () => ({
        driver: newKubernetesDriver(platform.driver),
        spec: () => platform.spec,
      }),
    },
    () =>
      Promise.resolve({
        url,
        namespace,
        routerSpec: () => ({ kind: 'kubernetes-service', namespace, service: SERVICE, kubeconfig: node.kubeconfig }),
      }),
  );
  await core.startInProcessWorker();
  return core;
}

describe('blue-green through a Kubernetes Service selector (real node: kubelet + containerd + runc + kube-proxy)', () => {
  let f: FixtureCore<ServiceRouterPart> | undefined;

  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  async function upgradeUnderLoad(drain: boolean): Promise<void> {
    const node = realNode();
    f = await createServiceFixture(node, drain ? 'svcdrain' : 'svcbg', drain);
    const { url, namespace } = f.router;

    // Given: 1.0.0 live behind the Service (the migration: the legacy selector is kept in an annotation).
    const first = await f.result(await f.deploy('1.0.0'));
    expect(first.outcome).toBe('succeeded');
    await awaitVersion(url, '1.0.0');
    const migrated = await node.core.readNamespacedService({ name: SERVICE, namespace });
    expect(JSON.parse(migrated.metadata?.annotations?.[ANNOTATION_ORIGINAL] ?? 'null')).toEqual(LEGACY);

    // When: the upgrade to 2.0.0 under load through the ClusterIP.
    const load = startLoad({ url, paths: MODULES.map((m) => `/${m}/`), clients: ['undici'], connections: 4 });
    let report: LoadReport;
    const t0 = Date.now();
    let deployMs = 0;
    try {
      await load.next('upgrading');
      const second = await f.result(await f.deploy('2.0.0'));
      deployMs = Date.now() - t0;
      expect(second.outcome).toBe('succeeded');
      await load.next('after');
      await load.waitForRequests();
      report = await load.stop();
    } finally {
      await load.stop();
    }

    // Then: the figures, printed for docs/kubernetes-real-node.md.
    const fresh: string[] = [];
    for (let i = 0; i < FRESH_REQUESTS; i++) fresh.push(await freshVersion(url, MODULES[i % MODULES.length] ?? ''));
    const tally = (xs: string[]) =>
      Object.fromEntries([...new Set(xs)].map((x) => [x, xs.filter((y) => y === x).length]));
    process.stdout.write(
      `kubernetes-service blue-green 1.0.0 -> 2.0.0 (${drain ? 'preStop /_drain' : 'no preStop'}): deployment ${deployMs} ms; ` +
        `${report.failed} failed of ${report.sent} under load (unfinished ${report.unfinished}); ` +
        `afterwards on new connections: ${JSON.stringify(tally(fresh))}\n${formatLoadReport(report)}\n`,
    );

    // Then: each phase was answered by its versions only and had its minimum (failed and unfinished requests are
    // the measurement: a keep-alive connection cut when its old pod exits); once the deployment returned (blue
    // retired, its connections closed) only 2.0.0 answers; nothing failed before the upgrade.
    const { problems } = judgeLoad(report, {
      versions: { before: ['1.0.0'], upgrading: ['1.0.0', '2.0.0'], after: ['2.0.0'] },
    });
    // With the preStop drain, none failed or went unfinished: the zero-downtime claim for this router.
    expect(drain ? problems : problems.filter((p) => !/failed|unfinished/.test(p))).toEqual([]);
    const before = report.phases.find((p) => p.phase === 'before');
    expect({ failed: before?.failed, unfinished: before?.unfinished }).toEqual({ failed: 0, unfinished: 0 });
    expect(report.byVersion['2.0.0'] ?? 0).toBeGreaterThan(0);

    // Then: every request on a new connection after the switch is answered by 2.0.0.
    expect(tally(fresh)).toEqual({ '2.0.0': FRESH_REQUESTS });

    // Then: the Service selects the live 2.0.0 replica set, whose pods are all its EndpointSlices list.
    const live = await f.liveReplicas();
    expect(live.map((r) => r.version)).toEqual(['2.0.0', '2.0.0']);
    const [set] = await f.platform.listReplicaSets(f.application);
    const svc = await node.core.readNamespacedService({ name: SERVICE, namespace });
    expect(svc.spec?.selector).toMatchObject({ 'cutover.io/replica-set': set?.name });
  }

  test('migration off the legacy pod to 1.0.0, then 1.0.0 -> 2.0.0 under load through the ClusterIP (no preStop)', () =>
    upgradeUnderLoad(false));

  test('the same with platform.preStop httpGet /_drain: no request failed or unfinished', () => upgradeUnderLoad(true));
});
