/**
 * Blue-green and rolling updates with `platform.kind: kubernetes` and `router.kind: aws-alb`, end to end: the real
 * Temporal dev server (jest global setup), the workflows, a worker in this process whose Kubernetes driver talks to
 * a real kube-apiserver (kwok plays the kubelets: test/support/kwok.ts) and whose ALB driver talks to moto.
 *
 * No traffic flows anywhere in this test, by design: kwok's pod IPs are fake (no container runs behind them) and
 * moto routes nothing. Health is each pod's Ready condition read from the API (probe: readiness), the workflow's
 * verify step answers `not-supported` (as in the other ALB suites) and goes on, and the assertions are on API
 * objects: pods and their labels in the cluster, rules and registered targets in the ELBv2 API.
 */
import { newKubernetesDriver } from '../../activities/drivers/kubernetes';
import { useAlbFixtures } from '../support/alb-fixture';
import type { AlbFixture } from '../support/alb-fixture';
import { useKwokCluster } from '../support/kwok';
import type { KwokCluster } from '../support/kwok';
import type { AlbWorld } from '../support/moto';
import { describeTargetGroup, ruleTable } from '../support/moto';

jest.setTimeout(180_000);

const cluster = useKwokCluster('k8s-alb-test');
const createAlbFixture = useAlbFixtures();

const IMAGE = 'registry.example.invalid/shop:{version}';

/** An ALB fixture whose platform is the Kubernetes driver in a fresh namespace of the kwok cluster. */
async function createK8sAlbFixture(k: KwokCluster, name: string): Promise<AlbFixture & { namespace: string }> {
  const namespace = await k.createNamespace(name);
  const platformSpec = {
    kind: 'kubernetes' as const,
    namespace,
    image: IMAGE,
    port: 8080,
    kubeconfig: k.kubeconfig,
    gracePeriod: '1s',
    env: { LOG_LEVEL: 'info' },
  };
  const fixture = await createAlbFixture({
    name,
    replicas: 2,
    platform: () => ({
      driver: newKubernetesDriver({ ...platformSpec, gracePeriod: 1000 }),
      spec: () => platformSpec,
    }),
  });
  return { ...fixture, namespace };
}

/** The registered (not draining) targets of a target group as "ip:port", sorted. */
async function registrations(world: AlbWorld, backend: string): Promise<string[]> {
  const group = await describeTargetGroup(world, backend);
  if (!group) return [];
  const health = await world.api.describeTargetHealth(group.arn);
  return health
    .filter((h) => h.state !== 'draining')
    .map((h) => `${h.target.id}:${h.target.port}`)
    .sort();
}

const summary = (rows: Awaited<ReturnType<typeof ruleTable>>) =>
  rows.map((r) => `${r.priority === 'default' ? 'default' : r.paths.join(',')} -> ${r.forward.join(' ')}`).sort();

/** "version/slot Running Ready ip:8080" per pod of the application, sorted by pod name. */
async function podTable(k: KwokCluster, namespace: string, application: string): Promise<string[]> {
  const pods = await k.pods(namespace, `app.kubernetes.io/name=${application}`);
  return pods.map(
    (p) =>
      `${p.name} ${p.labels['cutover.io/version']}/${p.labels['cutover.io/slot']} ${p.phase}` +
      `${p.ready ? ' Ready' : ''}`,
  );
}

async function podTargets(k: KwokCluster, namespace: string, selector: string): Promise<string[]> {
  return (await k.pods(namespace, selector)).map((p) => `${p.podIP}:8080`).sort();
}

