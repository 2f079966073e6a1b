/**
 * The kubernetes-service router against a real Kubernetes API server (kube-apiserver, etcd, and the
 * kube-controller-manager whose EndpointSlice controller writes the Service's slices; kwok plays the kubelet, so the
 * Kubernetes platform's pods become Ready on a fake node). One cluster for this file (test/support/kwok.ts), a fresh
 * namespace per test: a Service `shop` in front of a "legacy" pod (what serves before Cutover's first switch), and
 * the platform's replica sets shop-1.0.0-blue and shop-2.0.0-green, two pods each.
 *
 * kwok's pod IPs and ClusterIPs are fake: nothing here sends a request through the Service (verify() is exercised on
 * the real node: test/integration/kubernetes-service-router.realnode.ts). Assertions are on the API objects.
 */
import { DiscoveryV1Api, KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { newKubernetesDriver } from '../../../activities/drivers/kubernetes';
import {
  ANNOTATION_BACKENDS,
  ANNOTATION_ORIGINAL,
  newClientServiceApi,
  newKubernetesServiceDriver,
} from '../../../activities/drivers/kubernetes-service';
import type { KubernetesServiceRouterConfig, ServiceApi } from '../../../activities/drivers/kubernetes-service';
import { classifyError, ErrorType } from '../../../activities/errors';
import type { Platform, ReplicaSetState, Router } from '../../../activities/ports';
import { replicaSetName } from '../../../activities/ports';
import { kubeconfigWithRole, useKwokCluster } from '../../support/kwok';
import type { KwokCluster } from '../../support/kwok';

jest.setTimeout(120_000);

const cluster = useKwokCluster('service-router-test');

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const LEGACY = { app: 'shop-legacy' };
const MODULES = ['Catalog', 'Cart'];
const GREEN = 'shop-green';
const BLUE = 'shop-blue';

interface World {
  k: KwokCluster;
  ns: string;
  platform: Platform;
  blue: ReplicaSetState;
  green: ReplicaSetState;
  config: KubernetesServiceRouterConfig;
  router: Router;
}

function routerConfig(k: KwokCluster, ns: string, extra: Partial<KubernetesServiceRouterConfig> = {}) {
  return { namespace: ns, service: 'shop', kubeconfig: k.kubeconfig, proxySync: 0, endpointsTimeout: 40_000, ...extra };
}

/** Waits until every pod of the set is Ready with an address (kwok makes them Ready a second or two after scheduling). */
async function awaitReady(platform: Platform, name: string, expected: number): Promise<ReplicaSetState> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const state = await platform.getReplicaSet(name);
    if (state && state.replicas.length === expected && state.replicas.every((r) => r.address)) {
      const probes = await Promise.all(state.replicas.map((r) => platform.probe(r, '/Catalog/_ping.html', 1000)));
      if (probes.every((p) => p.healthy)) return state;
    }
    if (Date.now() > deadline) throw new Error(`${name}: not ${expected} Ready pods: ${JSON.stringify(state)}`);
    await sleep(250);
  }
}

/** The namespace, the legacy pod and the Service in front of it, the two replica sets Ready. */
async function world(prefix: string): Promise<World> {
  const k = cluster();
  const ns = await k.createNamespace(prefix);
  await k.core.createNamespacedPod({
    namespace: ns,
    body: {
      metadata: { name: 'shop-legacy-0', labels: LEGACY },
      spec: {
        containers: [{ name: 'app', image: 'registry.example.invalid/legacy:1', ports: [{ containerPort: 8080 }] }],
      },
    },
  });
  await k.core.createNamespacedService({
    namespace: ns,
    body: { metadata: { name: 'shop' }, spec: { selector: LEGACY, ports: [{ port: 80, targetPort: 8080 }] } },
  });
  const platform = newKubernetesDriver({
    namespace: ns,
    image: 'registry.example.invalid/shop:{version}',
    port: 8080,
    kubeconfig: k.kubeconfig,
    gracePeriod: 5_000,
    env: {},
  });
  const spec = (version: string, slot: 'blue' | 'green') => ({
    name: replicaSetName('shop', version, slot),
    application: 'shop',
    version,
    slot,
    modules: MODULES,
    replicas: 2,
    env: {},
  });
  await platform.ensureReplicaSet(spec('1.0.0', 'blue'));
  await platform.ensureReplicaSet(spec('2.0.0', 'green'));
  const blue = await awaitReady(platform, replicaSetName('shop', '1.0.0', 'blue'), 2);
  const green = await awaitReady(platform, replicaSetName('shop', '2.0.0', 'green'), 2);
  const config = routerConfig(k, ns);
  await awaitEndpoints(k, ns, ['shop-legacy-0']);
  return { k, ns, platform, blue, green, config, router: newKubernetesServiceDriver(config, { pollMs: 100 }) };
}

