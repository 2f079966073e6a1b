/**
 * The comparison with a native Deployment on the real node (issue 14): a Deployment's own rolling update (the
 * Deployment controller replaces the pods; the Service's endpoints follow their readiness; kube-proxy routes) under
 * the same load as Cutover's rolling update in kubernetes-real-node-nginx.realnode.ts: the same load generator and
 * mix (undici, 4 connections, GETs, POSTs and 2.5 s slow requests on /Catalog/ and /Cart/), the same pods (the
 * Kubernetes driver's own pod spec: image, env, readinessProbe, 10 s grace period), 3 replicas, maxSurge 1 and
 * maxUnavailable 0.
 *
 * The requests go to the Service's ClusterIP from the host (kube-proxy's iptables rules), which is how a
 * Deployment is reached without Cutover. Two variants: the pods as they are, and with a preStop sleep of 5 s (the
 * usual advice: the pod keeps serving while the endpoint removal reaches kube-proxy). What each drops is measured,
 * not assumed: the test prints every phase's counts (docs/kubernetes-real-node.md, "Against a native Deployment",
 * records a run) and asserts what must hold either way (the rollout completed, each phase answered by its versions,
 * the load had its minimum, nothing failed before the rollout). No request goes to the ClusterIP before kube-proxy
 * has written its rule (awaitServiceRule): without it the address is routed off the machine.
 */
import { AppsV1Api, KubeConfig } from '@kubernetes/client-node';
import type { V1Deployment, V1PodSpec } from '@kubernetes/client-node';
import { toK8sPod } from '../../activities/drivers/kubernetes/client-shapes';
import { podManifest } from '../../activities/drivers/kubernetes/records';
import { awaitServiceRule, useRealNode } from '../support/k8s-node';
import type { RealNode } from '../support/k8s-node';
import { formatLoadReport, judgeLoad, startLoad } from '../../examples/load';
import type { LoadReport } from '../../examples/load';
import { POD_DELIVERY_ENV } from '../support/pod-deliveries';

jest.setTimeout(300_000);

const realNode = useRealNode();

const REPLICAS = 3;
const MODULES = ['Catalog', 'Cart'];
const APP = 'shop';
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The pod spec the Kubernetes driver gives a replica of `version` (records.ts podManifest, client-shapes toK8sPod). */
function driverPodSpec(node: RealNode, namespace: string, version: string, preStopSeconds?: number): V1PodSpec {
  const manifest = podManifest(
    { namespace, image: node.image, port: 8080, env: POD_DELIVERY_ENV },
    10,
    {
      record: { name: `${APP}-native`, uid: 'none', resourceVersion: '', labels: {}, data: {} },
      spec: { application: APP, version, slot: 'rolling', modules: MODULES, env: {} },
      desired: REPLICAS,
    },
    `${APP}-native-0`,
  );
  const spec = toK8sPod(manifest).spec as V1PodSpec;
  const [container] = spec.containers;
  if (!container) throw new Error('the driver made a pod without a container');
  container.env = container.env?.filter((e) => e.name !== 'CUTOVER_REPLICA_ID');
  if (preStopSeconds) container.lifecycle = { preStop: { sleep: { seconds: preStopSeconds } } };
  return spec;
}

function deployment(name: string, spec: V1PodSpec): V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas: REPLICAS,
      selector: { matchLabels: { app: name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: { metadata: { labels: { app: name } }, spec },
    },
  };
}

/** Waits until the Deployment's rollout is complete and only its `REPLICAS` new pods are left on the node. */
async function awaitRollout(node: RealNode, apps: AppsV1Api, namespace: string, name: string): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const d = await apps.readNamespacedDeployment({ name, namespace });
    const s = d.status ?? {};
    const complete =
      (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) &&
      s.updatedReplicas === REPLICAS &&
      s.replicas === REPLICAS &&
      s.availableReplicas === REPLICAS;
    const pods = (await node.core.listNamespacedPod({ namespace })).items;
    if (complete && pods.length === REPLICAS) return;
    if (Date.now() > deadline) throw new Error(`${namespace}/${name}: rollout not complete: ${JSON.stringify(s)}`);
    await sleep(250);
  }
}

