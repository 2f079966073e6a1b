/**
 * The pod spec fields of the Kubernetes platform (issue 14) on a real node (scripts/k8s-node.sh: kubelet,
 * containerd, runc; docs/kubernetes-real-node.md), where the scheduler and the kubelet act on them for real:
 *
 * - nodeSelector + tolerations: the node is tainted `cutover.test/dedicated=cutover:NoSchedule` and labelled
 *   `cutover.test/pool=cutover`; replicas selecting the label and tolerating the taint run and become Ready, one
 *   without the toleration stays Pending, and the set's state says why (the scheduler's Unschedulable message:
 *   "0/1 nodes are available: 1 node(s) had untolerated taint(s)").
 * - preStop httpGet /_drain: a replica retired with a request in flight answers it in full; the app's own log shows
 *   the kubelet called /_drain (with that request in flight) before SIGTERM.
 *
 * The taint and the label are removed in afterAll (the node itself is stopped after the file as well).
 */
import type { CoreV1Api, V1Taint } from '@kubernetes/client-node';
import { newKubernetesDriver } from '../../../activities/drivers/kubernetes';
import type { KubernetesPlatformConfig } from '../../../activities/drivers/kubernetes';
import type { Platform, ReplicaSetSpec } from '../../../activities/ports';
import { replicaSetName } from '../../../activities/ports';
import { awaitHealthy, useRealNode } from '../../support/k8s-node';
import { collectPodDeliveries, POD_DELIVERY_ENV } from '../../support/pod-deliveries';

jest.setTimeout(180_000);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const realNode = useRealNode();

const TAINT: V1Taint = { key: 'cutover.test/dedicated', value: 'cutover', effect: 'NoSchedule' };
const LABEL = 'cutover.test/pool';
const TOLERATION = { key: TAINT.key, operator: 'Equal' as const, value: 'cutover', effect: 'NoSchedule' as const };

function spec(version: string, replicas: number): ReplicaSetSpec {
  return {
    name: replicaSetName('shop', version, 'green'),
    application: 'shop',
    version,
    slot: 'green',
    modules: ['Catalog'],
    replicas,
    env: {},
  };
}

/** JSON Patch path segment (RFC 6901): "/" in a label key is "~1". */
const pointer = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');

async function setTaintAndLabel(core: CoreV1Api, nodeName: string, on: boolean): Promise<void> {
  const node = await core.readNode({ name: nodeName });
  const others = (node.spec?.taints ?? []).filter((t) => t.key !== TAINT.key);
  const taints = on ? [...others, TAINT] : others;
  const hasLabel = node.metadata?.labels?.[LABEL] !== undefined;
  await core.patchNode({
    name: nodeName,
    body: [
      { op: node.spec?.taints ? 'replace' : 'add', path: '/spec/taints', value: taints },
      ...(on
        ? [{ op: 'add', path: `/metadata/labels/${pointer(LABEL)}`, value: 'cutover' }]
        : hasLabel
          ? [{ op: 'remove', path: `/metadata/labels/${pointer(LABEL)}` }]
          : []),
    ],
  });
}

