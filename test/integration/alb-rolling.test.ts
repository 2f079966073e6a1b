/**
 * Rolling update with `router.kind: aws-alb`, end to end against moto: the Temporal dev server, the rolling-update
 * workflow, local-platform replicas (probed directly; moto routes no traffic, so the verify step gets
 * `not-supported` and goes on), and the rules and target registrations read back from the ELBv2 API.
 *
 * moto keeps one target per IP address (AWS keys them by IP and port) and local replicas all listen on
 * 127.0.0.1, so each update runs with one replica: maxSurge 1 / maxUnavailable 0 would register the new
 * replica over the old one's entry; maxSurge 0 / maxUnavailable 1 takes the old one out first, which keeps the
 * target group exact at every step.
 */
import { useAlbFixtures } from '../support/alb-fixture';
import type { AlbFixture } from '../support/alb-fixture';
import type { AlbWorld } from '../support/moto';
import { describeTargetGroup, ruleTable } from '../support/moto';

jest.setTimeout(180_000);

const createAlbFixture = useAlbFixtures();

/** The registered (not draining) targets of a target group as "ip:port", sorted. */
async function registrations(world: AlbWorld, arn: string): Promise<string[]> {
  const health = await world.api.describeTargetHealth(arn);
  return health
    .filter((h) => h.state !== 'draining')
    .map((h) => `${h.target.id}:${h.target.port}`)
    .sort();
}

/** "127.0.0.1:PORT" from a replica address such as "http://127.0.0.1:PORT". */
const hostPort = (address: string) => new URL(address.includes('://') ? address : `http://${address}`).host;

describe('rolling update on an AWS ALB (moto)', () => {
  let f: AlbFixture;

  afterEach(async () => {
    await f?.close();
  });

  test('migration creates the module rules to the rolling target group; v1 -> v2 replaces its registrations', async () => {
    f = await createAlbFixture({ name: 'albroll' });
    const rolling = `${f.application}-rolling`;
    const oneOut = { maxSurge: 0, maxUnavailable: 1 };

    // Given: the listener's default action (the platform server) serves every module.
    expect(await ruleTable(f.world)).toEqual([{ priority: 'default', paths: [], forward: ['platform-server=100'] }]);

    // When: migrate to 1.0.0 with a rolling deployment.
    const first = await f.result(await f.deployRolling('1.0.0', { strategy: oneOut }));

    // Then: a rule per module forwards to the rolling target group, which holds the v1 replica.
    expect(first.outcome).toBe('succeeded');
    const group = await describeTargetGroup(f.world, rolling);
    expect(group).toMatchObject({ tags: { 'cutover:backend': rolling } });
    const v1 = await f.liveReplicas();
    expect(v1.map((r) => r.version)).toEqual(['1.0.0']);
    expect(await registrations(f.world, group?.arn ?? '')).toEqual(v1.map((r) => hostPort(r.address)));

    // When: roll to 2.0.0.
    const second = await f.result(await f.deployRolling('2.0.0', { strategy: oneOut }));

    // Then: the same target group and rules, registrations exactly the new replica, the old one retired.
    expect(second.outcome).toBe('succeeded');
    expect(second.status.previousVersion).toBe('1.0.0');
    expect(second.status.rolling).toMatchObject({ old: 0, new: 1 });
    const v2 = await f.liveReplicas();
    expect(v2.map((r) => r.version)).toEqual(['2.0.0']);
    expect(v2[0]?.address).not.toBe(v1[0]?.address);
    expect((await describeTargetGroup(f.world, rolling))?.arn).toBe(group?.arn);
    expect(await registrations(f.world, group?.arn ?? '')).toEqual(v2.map((r) => hostPort(r.address)));
    const rules = (await ruleTable(f.world))
      .map((r) => `${r.priority === 'default' ? 'default' : r.paths.join(',')} -> ${r.forward.join(', ')}`)
      .sort();
    expect(rules).toEqual([
      `/Cart* -> ${rolling}=100`,
      `/Catalog* -> ${rolling}=100`,
      'default -> platform-server=100',
    ]);
  });
});