describe('Kubernetes platform + AWS ALB router (kwok + moto; no traffic flows)', () => {
  let f: (AlbFixture & { namespace: string }) | undefined;

  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  test('blue-green v1 -> v2: pods of the new side Ready, the rules switch to its target group, the old pods deleted after the window', async () => {
    const k = cluster();
    f = await createK8sAlbFixture(k, 'k8sbg');
    const { application, namespace, world } = f;
    const green = `${application}-green`;
    const blue = `${application}-blue`;

    // Given: the listener's default action (the platform server) serves every module.
    expect(summary(await ruleTable(world))).toEqual(['default -> platform-server=100']);

    // When: migrate to 1.0.0 (the first color, green).
    const first = await f.result(await f.deploy('1.0.0'));

    // Then: two Running/Ready pods of 1.0.0, their pod IPs registered in green's target group, every module on it.
    expect(first.outcome).toBe('succeeded');
    expect(await podTable(k, namespace, application)).toEqual([
      `${application}-1-0-0-green-0 1.0.0/green Running Ready`,
      `${application}-1-0-0-green-1 1.0.0/green Running Ready`,
    ]);
    const v1Targets = await podTargets(k, namespace, `cutover.io/slot=green`);
    expect(v1Targets).toHaveLength(2);
    expect(await registrations(world, green)).toEqual(v1Targets);
    expect(summary(await ruleTable(world))).toEqual([
      `/Cart* -> ${green}=100`,
      `/Catalog* -> ${green}=100`,
      'default -> platform-server=100',
    ]);
    expect(first.status.steps.find((s) => s.name.startsWith('verify'))?.detail).toBe(
      'Catalog: not-supported, Cart: not-supported',
    );

    // When: upgrade to 2.0.0, with a rollback window long enough to look at both sides.
    const id = await f.deploy('2.0.0', { strategy: { rollbackWindow: '4s' } });
    await f.waitForPhase(id, 'RollbackWindow', 60_000);

    // Then (in the window): the v2 pods (blue) are Ready and registered, every rule forwards to blue's target
    // group, and the v1 pods are still there for a rollback.
    const v2Targets = await podTargets(k, namespace, `cutover.io/slot=blue`);
    expect(await registrations(world, blue)).toEqual(v2Targets);
    expect(summary(await ruleTable(world))).toEqual([
      `/Cart* -> ${blue}=100`,
      `/Catalog* -> ${blue}=100`,
      'default -> platform-server=100',
    ]);
    expect(await podTable(k, namespace, application)).toEqual([
      `${application}-1-0-0-green-0 1.0.0/green Running Ready`,
      `${application}-1-0-0-green-1 1.0.0/green Running Ready`,
      `${application}-2-0-0-blue-0 2.0.0/blue Running Ready`,
      `${application}-2-0-0-blue-1 2.0.0/blue Running Ready`,
    ]);

    // And after the window: the v1 pods and their replica set record are deleted, green's target group is gone.
    const second = await f.result(id);
    expect(second.outcome).toBe('succeeded');
    expect(second.status.previousVersion).toBe('1.0.0');
    expect(await podTable(k, namespace, application)).toEqual([
      `${application}-2-0-0-blue-0 2.0.0/blue Running Ready`,
      `${application}-2-0-0-blue-1 2.0.0/blue Running Ready`,
    ]);
    const records = await k.core.listNamespacedConfigMap({ namespace, labelSelector: 'app.kubernetes.io/managed-by' });
    expect(records.items.map((c) => c.metadata?.name)).toEqual([`${application}-2-0-0-blue`]);
    expect(await describeTargetGroup(world, green)).toBeUndefined();
    expect(await registrations(world, blue)).toEqual(v2Targets);
  });

  test('rolling update v1 -> v2: new pods replace old ones in the rolling target group, old pods deleted', async () => {
    const k = cluster();
    f = await createK8sAlbFixture(k, 'k8sroll');
    const { application, namespace, world } = f;
    const rolling = `${application}-rolling`;
    const strategy = { maxSurge: 1, maxUnavailable: 0 };

    // When: migrate to 1.0.0 with a rolling deployment, then roll to 2.0.0.
    const first = await f.result(await f.deployRolling('1.0.0', { strategy }));
    expect(first.outcome).toBe('succeeded');
    const v1 = await podTargets(k, namespace, `cutover.io/version=1.0.0`);
    expect(v1).toHaveLength(2);
    expect(await registrations(world, rolling)).toEqual(v1);

    const second = await f.result(await f.deployRolling('2.0.0', { strategy }));

    // Then: only v2 pods remain (2, Ready), exactly their IPs are registered, every module still on the group.
    expect(second.outcome).toBe('succeeded');
    const pods = await k.pods(namespace, `app.kubernetes.io/name=${application}`);
    expect(pods.map((p) => [p.labels['cutover.io/version'], p.labels['cutover.io/slot'], p.ready])).toEqual([
      ['2.0.0', 'rolling', true],
      ['2.0.0', 'rolling', true],
    ]);
    expect(await registrations(world, rolling)).toEqual(await podTargets(k, namespace, `cutover.io/version=2.0.0`));
    expect(summary(await ruleTable(world))).toEqual([
      `/Cart* -> ${rolling}=100`,
      `/Catalog* -> ${rolling}=100`,
      'default -> platform-server=100',
    ]);
  });
});
