/**
 * Zero downtime with real pods: blue-green and a rolling update with `platform.kind: kubernetes` on the real node
 * (scripts/k8s-node.sh: kubelet, containerd and runc on this machine; docs/kubernetes-real-node.md) and
 * `router.kind: nginx` (a real nginx on the host whose upstreams are the pods' IPs on the CNI bridge), end to end
 * through Temporal: the dev server of the jest global setup, the workflows, a worker in this process with the default
 * drivers (the spec's sections select them). The sample app's image runs in every pod; the worker probes each pod on
 * its IP (probe: http); retiring a replica deletes its pod, and the kubelet SIGTERMs the app, which answers what it
 * has in flight before it exits.
 *
 * The load (GETs, POSTs, slow requests through nginx, from a client that honours `Connection: close`) is judged per
 * phase by expectZeroDowntime, with the strict accounting of the other nginx suites: every phase has its minimum of
 * requests, none failed, none unfinished, every answer came from a version expected in the phase its request
 * started in; and from the delivery log (the pods' events read back from their container logs:
 * test/support/pod-deliveries.ts) no POST was delivered twice, every ok answer was delivered by the version that
 * claimed it, every pod was drained before the kubelet SIGTERMed it, and slow requests on 1.0.0 in flight while
 * 2.0.0 got traffic finished on 1.0.0. (The migration's crossing, platform server to 1.0.0, is not checked: the
 * platform server's events are in the host file, without the pods' timestamps to order them by.)
 *
 * Opt-in, like every real-node suite: `make test-real-node` (root, Debian's containerd, runc and CNI plugins, nginx).
 */
import { newKubernetesDriver } from '../../activities/drivers/kubernetes';
import { newNginxDriver } from '../../activities/drivers/nginx';
import type { DeliveryEvent } from '../support/delivery-log';
import { realNodePlatform, useRealNode } from '../support/k8s-node';
import type { RealNode } from '../support/k8s-node';
import { expectZeroDowntime } from '../support/load';
import type { LoadReport } from '../support/load';
import { createNginxFixture } from '../support/nginx-fixture';
import type { NginxFixture } from '../support/nginx-fixture';
import { collectPodDeliveries } from '../support/pod-deliveries';

jest.setTimeout(300_000);

const realNode = useRealNode();

const REPLICAS = 3;
/** One replica above `replicas`, none below: every batch launches one, registers it, then retires one old. */
const oneAtATime = { maxSurge: 1, maxUnavailable: 0 };
const POD_ADDRESS = /^http:\/\/10\.244\.0\.\d+:8080$/;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface RealNodeNginxFixture extends NginxFixture {
  namespace: string;
  /** The platform server's events (the host file), then the pods' (their container logs), checking both were read. */
  allDeliveries(): Promise<DeliveryEvent[]>;
}

/** An nginx fixture whose replicas are pods of the real node, in a fresh namespace, their events collected. */
async function createRealNodeNginxFixture(node: RealNode, name: string): Promise<RealNodeNginxFixture> {
  const namespace = await node.createNamespace(name);
  const podDeliveries = collectPodDeliveries({ kubeconfig: node.kubeconfig, namespace, core: node.core });
  const platform = realNodePlatform(node, namespace);
  const fixture = await createNginxFixture(name, ['Catalog', 'Cart'], {
    platform: () => ({ driver: newKubernetesDriver(platform.driver), spec: () => platform.spec }),
  });
  return {
    ...fixture,
    namespace,
    async allDeliveries() {
      const pods = await podDeliveries.events();
      expect(podDeliveries.problems()).toEqual([]);
      return [...fixture.deliveries(), ...pods];
    },
    async close() {
      await fixture.close();
      podDeliveries.stop();
    },
  };
}

/** The servers of one of nginx's upstreams, as the driver reads them back from its files. */
async function upstreamTargets(f: NginxFixture, backend: string): Promise<string[] | undefined> {
  const router = newNginxDriver(f.nginx.routerConfig());
  return (await router.describeBackend(backend))?.slice().sort();
}

/** The replicas that logged their SIGTERM, sorted. */
function stopped(deliveries: DeliveryEvent[]): string[] {
  return deliveries
    .filter((e) => e.event === 'stopping')
    .map((e) => e.replica)
    .sort();
}

/**
 * Both scenarios: migration off the platform server to 1.0.0, then the upgrade to 2.0.0, with no failed or
 * unfinished request; the kubelet's SIGTERM reached the app of every retired 1.0.0 pod and of no other (the drain
 * check: nothing was in flight on it then, and nothing reached it after).
 */
function expectMigrationThenUpgrade(
  report: LoadReport,
  deliveries: DeliveryEvent[],
  retired: readonly { id: string }[],
): void {
  expectZeroDowntime(report, {
    versions: {
      before: ['platform-server'],
      migrating: ['platform-server', '1.0.0'],
      migrated: ['1.0.0'],
      upgrading: ['1.0.0', '2.0.0'],
      after: ['2.0.0'],
    },
    slowAcross: [{ from: '1.0.0', to: '2.0.0' }],
    deliveries,
  });
  expect(stopped(deliveries)).toEqual(retired.map((r) => r.id));
}

