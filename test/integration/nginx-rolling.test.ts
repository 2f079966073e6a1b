/**
 * Rolling updates through a real nginx, end to end: the Temporal dev server, the rolling-update workflow with the
 * nginx driver selected by `router.kind: nginx`, local-platform replicas in nginx's `<application>-rolling`
 * upstream, and a load through nginx (GETs, POSTs, slow requests) judged per phase by expectZeroDowntime while nginx reloads
 * on each registration and deregistration. Each scenario ends with the exact set of live replicas it should leave.
 */
import { newNginxDriver } from '../../activities/drivers/nginx';
import { configRevisionOf, rollingReplicaSetName } from '../../workflows/rolling-math';
import { expectZeroDowntime, underLoad } from '../support/load';
import { createNginxFixture } from '../support/nginx-fixture';
import type { NginxFixture } from '../support/nginx-fixture';

jest.setTimeout(240_000);

const REPLICAS = 3;
/** One replica above `replicas`, none below: every batch launches one, registers it, then retires one old. */
const oneAtATime = { maxSurge: 1, maxUnavailable: 0 };

/** The replica set's name; every spec's env includes the fixture's appEnv (the delivery log). */
function setName(f: NginxFixture, version: string, env: Record<string, string> = {}): string {
  return rollingReplicaSetName(f.application, version, configRevisionOf({ ...f.appEnv, ...env }));
}

/** Running replicas of this application as "<set>/<id>" with their version, sorted by id. */
async function liveReplicas(f: NginxFixture): Promise<{ id: string; version: string; address: string }[]> {
  const sets = await f.platform.listReplicaSets(f.application);
  return sets
    .flatMap((s) =>
      s.replicas.filter((r) => r.running).map((r) => ({ id: r.id, version: s.version, address: r.address })),
    )
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** The servers of nginx's rolling upstream, as the driver reads them back from its files. */
async function upstreamTargets(f: NginxFixture): Promise<string[] | undefined> {
  const router = newNginxDriver(f.nginx.routerConfig());
  return (await router.describeBackend(`${f.application}-rolling`))?.slice().sort();
}

describe('rolling update through nginx', () => {
  let f: NginxFixture;

  beforeEach(async () => {
    f = await createNginxFixture('ngxroll');
  });

  afterEach(async () => {
    await f.close();
  });

  test('migration off the platform server, then a rolling update v1 -> v2 (3 replicas, maxSurge 1, maxUnavailable 0): 0 failed requests', async () => {
    // Given: location / (the platform server) answers every module.
    expect(await f.versionOf('Catalog')).toBe('platform-server');
    const load = f.load();

    // When
    await load.next('migrating');
    const first = await f.result(await f.deployRolling('1.0.0', { replicas: REPLICAS, strategy: oneAtATime }));
    const afterFirst = await liveReplicas(f);
    await load.next('migrated');
    await load.next('upgrading');
    const second = await f.result(await f.deployRolling('2.0.0', { replicas: REPLICAS, strategy: oneAtATime }));
    await load.next('after');
    await load.waitForRequests();
    const report = await load.stop();

    // Then
    expect([first.outcome, second.outcome]).toEqual(['succeeded', 'succeeded']);
    expect(afterFirst.map((r) => r.version)).toEqual(['1.0.0', '1.0.0', '1.0.0']);
    expect(second.status.rolling).toMatchObject({ batch: 3, batches: 3, old: 0, new: REPLICAS });
    expectZeroDowntime(report, {
      versions: {
        before: ['platform-server'],
        migrating: ['platform-server', '1.0.0'],
        migrated: ['1.0.0'],
        upgrading: ['1.0.0', '2.0.0'],
        after: ['2.0.0'],
      },
      slowAcross: [
        { from: 'platform-server', to: '1.0.0' },
        { from: '1.0.0', to: '2.0.0' },
      ],
      deliveries: f.deliveries(),
    });
    const live = await liveReplicas(f);
    const v2 = setName(f, '2.0.0');
    expect(live.map((r) => r.id)).toEqual([0, 1, 2].map((i) => `${v2}-${i}`));
    expect(live.map((r) => r.version)).toEqual(['2.0.0', '2.0.0', '2.0.0']);
    expect(await f.liveVersions()).toEqual(['2.0.0', '2.0.0', '2.0.0']);
    expect((await f.platform.listReplicaSets(f.application)).map((s) => s.name)).toEqual([v2]);
    expect(await upstreamTargets(f)).toEqual(live.map((r) => r.address).sort());
    for (const m of f.modules) expect(await f.versionOf(m)).toBe('2.0.0');
  });

  test('a rolling update whose new version never becomes healthy rolls back: 0 failed requests, v1 x3 left', async () => {
    const given = await f.result(await f.deployRolling('1.0.0', { replicas: REPLICAS, strategy: oneAtATime }));
    expect(given.outcome).toBe('succeeded');
    const before = await liveReplicas(f);

    const { value: result, report } = await underLoad(f.load(), async () =>
      f.result(
        await f.deployRolling('2.0.0', {
          replicas: REPLICAS,
          env: { SAMPLE_HEALTH: 'fail' },
          strategy: { ...oneAtATime, progressDeadline: '4s' },
          health: { deadline: '4s' },
        }),
      ),
    );

    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/batch 1\/3 made no progress within the progress deadline/);
    // The unhealthy replica was never registered: v1 answered everything.
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0'], after: ['1.0.0'] },
      deliveries: f.deliveries(),
    });
    const live = await liveReplicas(f);
    expect(live).toEqual(before); // the same 3 v1 processes: none was taken out (maxUnavailable 0)
    expect(await f.liveVersions()).toEqual(['1.0.0', '1.0.0', '1.0.0']);
    expect((await f.platform.listReplicaSets(f.application)).map((s) => s.name)).toEqual([setName(f, '1.0.0')]);
    expect(await upstreamTargets(f)).toEqual(live.map((r) => r.address).sort());
    for (const m of f.modules) expect(await f.versionOf(m)).toBe('1.0.0');
  });
});
