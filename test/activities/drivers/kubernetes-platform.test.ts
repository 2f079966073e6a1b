/**
 * The Kubernetes platform driver against a real Kubernetes API server (kube-apiserver, etcd, controller manager and
 * scheduler built from source; kwok plays the kubelet so pods become Running/Ready on a fake node). One cluster for
 * this file (test/support/kwok.ts); a fresh namespace per test.
 *
 * kwok runs no container and its pod IPs are fake: nothing here sends a request to a pod. Health is the pod's Ready
 * condition as the API reports it (probe: readiness); assertions are on the API objects.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { V1Role } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { parseAllDocuments } from 'yaml';
import { defaultDrivers } from '../../../activities/drivers';
import { newKubernetesDriver } from '../../../activities/drivers/kubernetes';
import type { KubernetesPlatformConfig } from '../../../activities/drivers/kubernetes';
import { classifyError, ErrorType } from '../../../activities/errors';
import type { Platform, ReplicaSetSpec, ReplicaSetState } from '../../../activities/ports';
import { replicaSetName } from '../../../activities/ports';
import { answer, request, startHttpFaultLayer } from '../../support/http-faults';
import type { HttpFaultLayer } from '../../support/http-faults';
import {
  adminTls,
  k8sStatusBody,
  kubeconfigForHttpFront,
  kubeconfigWithRole,
  unprivilegedKubeconfig,
  useKwokCluster,
} from '../../support/kwok';
import type { KwokCluster } from '../../support/kwok';
import { freePort } from '../../support/temporal';

jest.setTimeout(120_000);

const cluster = useKwokCluster('platform-test');

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function config(
  k: KwokCluster,
  namespace: string,
  extra: Partial<KubernetesPlatformConfig> = {},
): KubernetesPlatformConfig {
  return {
    namespace,
    image: 'registry.example.invalid/shop:{version}',
    port: 8080,
    kubeconfig: k.kubeconfig,
    gracePeriod: 5_000,
    env: { LOG_LEVEL: 'info' },
    ...extra,
  };
}

function setSpec(application: string, version: string, replicas: number): ReplicaSetSpec {
  return {
    name: replicaSetName(application, version, 'green'),
    application,
    version,
    slot: 'green',
    modules: ['Catalog', 'Cart'],
    replicas,
    env: { FEATURE: 'on' },
  };
}

/** Probes every replica until all are healthy (kwok makes a pod Ready a second or two after it is scheduled). */
async function awaitAllHealthy(platform: Platform, name: string, expected: number): Promise<ReplicaSetState> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const state = await platform.getReplicaSet(name);
    if (state && state.replicas.length === expected) {
      const results = await Promise.all(state.replicas.map((r) => platform.probe(r, '/Catalog/_ping.html', 1000)));
      if (results.every((r) => r.healthy) && state.replicas.every((r) => r.address && r.running)) return state;
    }
    if (Date.now() > deadline) throw new Error(`${name}: not ${expected} healthy replicas: ${JSON.stringify(state)}`);
    await sleep(250);
  }
}

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('Kubernetes platform driver (real API server, kwok nodes)', () => {
  test('ensureReplicaSet creates N labelled pods owned by the set record; they become Ready; retries create nothing more', async () => {
    const k = cluster();
    const ns = await k.createNamespace('k8s-ensure');
    const platform = newKubernetesDriver(config(k, ns));
    const spec = setSpec('shop', '2.0.0+build.7', 3);

    // When: the replica set is ensured.
    const state = await platform.ensureReplicaSet(spec);

    // Then: its record and three pods <set>-0..2 exist, labelled, owned by the record.
    expect(state).toMatchObject({
      name: spec.name,
      application: 'shop',
      version: '2.0.0+build.7',
      slot: 'green',
      desired: 3,
    });
    expect(state.replicas.map((r) => r.id)).toEqual([0, 1, 2].map((i) => `${spec.name}-${i}`));
    const record = await k.core.readNamespacedConfigMap({ name: spec.name, namespace: ns });
    expect(record.metadata?.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'cutover' });
    expect(JSON.parse(record.data?.['spec.json'] ?? '{}')).toMatchObject({
      modules: ['Catalog', 'Cart'],
      env: { FEATURE: 'on' },
    });
    const pods = await k.pods(ns);
    expect(pods.map((p) => p.name)).toEqual(state.replicas.map((r) => r.id));
    for (const [i, pod] of pods.entries()) {
      expect(pod.labels).toEqual({
        'app.kubernetes.io/name': 'shop',
        'app.kubernetes.io/managed-by': 'cutover',
        'cutover.io/replica-set': spec.name,
        'cutover.io/replica-index': String(i),
        'cutover.io/slot': 'green',
        'cutover.io/version': '2.0.0-build.7',
      });
      expect(pod.ownerUid).toBe(record.metadata?.uid);
    }
    const pod0 = await k.core.readNamespacedPod({ name: `${spec.name}-0`, namespace: ns });
    const container = pod0.spec?.containers[0];
    expect(container?.image).toBe('registry.example.invalid/shop:2.0.0+build.7');
    expect(container?.readinessProbe?.httpGet).toMatchObject({ path: '/Catalog/_ping.html', port: 8080 });
    expect(Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value]))).toEqual({
      LOG_LEVEL: 'info',
      FEATURE: 'on',
      CUTOVER_APP: 'shop',
      CUTOVER_VERSION: '2.0.0+build.7',
      CUTOVER_MODULES: 'Catalog,Cart',
      CUTOVER_REPLICA_ID: `${spec.name}-0`,
      PORT: '8080',
    });
    expect(pod0.spec?.terminationGracePeriodSeconds).toBe(5);

    // And: every pod becomes Running and Ready (kwok), with an address from its pod IP; the probe says how it knew.
    const ready = await awaitAllHealthy(platform, spec.name, 3);
    const readyPods = await k.pods(ns);
    expect(ready.replicas.map((r) => r.address)).toEqual(readyPods.map((p) => `http://${p.podIP}:8080`));
    const probe = await platform.probe(ready.replicas[0]!, '/Catalog/_ping.html', 1000);
    expect(probe).toEqual({ healthy: true, detail: expect.stringContaining('probe: readiness') as unknown });
    const uids = Object.fromEntries(
      (await k.core.listNamespacedPod({ namespace: ns })).items.map((p) => [p.metadata?.name, p.metadata?.uid]),
    );

    // When: the same call is retried, and a launch of an existing replica is retried.
    const again = await platform.ensureReplicaSet(spec);
    const relaunched = await platform.launchReplica(spec.name, `${spec.name}-1`);

    // Then: the very same pods (same uids), no second copy, desired still 3.
    expect(again.replicas.map((r) => r.id)).toEqual(state.replicas.map((r) => r.id));
    expect(again.desired).toBe(3);
    expect(relaunched).toEqual(ready.replicas[1]);
    const after = (await k.core.listNamespacedPod({ namespace: ns })).items;
    expect(Object.fromEntries(after.map((p) => [p.metadata?.name, p.metadata?.uid]))).toEqual(uids);
    expect((await platform.getReplicaSet(spec.name))?.desired).toBe(3);
  });

  test('a fresh driver (a restarted worker) rebuilds every replica set of the application from the API', async () => {
    const k = cluster();
    const ns = await k.createNamespace('k8s-restart');
    const before = newKubernetesDriver(config(k, ns));
    const blue = {
      ...setSpec('shop', '1.0.0', 2),
      name: replicaSetName('shop', '1.0.0', 'blue'),
      slot: 'blue' as const,
    };
    const green = setSpec('shop', '2.0.0', 1);
    await before.ensureReplicaSet(blue);
    await before.ensureReplicaSet(green);
    await before.ensureReplicaSet({ ...setSpec('other', '2.0.0', 1) });
    await awaitAllHealthy(before, blue.name, 2);
    await awaitAllHealthy(before, green.name, 1);
    const seen = await before.listReplicaSets('shop');

    // When: another driver instance, sharing nothing with the first but the cluster, lists the application.
    const after = newKubernetesDriver(config(k, ns));
    const listed = await after.listReplicaSets('shop');

    // Then: both sets, their versions, colors, desired counts and replicas (with addresses); not the other app.
    expect(listed).toEqual(seen);
    expect(listed.map((s) => [s.name, s.version, s.slot, s.desired, s.replicas.length])).toEqual([
      [blue.name, '1.0.0', 'blue', 2, 2],
      [green.name, '2.0.0', 'green', 1, 1],
    ]);
    expect(listed.flatMap((s) => s.replicas).every((r) => r.running && r.address.startsWith('http://'))).toBe(true);
    expect(await after.listReplicaSets('nothing-here')).toEqual([]);
  });

  test('reads set records written before `color` was renamed `slot`', async () => {
    const k = cluster();
    const ns = await k.createNamespace('k8s-legacy-slot');
    const platform = newKubernetesDriver(config(k, ns));
    const spec = setSpec('shop', '1.0.0', 1);
    await platform.ensureReplicaSet(spec);
    // Given: the record as an older Cutover wrote it (spec.json's field named color).
    const record = await k.core.readNamespacedConfigMap({ name: spec.name, namespace: ns });
    const { slot, ...rest } = JSON.parse(record.data?.['spec.json'] ?? '{}') as Record<string, unknown>;
    await k.core.replaceNamespacedConfigMap({
      name: spec.name,
      namespace: ns,
      body: { ...record, data: { ...record.data, 'spec.json': JSON.stringify({ ...rest, color: slot }) } },
    });

    // Then: a fresh driver reads the slot from it.
    const listed = await newKubernetesDriver(config(k, ns)).listReplicaSets('shop');
    expect(listed.map((s) => [s.name, s.slot])).toEqual([[spec.name, 'green']]);
  });

  test('scaleReplicaSet launches the lowest missing and retires the highest-numbered; retire calls are no-ops when repeated', async () => {
    const k = cluster();
    const ns = await k.createNamespace('k8s-scale');
    const platform = newKubernetesDriver(config(k, ns));
    const spec = setSpec('shop', '3.0.0', 2);
    await platform.ensureReplicaSet(spec);
    const id = (i: number) => `${spec.name}-${i}`;

    const up = await platform.scaleReplicaSet(spec.name, 4);
    expect(up.desired).toBe(4);
    expect(up.replicas.map((r) => r.id)).toEqual([id(0), id(1), id(2), id(3)]);
    await awaitAllHealthy(platform, spec.name, 4);

    const down = await platform.scaleReplicaSet(spec.name, 1);
    expect(down.desired).toBe(1);
    expect(down.replicas.map((r) => r.id)).toEqual([id(0)]);
    expect((await k.pods(ns)).map((p) => p.name)).toEqual([id(0)]);

    // A rolling update's single launch and retire keep `desired` equal to the pods, retried or not.
    await platform.launchReplica(spec.name, id(5));
    await platform.launchReplica(spec.name, id(5));
    expect((await platform.getReplicaSet(spec.name))?.desired).toBe(2);
    await platform.retireReplica(spec.name, id(0));
    await platform.retireReplica(spec.name, id(0));
    const one = await platform.getReplicaSet(spec.name);
    expect(one?.replicas.map((r) => r.id)).toEqual([id(5)]);
    expect(one?.desired).toBe(1);
    expect((await k.pods(ns)).map((p) => p.name)).toEqual([id(5)]);

    // retireReplicaSet deletes the pods and the record; a second call and a get find nothing.
    await platform.retireReplicaSet(spec.name);
    await platform.retireReplicaSet(spec.name);
    expect(await platform.getReplicaSet(spec.name)).toBeUndefined();
    expect(await platform.listReplicaSets('shop')).toEqual([]);
    expect(await k.pods(ns)).toEqual([]);
    const records = await k.core.listNamespacedConfigMap({
      namespace: ns,
      labelSelector: 'app.kubernetes.io/managed-by=cutover',
    });
    expect(records.items).toEqual([]);
    await expect(platform.retireReplica(spec.name, id(5))).resolves.toBeUndefined();
    await expect(platform.launchReplica(spec.name, id(0))).rejects.toThrow(/replica set ".*" does not exist/);
  });

  describe('a replica set at a time', () => {
    let layer: HttpFaultLayer | undefined;
    afterEach(async () => {
      await layer?.close();
      layer = undefined;
    });

    /** A driver whose requests go through an HTTP layer that logs them (and may answer in the API server's place). */
    async function logged(k: KwokCluster, ns: string): Promise<{ platform: Platform; layer: HttpFaultLayer }> {
      const front = await adminTls(k);
      layer = await startHttpFaultLayer({ url: front.server, tls: front.tls });
      const kubeconfig = kubeconfigForHttpFront(k, layer.url, `logged-${ns}`);
      return { platform: newKubernetesDriver(config(k, ns, { kubeconfig })), layer };
    }

    /** "METHOD path" of the pod requests logged since `from` (query dropped). */
    function podCalls(l: HttpFaultLayer, ns: string, from: number): string[] {
      const pods = `/api/v1/namespaces/${ns}/pods`;
      return l
        .requests()
        .slice(from)
        .filter((r) => r.path.startsWith(pods))
        .map((r) => `${r.method} ${(r.path.split('?')[0] ?? '').slice(pods.length) || '(collection)'}`);
    }

    test('retires of one tick are one deletecollection; probes of one tick one LIST; a whole set one deletecollection', async () => {
      const k = cluster();
      const ns = await k.createNamespace('k8s-collection');
      const { platform, layer: l } = await logged(k, ns);
      const spec = setSpec('shop', '4.0.0', 6);
      const id = (i: number) => `${spec.name}-${i}`;
      await platform.ensureReplicaSet(spec);
      const state = await awaitAllHealthy(platform, spec.name, 6);

      // When: six probes side by side (an activity's lanes).
      let from = l.requests().length;
      const probes = await Promise.all(state.replicas.map((r) => platform.probe(r, '/Catalog/_ping.html', 1000)));

      // Then: all healthy, from one labelled LIST of the set's pods (no GET per pod).
      expect(probes.every((p) => p.healthy)).toBe(true);
      expect(podCalls(l, ns, from)).toEqual(['GET (collection)']);

      // When: four retirements side by side, each retried once.
      from = l.requests().length;
      await Promise.all([2, 3, 4, 5].map((i) => platform.retireReplica(spec.name, id(i))));
      const deletes = podCalls(l, ns, from).filter((c) => c.startsWith('DELETE'));
      await Promise.all([2, 3, 4, 5].map((i) => platform.retireReplica(spec.name, id(i))));

      // Then: one deletecollection selecting their indexes, no per-pod delete; the record counts two.
      expect(deletes).toEqual(['DELETE (collection)']);
      const selector = new URL(l.requests().find((r) => r.method === 'DELETE')?.path ?? '', 'http://x').searchParams;
      expect(selector.get('labelSelector')).toBe(
        `app.kubernetes.io/managed-by=cutover,cutover.io/replica-set=${spec.name},cutover.io/replica-index in (2,3,4,5)`,
      );
      expect((await k.pods(ns)).map((p) => p.name)).toEqual([id(0), id(1)]);
      expect(await platform.getReplicaSet(spec.name)).toMatchObject({ desired: 2 });

      // And: retiring the set is one deletecollection of its pods, then the record.
      from = l.requests().length;
      await platform.retireReplicaSet(spec.name);
      expect(podCalls(l, ns, from)).toEqual(['DELETE (collection)']);
      expect(await k.pods(ns)).toEqual([]);
      expect(await platform.getReplicaSet(spec.name)).toBeUndefined();
    });

    test('deletecollection answered 403 (a Role without it): per-pod deletes instead, and the same outcome', async () => {
      const k = cluster();
      const ns = await k.createNamespace('k8s-collection-403');
      const { platform, layer: l } = await logged(k, ns);
      l.inject({
        name: '403 deletecollection',
        match: request('DELETE', `/api/v1/namespaces/${ns}/pods`),
        times: Infinity,
        effect: answer(
          403,
          k8sStatusBody(403, 'Forbidden', 'pods is forbidden: cannot deletecollection resource "pods"'),
          { 'content-type': 'application/json' },
        ),
      });
      const spec = setSpec('shop', '4.1.0', 4);
      const id = (i: number) => `${spec.name}-${i}`;
      await platform.ensureReplicaSet(spec);

      let from = l.requests().length;
      await Promise.all([2, 3].map((i) => platform.retireReplica(spec.name, id(i))));
      expect(
        podCalls(l, ns, from)
          .filter((c) => c.startsWith('DELETE'))
          .sort(),
      ).toEqual(['DELETE (collection)', `DELETE /${id(2)}`, `DELETE /${id(3)}`]);
      expect((await k.pods(ns)).map((p) => p.name)).toEqual([id(0), id(1)]);
      expect(await platform.getReplicaSet(spec.name)).toMatchObject({ desired: 2 });

      from = l.requests().length;
      await platform.retireReplicaSet(spec.name);
      expect(
        podCalls(l, ns, from)
          .filter((c) => c.startsWith('DELETE'))
          .sort(),
      ).toEqual(['DELETE (collection)', `DELETE /${id(0)}`, `DELETE /${id(1)}`]);
      expect(l.hits()['403 deletecollection']).toBe(2);
      expect(await k.pods(ns)).toEqual([]);
      expect(await platform.getReplicaSet(spec.name)).toBeUndefined();
    });

    test('a real Role without deletecollection on pods: retires still work (per pod)', async () => {
      const k = cluster();
      const ns = await k.createNamespace('k8s-no-collection');
      const kubeconfig = await kubeconfigWithRole(k, ns, 'no-deletecollection', [
        { resources: ['pods'], verbs: ['get', 'list', 'create', 'delete'] },
        { resources: ['configmaps'], verbs: ['get', 'list', 'create', 'update', 'delete'] },
      ]);
      const platform = newKubernetesDriver(config(k, ns, { kubeconfig }));
      const spec = setSpec('shop', '4.2.0', 3);
      await platform.ensureReplicaSet(spec);
      await Promise.all([1, 2].map((i) => platform.retireReplica(spec.name, `${spec.name}-${i}`)));
      expect((await k.pods(ns)).map((p) => p.name)).toEqual([`${spec.name}-0`]);
      await platform.retireReplicaSet(spec.name);
      expect(await k.pods(ns)).toEqual([]);
    });

    test('concurrency: 32 by default, the platform hint the activities size their lanes by; validated', () => {
      const k = cluster();
      expect(newKubernetesDriver(config(k, 'any')).concurrency).toBe(32);
      expect(newKubernetesDriver(config(k, 'any', { concurrency: 4 })).concurrency).toBe(4);
      for (const bad of [0, 1.5, 1000]) {
        expect(() => newKubernetesDriver(config(k, 'any', { concurrency: bad }))).toThrow(
          /concurrency of the Kubernetes platform must be an integer from 1 to 256/,
        );
      }
    });
  });

  test('readiness, preStop, nodeSelector and tolerations reach the pods; a selector no node matches is reported', async () => {
    const k = cluster();
    const ns = await k.createNamespace('k8s-podspec');
    const platform = newKubernetesDriver(
      config(k, ns, {
        readiness: { period: 2000, timeout: 3000, initialDelay: 1000, failureThreshold: 4, successThreshold: 2 },
        preStop: { httpGet: { path: '/_drain' } },
        // kwok's fake node is labelled type=kwok (scripts/k8s-cluster.sh) and has no taint.
        nodeSelector: { type: 'kwok' },
        tolerations: [{ key: 'cutover.test/dedicated', operator: 'Equal', value: 'cutover', effect: 'NoSchedule' }],
      }),
    );
    const spec = setSpec('shop', '5.0.0', 1);
    await platform.ensureReplicaSet(spec);
    await awaitAllHealthy(platform, spec.name, 1);
    const pod = await k.core.readNamespacedPod({ name: `${spec.name}-0`, namespace: ns });
    const container = pod.spec?.containers[0];
    expect(container?.readinessProbe).toMatchObject({
      httpGet: { path: '/Catalog/_ping.html', port: 8080 },
      initialDelaySeconds: 1,
      periodSeconds: 2,
      timeoutSeconds: 3,
      failureThreshold: 4,
      successThreshold: 2,
    });
    expect(container?.lifecycle?.preStop).toEqual({ httpGet: { path: '/_drain', port: 8080, scheme: 'HTTP' } });
    expect(pod.spec?.nodeSelector).toEqual({ type: 'kwok' });
    expect(pod.spec?.tolerations).toContainEqual({
      key: 'cutover.test/dedicated',
      operator: 'Equal',
      value: 'cutover',
      effect: 'NoSchedule',
    });
    expect(pod.spec?.terminationGracePeriodSeconds).toBe(5);

    // A preStop sleep as long as the grace period is refused by the driver too (a config not from a spec).
    expect(() => newKubernetesDriver(config(k, ns, { preStop: { sleep: 5000 } }))).toThrow(
      /preStop.sleep of the Kubernetes platform \(5000 ms\) must be shorter than its gracePeriod \(5000 ms\)/,
    );

    // The lifecycle sleep action (Kubernetes 1.30+) is accepted by this API server.
    const sleeper = newKubernetesDriver(config(k, ns, { preStop: { sleep: 2000 } }));
    const slept = setSpec('shop', '5.0.1', 1);
    await sleeper.ensureReplicaSet(slept);
    const sleepPod = await k.core.readNamespacedPod({ name: `${slept.name}-0`, namespace: ns });
    expect(sleepPod.spec?.containers[0]?.lifecycle?.preStop).toEqual({ sleep: { seconds: 2 } });

    // Without the new fields: the pod spec has none of them (today's readinessProbe).
    const plain = setSpec('shop', '5.0.2', 1);
    await newKubernetesDriver(config(k, ns)).ensureReplicaSet(plain);
    const plainPod = await k.core.readNamespacedPod({ name: `${plain.name}-0`, namespace: ns });
    expect(plainPod.spec?.containers[0]?.lifecycle).toBeUndefined();
    expect(plainPod.spec?.nodeSelector).toBeUndefined();
    expect(plainPod.spec?.containers[0]?.readinessProbe).toMatchObject({ periodSeconds: 5, failureThreshold: 3 });

    // A selector no node matches: the pod stays Pending, and the set's state says why.
    const nowhere = newKubernetesDriver(config(k, ns, { nodeSelector: { 'cutover.test/pool': 'none' } }));
    const stuck = setSpec('shop', '5.0.3', 1);
    await nowhere.ensureReplicaSet(stuck);
    let replica = (await nowhere.getReplicaSet(stuck.name))?.replicas[0];
    for (let i = 0; i < 120 && !replica?.reason; i++) {
      await sleep(250);
      replica = (await nowhere.getReplicaSet(stuck.name))?.replicas[0];
    }
    expect(replica).toMatchObject({ running: false });
    expect(replica?.reason).toMatch(/^pod Pending, not scheduled: Unschedulable: 0\/1 nodes are available/);
    expect(replica?.reason).toMatch(/node affinity\/selector/);
    const probe = await nowhere.probe(replica!, '/Catalog/_ping.html', 1000);
    expect(probe).toMatchObject({
      healthy: false,
      reason: expect.stringMatching(/not scheduled: Unschedulable/) as unknown,
    });
  });

  describe('pods that end (Failed or Succeeded)', () => {
    let layer: HttpFaultLayer | undefined;
    afterEach(async () => {
      await layer?.close();
      layer = undefined;
    });

    /** Ends a pod as the kubelet would report it: its phase (and reason) through the status subresource. */
    async function end(k: KwokCluster, ns: string, name: string, phase: 'Failed' | 'Succeeded'): Promise<string> {
      const pod = await k.core.readNamespacedPod({ name, namespace: ns });
      await k.core.patchNamespacedPodStatus({
        name,
        namespace: ns,
        body: [
          { op: 'replace', path: '/status/phase', value: phase },
          { op: 'add', path: '/status/reason', value: phase === 'Failed' ? 'Evicted' : 'Completed' },
          { op: 'add', path: '/status/message', value: `test: ${phase}` },
        ],
      });
      return pod.metadata?.uid ?? '';
    }

    async function podOf(k: KwokCluster, ns: string, name: string) {
      const pods = (await k.core.listNamespacedPod({ namespace: ns })).items.filter((p) => p.metadata?.name === name);
      expect(pods).toHaveLength(1);
      return pods[0]!;
    }

    test('a replacement whose creation is answered 503 is created on a second try (its predecessor is gone)', async () => {
      const k = cluster();
      const ns = await k.createNamespace('k8s-ended-503');
      const front = await adminTls(k);
      layer = await startHttpFaultLayer({ url: front.server, tls: front.tls });
      const platform = newKubernetesDriver(
        config(k, ns, { kubeconfig: kubeconfigForHttpFront(k, layer.url, `ended-503-${ns}`) }),
      );
      const spec = setSpec('shop', '6.1.0', 1);
      await platform.ensureReplicaSet(spec);
      await awaitAllHealthy(platform, spec.name, 1);
      const failedUid = await end(k, ns, `${spec.name}-0`, 'Failed');
      layer.inject({
        name: '503 create',
        match: request('POST', `/api/v1/namespaces/${ns}/pods`),
        times: 1,
        effect: answer(503, k8sStatusBody(503, 'ServiceUnavailable', 'try again'), {
          'content-type': 'application/json',
        }),
      });

      const state = await platform.getReplicaSet(spec.name);

      expect(layer.hits()['503 create']).toBe(1);
      expect(state?.replicas.map((r) => r.id)).toEqual([`${spec.name}-0`]);
      const pod = await podOf(k, ns, `${spec.name}-0`);
      expect(pod.metadata?.uid).not.toBe(failedUid);
      expect(pod.metadata?.annotations?.['cutover.io/replacements']).toBe('1');
    });

    test('replaced once under the same name, by two workers at once; then by a launch and a probe; at most 5 times', async () => {
      const k = cluster();
      const ns = await k.createNamespace('k8s-ended');
      const front = await adminTls(k);
      layer = await startHttpFaultLayer({ url: front.server, tls: front.tls });
      const kubeconfig = kubeconfigForHttpFront(k, layer.url, `ended-${ns}`);
      // Two workers: two drivers sharing nothing but the cluster (both through the logging layer).
      const one = newKubernetesDriver(config(k, ns, { kubeconfig }));
      const two = newKubernetesDriver(config(k, ns, { kubeconfig }));
      const spec = setSpec('shop', '6.0.0', 2);
      const id = (i: number) => `${spec.name}-${i}`;
      await one.ensureReplicaSet(spec);
      await awaitAllHealthy(one, spec.name, 2);
      const other = (await podOf(k, ns, id(1))).metadata?.uid;

      // When: pod 0 ends Failed (an eviction), and both workers read the set at once, twice each.
      const failedUid = await end(k, ns, id(0), 'Failed');
      const from = l().requests().length;
      const states = await Promise.all([one, two, one, two].map((p) => p.getReplicaSet(spec.name)));

      // Then: exactly one new pod 0 (one create), annotated as the first replacement and why; pod 1 untouched.
      const creates = l()
        .requests()
        .slice(from)
        .filter((r) => r.method === 'POST' && r.path.startsWith(`/api/v1/namespaces/${ns}/pods`));
      expect(creates).toHaveLength(1);
      const replaced = await podOf(k, ns, id(0));
      expect(replaced.metadata?.uid).not.toBe(failedUid);
      expect(replaced.metadata?.annotations).toMatchObject({
        'cutover.io/replacements': '1',
        'cutover.io/last-end': 'ended Failed: Evicted: test: Failed',
      });
      expect((await podOf(k, ns, id(1))).metadata?.uid).toBe(other);
      // (A worker whose delete lost the race may answer without pod 0 while the winner is creating it.)
      for (const state of states) expect(state?.replicas.map((r) => r.id)).toContain(id(1));
      const healthy = await awaitAllHealthy(two, spec.name, 2);
      expect((await one.getReplicaSet(spec.name))?.desired).toBe(2);
      expect(healthy.replicas.map((r) => r.id)).toEqual([id(0), id(1)]);

      // When: it ends Succeeded, and a (retried) launch of it comes: replaced again, once.
      await end(k, ns, id(0), 'Succeeded');
      await Promise.all([one.launchReplica(spec.name, id(0)), one.launchReplica(spec.name, id(0))]);
      expect((await podOf(k, ns, id(0))).metadata?.annotations).toMatchObject({
        'cutover.io/replacements': '2',
        'cutover.io/last-end': 'ended Succeeded: Completed: test: Succeeded',
      });
      await awaitAllHealthy(one, spec.name, 2);

      // When: it ends while being probed: the probe replaces it and says so.
      await end(k, ns, id(0), 'Failed');
      const probed = await two.probe({ id: id(0), address: '', running: true }, '/Catalog/_ping.html', 1000);
      expect(probed).toEqual({
        healthy: false,
        reason: expect.stringMatching(
          /^pod .*-0 ended Failed: Evicted: test: Failed; replaced it \(replacement 3 of at most 5\); pod Ready/,
        ) as unknown,
      });

      // When: it keeps ending: after the 5th replacement it is left ended, and every path says why.
      for (let n = 4; n <= 5; n++) {
        await awaitAllHealthy(one, spec.name, 2);
        await end(k, ns, id(0), 'Failed');
        await one.getReplicaSet(spec.name);
        expect((await podOf(k, ns, id(0))).metadata?.annotations?.['cutover.io/replacements']).toBe(String(n));
      }
      await awaitAllHealthy(one, spec.name, 2);
      const lastUid = await end(k, ns, id(0), 'Failed');
      const left = (await one.getReplicaSet(spec.name))?.replicas.find((r) => r.id === id(0));
      expect((await podOf(k, ns, id(0))).metadata?.uid).toBe(lastUid);
      expect(left).toMatchObject({ running: false });
      expect(left?.reason).toBe(
        'pod Failed, ended Failed: Evicted: test: Failed; replaced 5 time(s) after it ended, last: ' +
          'ended Failed: Evicted: test: Failed; not replaced again (at most 5)',
      );
      const err = await rejection(two.launchReplica(spec.name, id(0)));
      expect(err.name).toBe(ErrorType.ReplicasUnhealthy);
      expect(err.message).toMatch(/ended Failed: Evicted: test: Failed, after 5 replacements: not replaced again/);
      expect(classifyError(err)).toMatchObject({ nonRetryable: true });

      // A retired set's pods are not replaced: retiring deletes them all.
      await one.retireReplicaSet(spec.name);
      expect(await k.pods(ns)).toEqual([]);

      function l(): HttpFaultLayer {
        if (!layer) throw new Error('no layer');
        return layer;
      }
    });
  });

  test('the spec selects the driver: platform.kind kubernetes', async () => {
    const k = cluster();
    const ns = await k.createNamespace('k8s-registry');
    const platform = defaultDrivers().platform({
      kind: 'kubernetes',
      probe: 'readiness',
      readinessPath: '/{module}/_ping.html',
      gracePeriod: 1000,
      ...config(k, ns),
      env: {},
    });
    expect(platform.kind).toBe('kubernetes');
    expect(await platform.listReplicaSets('shop')).toEqual([]);
  });

  test('the Role in docs/kubernetes.md is enough for every operation', async () => {
    const k = cluster();
    const ns = await k.createNamespace('k8s-rbac');
    const kubeconfig = await unprivilegedKubeconfig(k, ns);
    // The Role exactly as the docs give it (the first YAML block holding one), in this namespace.
    const doc = fs.readFileSync(path.join(__dirname, '../../../docs/kubernetes.md'), 'utf8');
    const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
    const role = blocks
      .flatMap((b) => parseAllDocuments(b).map((d) => d.toJS() as V1Role))
      .find((o) => o.kind === 'Role');
    expect(role?.rules?.length).toBe(2);
    await k.rbac.createNamespacedRole({ namespace: ns, body: { ...role, metadata: { name: 'cutover-platform' } } });
    await k.rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'cutover-platform' },
        subjects: [{ kind: 'ServiceAccount', name: 'cutover-unprivileged', namespace: ns }],
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'cutover-platform' },
      },
    });
    const platform = newKubernetesDriver(config(k, ns, { kubeconfig }));
    const spec = setSpec('shop', '1.0.0', 2);

    // Every Platform operation, as the bound ServiceAccount (RBAC is cached briefly: the first call may retry).
    let state: ReplicaSetState | undefined;
    for (let i = 0; !state; i++) {
      state = await platform.ensureReplicaSet(spec).catch(async (err: Error) => {
        if (i > 20 || !/HTTP 403/.test(err.message)) throw err;
        await sleep(250);
        return undefined;
      });
    }
    await awaitAllHealthy(platform, spec.name, 2);
    await platform.scaleReplicaSet(spec.name, 3);
    await platform.launchReplica(spec.name, `${spec.name}-4`);
    await platform.retireReplica(spec.name, `${spec.name}-0`);
    expect((await platform.listReplicaSets('shop'))[0]?.replicas.map((r) => r.id)).toEqual(
      [1, 2, 4].map((i) => `${spec.name}-${i}`),
    );
    await platform.retireReplicaSet(spec.name);
    expect(await platform.getReplicaSet(spec.name)).toBeUndefined();
    expect(await k.pods(ns)).toEqual([]);
  });

  describe('errors', () => {
    test('a namespace that does not exist: non-retryable ResourceNotFound naming the resource and verb', async () => {
      const k = cluster();
      const platform = newKubernetesDriver(config(k, 'no-such-namespace'));
      const err = await rejection(platform.ensureReplicaSet(setSpec('shop', '1.0.0', 1)));
      expect(err.name).toBe(ErrorType.ResourceNotFound);
      expect(err.message).toMatch(
        /cannot create configmap shop-1-0-0-green in namespace no-such-namespace: namespace no-such-namespace does not exist/,
      );
      const failure = classifyError(err);
      expect(failure).toBeInstanceOf(ApplicationFailure);
      expect(failure).toMatchObject({ type: ErrorType.ResourceNotFound, nonRetryable: true });
    });

    test('no RBAC permission (403): non-retryable PlatformRequestRejected naming the verb and resource', async () => {
      const k = cluster();
      const ns = await k.createNamespace('k8s-forbidden');
      const kubeconfig = await unprivilegedKubeconfig(k, ns);
      const platform = newKubernetesDriver(config(k, ns, { kubeconfig }));
      const err = await rejection(platform.ensureReplicaSet(setSpec('shop', '1.0.0', 1)));
      expect(err.name).toBe(ErrorType.PlatformRequestRejected);
      expect(err.message).toMatch(
        new RegExp(
          `^Kubernetes API server https://127\\.0\\.0\\.1:\\d+ forbids the worker to create configmap shop-1-0-0-green ` +
            `in namespace ${ns} \\(HTTP 403`,
        ),
      );
      expect(classifyError(err)).toMatchObject({ type: ErrorType.PlatformRequestRejected, nonRetryable: true });
      const listErr = await rejection(platform.listReplicaSets('shop'));
      expect(listErr.message).toMatch(/forbids the worker to list (configmaps|pods)/);
      expect(await k.pods(ns)).toEqual([]);
    });

    test('an object the API server refuses (422): non-retryable, naming the pod', async () => {
      const k = cluster();
      const ns = await k.createNamespace('k8s-invalid');
      const platform = newKubernetesDriver(
        config(k, ns, { resources: { limits: { cpu: '1' }, requests: { cpu: '2' } } }),
      );
      const err = await rejection(platform.ensureReplicaSet(setSpec('shop', '1.0.0', 1)));
      expect(err.name).toBe(ErrorType.PlatformRequestRejected);
      expect(err.message).toMatch(
        /Kubernetes API server https:\/\/\S+ rejected create pod shop-1-0-0-green-0 in namespace .* as invalid \(HTTP 422: /,
      );
      expect(classifyError(err)).toMatchObject({ nonRetryable: true });
    });

    test('an API server that does not answer: a plain, retryable error naming the server and the cause', async () => {
      const k = cluster();
      const broken = k.kubeconfig.replace(/kubeconfig$/, 'kubeconfig-unreachable');
      const closed = await freePort(); // nothing listens there
      fs.writeFileSync(
        broken,
        fs
          .readFileSync(k.kubeconfig, 'utf8')
          .replace(/server: https:\/\/127\.0\.0\.1:\d+/, `server: https://127.0.0.1:${closed}`),
      );
      const platform = newKubernetesDriver(config(k, 'default', { kubeconfig: broken }));
      const err = await rejection(platform.listReplicaSets('shop'));
      expect(err.message).toMatch(
        new RegExp(
          `^Kubernetes API server https://127\\.0\\.0\\.1:${closed}: list (configmaps|pods) .* failed: ECONNREFUSED`,
        ),
      );
      expect(err.name).toBe('Error');
      expect(classifyError(err)).toBe(err); // not an ApplicationFailure: the activity's retry policy applies
    });
  });
});