/** Waits until the namespace holds exactly `count` pods (terminating ones included): the retired are gone. */
async function awaitPodCount(node: RealNode, namespace: string, count: number): Promise<string[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const pods = (await node.core.listNamespacedPod({ namespace })).items;
    if (pods.length === count) return pods.map((p) => `${p.metadata?.name} ${p.status?.phase}`).sort();
    if (Date.now() > deadline) throw new Error(`${namespace}: ${pods.length} pods, not ${count}`);
    await sleep(250);
  }
}

describe('real pods behind nginx (real node: kubelet + containerd + runc)', () => {
  let f: RealNodeNginxFixture | undefined;

  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  test('blue-green: migration off the platform server, then v1 -> v2 on pod IPs: 0 failed requests', async () => {
    const node = realNode();
    f = await createRealNodeNginxFixture(node, 'rnbg');
    const t0 = Date.now();
    expect(await f.versionOf('Catalog')).toBe('platform-server');
    const load = f.load();

    // When: the migration to 1.0.0, then the upgrade to 2.0.0, under load.
    await load.next('migrating');
    const first = await f.result(await f.deploy('1.0.0'));
    const afterFirst = await f.liveReplicas();
    await load.next('migrated');
    await load.next('upgrading');
    const second = await f.result(await f.deploy('2.0.0'));
    await load.next('after');
    await load.waitForRequests();
    const report = await load.stop();
    const deliveries = await f.allDeliveries();
    process.stderr.write(`[k8s-node] blue-green scenario (both deployments under load) ${Date.now() - t0} ms\n`);

    // Then: nothing failed, and each phase was answered by the versions it should have been.
    expect([first.outcome, second.outcome]).toEqual(['succeeded', 'succeeded']);
    expectMigrationThenUpgrade(report, deliveries, afterFirst);
    for (const m of f.modules) expect(await f.versionOf(m)).toBe('2.0.0');

    // Then: the live side is two Running pods of 2.0.0, nginx's upstream of that side is their pod IPs, and the
    // 1.0.0 pods are gone from the node.
    const live = await f.liveReplicas();
    expect(live.map((r) => r.version)).toEqual(['2.0.0', '2.0.0']);
    for (const r of live) expect(r.address).toMatch(POD_ADDRESS);
    const [set] = await f.platform.listReplicaSets(f.application);
    expect(set?.version).toBe('2.0.0');
    expect(await upstreamTargets(f, `${f.application}-${set?.slot}`)).toEqual(live.map((r) => r.address).sort());
    expect(await awaitPodCount(node, f.namespace, 2)).toEqual(live.map((r) => `${r.id} Running`));
  });

  test('rolling update v1 -> v2 (3 pods, maxSurge 1, maxUnavailable 0) on pod IPs: 0 failed requests', async () => {
    const node = realNode();
    f = await createRealNodeNginxFixture(node, 'rnroll');
    const t0 = Date.now();
    expect(await f.versionOf('Catalog')).toBe('platform-server');
    const load = f.load();

    // When: the migration to 1.0.0 x3, then a rolling update to 2.0.0, one pod at a time, under load.
    await load.next('migrating');
    const first = await f.result(await f.deployRolling('1.0.0', { replicas: REPLICAS, strategy: oneAtATime }));
    const afterFirst = await f.liveReplicas();
    await load.next('migrated');
    await load.next('upgrading');
    const second = await f.result(await f.deployRolling('2.0.0', { replicas: REPLICAS, strategy: oneAtATime }));
    await load.next('after');
    await load.waitForRequests();
    const report = await load.stop();
    const deliveries = await f.allDeliveries();
    process.stderr.write(`[k8s-node] rolling scenario (both deployments under load) ${Date.now() - t0} ms\n`);

    // Then
    expect([first.outcome, second.outcome]).toEqual(['succeeded', 'succeeded']);
    expect(afterFirst.map((r) => r.version)).toEqual(['1.0.0', '1.0.0', '1.0.0']);
    expect(second.status.rolling).toMatchObject({ batch: 3, batches: 3, old: 0, new: REPLICAS });
    expectMigrationThenUpgrade(report, deliveries, afterFirst);
    for (const m of f.modules) expect(await f.versionOf(m)).toBe('2.0.0');
    const live = await f.liveReplicas();
    expect(live.map((r) => r.version)).toEqual(['2.0.0', '2.0.0', '2.0.0']);
    for (const r of live) expect(r.address).toMatch(POD_ADDRESS);
    expect(await upstreamTargets(f, `${f.application}-rolling`)).toEqual(live.map((r) => r.address).sort());
    expect(await awaitPodCount(node, f.namespace, REPLICAS)).toEqual(live.map((r) => `${r.id} Running`));
  });
});
