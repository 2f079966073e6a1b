/**
 * The Kubernetes platform driver on a real node (scripts/k8s-node.sh: kubelet, containerd and runc on this machine,
 * CNI bridge; docs/kubernetes-real-node.md), where kwok's fake pods cannot go: the sample app's image really runs,
 * the driver's HTTP probe reaches each pod on its IP, and retiring a replica stops its process gracefully, answering
 * the request it is serving.
 *
 * Not part of `make test` (issue 14): run with `make test-real-node`, which provisions the node (root, Debian's
 * containerd, runc and containernetworking-plugins, the node binaries and images). It changes the machine while it
 * runs (network namespaces, a bridge, iptables rules, cgroups; the node's `stop` removes them all).
 */
import type { CoreV1Api } from '@kubernetes/client-node';
import { newKubernetesDriver } from '../../../activities/drivers/kubernetes';
import type { Platform, ReplicaSetSpec } from '../../../activities/ports';
import { replicaSetName } from '../../../activities/ports';
import { awaitHealthy, useRealNode } from '../../support/k8s-node';

jest.setTimeout(120_000);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const realNode = useRealNode();

describe('Kubernetes platform driver (real node: kubelet + containerd)', () => {
  let kubeconfig = '';
  let image = '';
  let core: CoreV1Api;
  let namespace = '';

  beforeAll(async () => {
    ({ kubeconfig, image, core } = realNode());
    namespace = await realNode().createNamespace('real-node');
  });

  function spec(replicas: number): ReplicaSetSpec {
    return {
      name: replicaSetName('shop', '1.0.0', 'green'),
      application: 'shop',
      version: '1.0.0',
      slot: 'green',
      modules: ['Catalog'],
      replicas,
      env: {},
    };
  }

  /** The driver on the real node, probing pod IPs over HTTP; a 10 s grace period before a pod's SIGKILL. */
  function driver(): Platform {
    return newKubernetesDriver({ namespace, image, port: 8080, kubeconfig, probe: 'http', gracePeriod: 10_000 });
  }

  test('replicas run the image, pass the HTTP probe on their pod IPs and answer as themselves', async () => {
    const platform = driver();
    const t0 = Date.now();

    // When: two replicas are ensured.
    await platform.ensureReplicaSet(spec(2));
    const state = await awaitHealthy(platform, spec(2).name, 2, 60_000);
    process.stderr.write(`[k8s-node] 2 replicas healthy over HTTP ${Date.now() - t0} ms after ensureReplicaSet\n`);

    // Then: each pod IP answers a page request from the host, naming that replica and the version.
    for (const replica of state.replicas) {
      expect(replica.address).toMatch(/^http:\/\/10\.244\.0\.\d+:8080$/);
      const response = await fetch(`${replica.address}/Catalog/products`, { signal: AbortSignal.timeout(5000) });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-cutover-replica')).toBe(replica.id);
      expect(response.headers.get('x-cutover-version')).toBe('1.0.0');
      expect(await response.json()).toMatchObject({
        module: 'Catalog',
        replica: replica.id,
        path: '/Catalog/products',
      });
    }
  });

  test('retiring a replica SIGTERMs its process, which answers the request in flight before the pod goes', async () => {
    const platform = driver();
    const state = await awaitHealthy(platform, spec(2).name, 2, 60_000);
    const victim = state.replicas[0]!;

    // When: the replica is retired while a 3 s request is in flight on it.
    const started = Date.now();
    const inFlight = fetch(`${victim.address}/Catalog/slow`, {
      headers: { 'x-sample-delay-ms': '3000', 'x-request-id': 'in-flight-1' },
      signal: AbortSignal.timeout(15_000),
    });
    await sleep(300);
    await platform.retireReplica(spec(2).name, victim.id);

    // Then: the request is answered in full (the app closes the connection after it), and the pod goes once the
    // process has exited.
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(response.headers.get('connection')).toBe('close');
    expect(await response.json()).toMatchObject({ requestId: 'in-flight-1', replica: victim.id });
    for (;;) {
      const pods = await core.listNamespacedPod({ namespace });
      if (!pods.items.some((p) => p.metadata?.name === victim.id)) break;
      await sleep(200);
    }
    // (How long that took is printed, not asserted: the answer in full above is what shows no SIGKILL cut it.)
    process.stderr.write(`[k8s-node] retired pod gone ${Date.now() - started} ms after its 3 s request started\n`);
  });
});