const addresses = (set: ReplicaSetState) => set.replicas.map((r) => r.address).sort();
const podNames = (set: ReplicaSetState) => set.replicas.map((r) => r.id).sort();

async function service(w: Pick<World, 'k' | 'ns'>) {
  const svc = await w.k.core.readNamespacedService({ name: 'shop', namespace: w.ns });
  return {
    selector: svc.spec?.selector ?? {},
    annotations: svc.metadata?.annotations ?? {},
    resourceVersion: svc.metadata?.resourceVersion ?? '',
  };
}

/** The pods the Service's EndpointSlices list as ready, sorted (the admin's view). */
async function endpointPods(k: KwokCluster, ns: string): Promise<string[]> {
  const kc = new KubeConfig();
  kc.loadFromFile(k.kubeconfig);
  const slices = await kc
    .makeApiClient(DiscoveryV1Api)
    .listNamespacedEndpointSlice({ namespace: ns, labelSelector: 'kubernetes.io/service-name=shop' });
  return slices.items
    .flatMap((s) => s.endpoints ?? [])
    .filter((e) => e.conditions?.ready !== false)
    .map((e) => e.targetRef?.name ?? '?')
    .sort();
}

async function awaitEndpoints(k: KwokCluster, ns: string, pods: string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await endpointPods(k, ns)).join() !== [...pods].sort().join()) {
    if (Date.now() > deadline)
      throw new Error(`endpoints of shop: ${(await endpointPods(k, ns)).join()}, not ${pods.join()}`);
    await sleep(200);
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

const selectorOf = (set: ReplicaSetState) => ({
  'app.kubernetes.io/managed-by': 'cutover',
  'app.kubernetes.io/name': 'shop',
  'cutover.io/replica-set': set.name,
});

describe('kubernetes-service router (real API server, EndpointSlice controller, kwok nodes)', () => {
  test('the switch is one selector patch, the selector before it kept on the Service; the rollback puts it back', async () => {
    const w = await world('svc-switch');
    expect(await w.router.readRules(MODULES)).toEqual({});

    // When: green is published and every module switched to it, as one change.
    await w.router.ensureBackend(GREEN, addresses(w.green));
    await w.router.batch?.setModuleRules(MODULES, [{ backend: GREEN, weight: 100 }]);

    // Then: the Service selects green's replica set, keeps the legacy selector in an annotation, and the switch
    // returned once the EndpointSlices listed green's pods and nothing else (read right after it returned).
    expect(await endpointPods(w.k, w.ns)).toEqual(podNames(w.green));
    const switched = await service(w);
    expect(switched.selector).toEqual(selectorOf(w.green));
    expect(JSON.parse(switched.annotations[ANNOTATION_ORIGINAL] ?? 'null')).toEqual(LEGACY);
    expect(JSON.parse(switched.annotations[ANNOTATION_BACKENDS] ?? 'null')).toEqual({ [GREEN]: selectorOf(w.green) });
    expect(await w.router.readRules(MODULES)).toEqual({
      Catalog: { module: 'Catalog', backends: [{ backend: GREEN, weight: 100 }] },
      Cart: { module: 'Cart', backends: [{ backend: GREEN, weight: 100 }] },
    });
    expect(await w.router.describeBackend(GREEN)).toEqual(addresses(w.green));
    expect(await w.router.describeBackend(BLUE)).toBeUndefined();

    // When: the rule of each module is removed (a migration's rollback).
    await w.router.removeModuleRule('Catalog');
    const restored = await service(w);
    await w.router.removeModuleRule('Cart');

    // Then: the legacy selector is back, the annotation gone, the slices list the legacy pod again (when the first
    // call returned); the second call found nothing to do; no module has an explicit rule.
    expect(restored.selector).toEqual(LEGACY);
    expect(restored.annotations[ANNOTATION_ORIGINAL]).toBeUndefined();
    expect(await endpointPods(w.k, w.ns)).toEqual(['shop-legacy-0']);
    expect((await service(w)).resourceVersion).toBe(restored.resourceVersion);
    expect(await w.router.readRules(MODULES)).toEqual({});
  });

  test('idempotent: a repeated publish or switch changes nothing; blue to green and back keeps the first selector', async () => {
    const w = await world('svc-idem');
    await w.router.ensureBackend(BLUE, addresses(w.blue));
    await w.router.setModuleRule('Catalog', [{ backend: BLUE, weight: 100 }]);
    const onBlue = await service(w);

    // When: the same publish and the same switch again (a retried activity), from another driver instance too
    // (a restarted worker), and the second module's rule (the Service already routes it).
    await w.router.ensureBackend(BLUE, addresses(w.blue));
    await w.router.setModuleRule('Catalog', [{ backend: BLUE, weight: 100 }]);
    await newKubernetesServiceDriver(w.config).setModuleRule('Cart', [{ backend: BLUE, weight: 100 }]);

    // Then: not one write.
    expect((await service(w)).resourceVersion).toBe(onBlue.resourceVersion);

    // When: green is published and switched to, then back to blue (a rollback inside the window).
    await w.router.ensureBackend(GREEN, addresses(w.green));
    await w.router.setModuleRule('Catalog', [{ backend: GREEN, weight: 100 }]);
    expect(await endpointPods(w.k, w.ns)).toEqual(podNames(w.green));
    await w.router.setModuleRule('Catalog', [{ backend: BLUE, weight: 100 }]);

    // Then: blue's pods only; the annotation still holds the selector before the very first switch.
    expect(await endpointPods(w.k, w.ns)).toEqual(podNames(w.blue));
    const back = await service(w);
    expect(back.selector).toEqual(selectorOf(w.blue));
    expect(JSON.parse(back.annotations[ANNOTATION_ORIGINAL] ?? 'null')).toEqual(LEGACY);

    // And: the backend in use cannot be removed; the other can, and is gone from the Service's record.
    expect(await rejection(w.router.removeBackend(BLUE))).toMatchObject({ name: ErrorType.RouterRequestRejected });
    await w.router.removeBackend(GREEN);
    await w.router.removeBackend(GREEN);
    expect(JSON.parse((await service(w)).annotations[ANNOTATION_BACKENDS] ?? 'null')).toEqual({
      [BLUE]: selectorOf(w.blue),
    });
  });

  test('a patch that lost a race with another writer is made again on what that writer left; a run of them is retryable', async () => {
    const w = await world('svc-conflict');
    const real = newClientServiceApi(w.ns, 'shop', { kubeconfig: w.k.kubeconfig });
    let patches = 0;
    let races = 1;
    let writes = 0;
    // Another writer changes the Service between the router's read and its patch (its resourceVersion goes stale).
    const racing: ServiceApi = {
      ...real,
      async patchService(patch) {
        patches++;
        if (races-- > 0) {
          const value = { team: `web-${++writes}` };
          await w.k.core.patchNamespacedService({
            name: 'shop',
            namespace: w.ns,
            body: [{ op: 'add', path: '/metadata/labels', value }],
          });
        }
        return real.patchService(patch);
      },
    };
    const router = newKubernetesServiceDriver(w.config, { api: racing, pollMs: 100 });

    // When: green is published (the patch racing the other writer), then switched to.
    await router.ensureBackend(GREEN, addresses(w.green));
    await router.setModuleRule('Catalog', [{ backend: GREEN, weight: 100 }]);

    // Then: three patches (the publish refused with a conflict and made again, then the switch); the other writer's
    // change kept; the switch done.
    expect(patches).toBe(3);
    const svc = await w.k.core.readNamespacedService({ name: 'shop', namespace: w.ns });
    expect(svc.metadata?.labels).toEqual({ team: 'web-1' });
    expect(svc.spec?.selector).toEqual(selectorOf(w.green));
    expect(await endpointPods(w.k, w.ns)).toEqual(podNames(w.green));

    // When: the other writer wins every race.
    races = Number.POSITIVE_INFINITY;
    patches = 0;
    const err = await rejection(router.ensureBackend(BLUE, addresses(w.blue)));

    // Then: five attempts, then a conflict the activity retries (not a permanent failure); nothing recorded.
    expect(patches).toBe(5);
    expect(err.name).toBe('ConflictError');
    expect(classifyError(err)).not.toBeInstanceOf(ApplicationFailure);
    expect(await router.describeBackend(BLUE)).toBeUndefined();
  });

  test('with exactly the documented Role the switch works; without patch it fails at once, naming verb, resource and Role', async () => {
    const w = await world('svc-rbac');
    const documented = [
      { resources: ['services'], resourceNames: ['shop'], verbs: ['get', 'patch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      { resources: ['pods'], verbs: ['list'] },
      // kubeconfigWithRole checks the binding is in force by listing configmaps.
      { resources: ['configmaps'], verbs: ['list'] },
    ];
    const allowed = await kubeconfigWithRole(w.k, w.ns, 'service-router', documented);
    const router = newKubernetesServiceDriver({ ...w.config, kubeconfig: allowed }, { pollMs: 100 });
    await router.ensureBackend(GREEN, addresses(w.green));
    await router.setModuleRule('Catalog', [{ backend: GREEN, weight: 100 }]);
    expect(await endpointPods(w.k, w.ns)).toEqual(podNames(w.green));

    // When: a worker whose Role lacks patch on services publishes blue.
    const readOnly = await kubeconfigWithRole(w.k, w.ns, 'read-only', [
      { resources: ['services'], verbs: ['get'] },
      { resources: ['pods', 'configmaps'], verbs: ['list'] },
    ]);
    const refused = newKubernetesServiceDriver({ ...w.config, kubeconfig: readOnly });
    const err = await rejection(refused.ensureBackend(BLUE, addresses(w.blue)));

    // Then: a permanent RouterRequestRejected naming the verb, the Service and the Role; nothing changed.
    expect(err.name).toBe(ErrorType.RouterRequestRejected);
    expect(err.message).toContain(`forbids the worker to patch service shop in namespace ${w.ns} (HTTP 403`);
    expect(err.message).toContain('get and patch services, list endpointslices');
    expect(classifyError(err)).toMatchObject({ type: ErrorType.RouterRequestRejected, nonRetryable: true });
    expect(await router.readRules(MODULES)).toEqual({
      Catalog: { module: 'Catalog', backends: [{ backend: GREEN, weight: 100 }] },
      Cart: { module: 'Cart', backends: [{ backend: GREEN, weight: 100 }] },
    });
  });

  test('refusals: a missing Service, an unpublished backend, a rolling backend, targets of two replica sets', async () => {
    const w = await world('svc-refuse');

    // A Service that does not exist: permanent, naming the namespace and the Service.
    const missing = newKubernetesServiceDriver({ ...w.config, service: 'nope' });
    const notFound = await rejection(missing.readRules(MODULES));
    expect(notFound.name).toBe(ErrorType.ResourceNotFound);
    expect(notFound.message).toContain(`Service nope does not exist in namespace ${w.ns}`);
    expect(classifyError(notFound)).toMatchObject({ type: ErrorType.ResourceNotFound, nonRetryable: true });

    // Switching to a backend never published, publishing a rolling backend or one of two replica sets' pods, a
    // split between two backends: refused before anything is written.
    const before = (await service(w)).resourceVersion;
    expect(await rejection(w.router.setModuleRule('Catalog', [{ backend: GREEN, weight: 100 }]))).toMatchObject({
      name: ErrorType.RouterRequestRejected,
      message: expect.stringContaining('unknown backend "shop-green"') as unknown,
    });
    expect(await rejection(w.router.ensureBackend('shop-rolling', addresses(w.green)))).toMatchObject({
      name: ErrorType.RouterRequestRejected,
      message: expect.stringContaining('<application>-blue and <application>-green only') as unknown,
    });
    expect(await rejection(w.router.ensureBackend(GREEN, [...addresses(w.green), ...addresses(w.blue)]))).toMatchObject(
      {
        name: ErrorType.RouterRequestRejected,
        message: expect.stringContaining(
          `replica sets ${w.blue.name}, ${w.green.name}; a Service selects one`,
        ) as unknown,
      },
    );
    await w.router.ensureBackend(GREEN, addresses(w.green));
    await w.router.ensureBackend(BLUE, addresses(w.blue));
    const published = (await service(w)).resourceVersion;
    expect(
      await rejection(
        w.router.setModuleRule('Catalog', [
          { backend: GREEN, weight: 50 },
          { backend: BLUE, weight: 50 },
        ]),
      ),
    ).toMatchObject({ name: ErrorType.NotSupported });
    expect((await service(w)).resourceVersion).toBe(published);
    expect(published).not.toBe(before);
    expect((await service(w)).selector).toEqual(LEGACY);
  });
});