/** Waits until the Service answers 1.0.0 through its ClusterIP (its rule written: awaitServiceRule). */
async function awaitServed(url: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const version = await fetch(`${url}/${MODULES[0]}/`, { signal: AbortSignal.timeout(2_000) })
      .then((r) => (r.ok ? r.headers.get('x-cutover-version') : `HTTP ${r.status}`))
      .catch((e: unknown) => String(e));
    if (version === '1.0.0') return;
    if (Date.now() > deadline) throw new Error(`${url}: the Service does not answer 1.0.0 (last: ${version})`);
    await sleep(200);
  }
}

interface Measured {
  report: LoadReport;
  rolloutMs: number;
}

/** A Deployment of 1.0.0 behind a Service, then its rolling update to 2.0.0 under load through the ClusterIP. */
async function nativeRollingUpdate(node: RealNode, name: string, preStopSeconds?: number): Promise<Measured> {
  const namespace = await node.createNamespace(name);
  const kc = new KubeConfig();
  kc.loadFromFile(node.kubeconfig);
  const apps = kc.makeApiClient(AppsV1Api);
  await apps.createNamespacedDeployment({
    namespace,
    body: deployment(APP, driverPodSpec(node, namespace, '1.0.0', preStopSeconds)),
  });
  const service = await node.core.createNamespacedService({
    namespace,
    body: {
      metadata: { name: APP },
      spec: { selector: { app: APP }, ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] },
    },
  });
  await awaitRollout(node, apps, namespace, APP);
  const clusterIP = service.spec?.clusterIP ?? '';
  await awaitServiceRule(clusterIP);
  const url = `http://${clusterIP}:80`;
  await awaitServed(url);

  const load = startLoad({ url, paths: MODULES.map((m) => `/${m}/`), clients: ['undici'], connections: 4 });
  try {
    await load.next('upgrading');
    const t0 = Date.now();
    // A JSON Patch (RFC 6902), the client's default content type for a patch: the new version's pod spec.
    const value = driverPodSpec(node, namespace, '2.0.0', preStopSeconds);
    await apps.patchNamespacedDeployment({
      name: APP,
      namespace,
      body: [{ op: 'replace', path: '/spec/template/spec', value }],
    });
    await awaitRollout(node, apps, namespace, APP);
    const rolloutMs = Date.now() - t0;
    await load.next('after');
    await load.waitForRequests();
    return { report: await load.stop(), rolloutMs };
  } finally {
    await load.stop();
  }
}

/** What must hold whatever the Deployment drops: before only 1.0.0, after only 2.0.0, each phase its minimum. */
function expectCompleteRollout(label: string, m: Measured): void {
  process.stdout.write(`${label}: rollout ${m.rolloutMs} ms\n${formatLoadReport(m.report)}\n`);
  const versions = { before: ['1.0.0'], upgrading: ['1.0.0', '2.0.0'], after: ['2.0.0'] };
  const { problems } = judgeLoad(m.report, { versions });
  // Failed and unfinished requests are the measurement; any other problem (a wrong version, a phase short of its
  // minimum) means the comparison did not run as described.
  const other = problems.filter((p) => !/failed|unfinished/.test(p));
  expect(other).toEqual([]);
  // Before the rollout the Service is in a steady state: nothing may fail there.
  const before = m.report.phases.find((p) => p.phase === 'before');
  expect({ failed: before?.failed, unfinished: before?.unfinished }).toEqual({ failed: 0, unfinished: 0 });
  const after = m.report.phases.find((p) => p.phase === 'after');
  expect(Object.keys(after?.byVersion ?? {})).toEqual(['2.0.0']);
}

describe('a native Deployment rolling update on the real node, same pods and load as Cutover', () => {
  test('Deployment (3 pods, maxSurge 1, maxUnavailable 0) through its Service: measured failed requests', async () => {
    const m = await nativeRollingUpdate(realNode(), 'native');
    expectCompleteRollout('native Deployment', m);
  });

  test('the same with a preStop sleep of 5 s: measured failed requests', async () => {
    const m = await nativeRollingUpdate(realNode(), 'prestop', 5);
    expectCompleteRollout('native Deployment + preStop 5 s', m);
  });
});