describe('Kubernetes pod spec on a real node: nodeSelector, tolerations, preStop /_drain', () => {
  let kubeconfig = '';
  let image = '';
  let core: CoreV1Api;
  let namespace = '';
  let nodeName = '';

  beforeAll(async () => {
    ({ kubeconfig, image, core } = realNode());
    namespace = await realNode().createNamespace('podspec');
    nodeName = (await core.listNode()).items[0]?.metadata?.name ?? '';
    expect(nodeName).not.toBe('');
    await setTaintAndLabel(core, nodeName, true);
  });

  afterAll(async () => {
    if (!nodeName) return;
    await setTaintAndLabel(core, nodeName, false);
    const node = await core.readNode({ name: nodeName });
    expect(node.spec?.taints?.some((t) => t.key === TAINT.key) ?? false).toBe(false);
    expect(node.metadata?.labels?.[LABEL]).toBeUndefined();
  });

  function driver(extra: Partial<KubernetesPlatformConfig>): Platform {
    return newKubernetesDriver({
      namespace,
      image,
      port: 8080,
      kubeconfig,
      probe: 'http',
      gracePeriod: 10_000,
      nodeSelector: { [LABEL]: 'cutover' },
      ...extra,
    });
  }

  test('replicas selecting the label and tolerating the taint run; one without the toleration stays Pending, reported', async () => {
    // When: two replicas with the selector and the toleration, one with the selector only.
    const tolerating = driver({ tolerations: [TOLERATION] });
    const intolerant = driver({});
    await tolerating.ensureReplicaSet(spec('1.0.0', 2));
    await intolerant.ensureReplicaSet(spec('1.0.1', 1));

    // Then: the two become Ready on the node and answer over HTTP.
    const state = await awaitHealthy(tolerating, spec('1.0.0', 2).name, 2);
    for (const replica of state.replicas) {
      const pod = await core.readNamespacedPod({ name: replica.id, namespace });
      expect(pod.spec?.nodeName).toBe(nodeName);
      const response = await fetch(`${replica.address}/Catalog/products`, { signal: AbortSignal.timeout(5000) });
      expect(response.headers.get('x-cutover-replica')).toBe(replica.id);
    }

    // And: the other stays Pending, unscheduled, and its state and probe say it is the taint.
    const name = spec('1.0.1', 1).name;
    let replica = (await intolerant.getReplicaSet(name))?.replicas[0];
    for (let i = 0; i < 120 && !replica?.reason; i++) {
      await sleep(250);
      replica = (await intolerant.getReplicaSet(name))?.replicas[0];
    }
    process.stderr.write(`[k8s-node] the replica without the toleration: ${replica?.reason}\n`);
    expect(replica).toMatchObject({ running: false, address: '' });
    expect(replica?.reason).toMatch(/^pod Pending, not scheduled: Unschedulable: 0\/1 nodes are available: /);
    // (The scheduler of v1.36 says "1 node(s) had untolerated taint(s)", without naming the taint.)
    expect(replica?.reason).toContain('untolerated taint');
    const pod = await core.readNamespacedPod({ name: `${name}-0`, namespace });
    expect(pod.status?.phase).toBe('Pending');
    expect(pod.spec?.nodeName).toBeUndefined();
    await intolerant.retireReplicaSet(name);
    await tolerating.retireReplicaSet(spec('1.0.0', 2).name);
  });

  test('preStop httpGet /_drain: a replica retired with a request in flight answers it; /_drain ran before SIGTERM', async () => {
    const deliveries = collectPodDeliveries({ kubeconfig, namespace, core });
    try {
      const platform = driver({
        tolerations: [TOLERATION],
        preStop: { httpGet: { path: '/_drain' } },
        env: POD_DELIVERY_ENV,
      });
      const set = spec('2.0.0', 1);
      await platform.ensureReplicaSet(set);
      const [victim] = (await awaitHealthy(platform, set.name, 1)).replicas;
      if (!victim) throw new Error('no replica');
      const pod = await core.readNamespacedPod({ name: victim.id, namespace });
      expect(pod.spec?.containers[0]?.lifecycle?.preStop?.httpGet).toMatchObject({ path: '/_drain', port: 8080 });

      // When: the replica is retired while a 3 s request is in flight on it.
      const inFlight = fetch(`${victim.address}/Catalog/slow`, {
        headers: { 'x-sample-delay-ms': '3000', 'x-request-id': 'in-flight-drain' },
        signal: AbortSignal.timeout(20_000),
      });
      await sleep(300);
      await platform.retireReplica(set.name, victim.id);

      // Then: the request is answered in full, with Connection: close.
      const response = await inFlight;
      expect(response.status).toBe(200);
      expect(response.headers.get('connection')).toBe('close');
      expect(await response.json()).toMatchObject({ requestId: 'in-flight-drain', replica: victim.id });
      for (;;) {
        const pods = await core.listNamespacedPod({ namespace });
        if (!pods.items.some((p) => p.metadata?.name === victim.id)) break;
        await sleep(200);
      }

      // And: the app's log: the kubelet's GET /_drain came with the request in flight, it was answered, and only
      // then did SIGTERM come (the preStop hook ran to its end first).
      const events = (await deliveries.events()).filter((e) => e.replica === victim.id);
      expect(deliveries.problems()).toEqual([]);
      const order = events.map((e) => (e.event === 'draining' ? `draining ${e.inFlight}` : `${e.event} ${e.id ?? ''}`));
      process.stderr.write(`[k8s-node] ${victim.id}: ${order.join(', ')}\n`);
      expect(order).toEqual(['received in-flight-drain', 'draining 1', 'answered in-flight-drain', 'stopping ']);
    } finally {
      deliveries.stop();
    }
  });
});
