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
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultDrivers } from '../../activities/drivers';
import type { Drivers } from '../../activities/drivers';
import { newAwsAlbDriver, newSdkElbV2Api } from '../../activities/drivers/aws-alb';
import { newLocalPlatformDriver } from '../../activities/drivers/local';
import type { Platform, Router } from '../../activities/ports';
import { CutoverClient } from '../../client/client';
import type { DeploymentSpecInput } from '../../workflows/spec';
import type { DeploymentResult } from '../../workflows/types';
import { createWorker } from '../../worker';
import { temporalAddress, workflowBundle } from '../support/local-fixture';
import type { AlbWorld, Moto } from '../support/moto';
import { REGION, createAlbWorld, describeTargetGroup, ruleTable, startMoto } from '../support/moto';
import { rollingSpec } from '../support/specs';
import type { SpecOverrides } from '../support/specs';

jest.setTimeout(180_000);

let moto: Moto;
let counter = 0;

beforeAll(async () => {
  moto = await startMoto();
});

afterAll(async () => {
  await moto?.stop();
});

interface AlbFixture {
  application: string;
  modules: string[];
  world: AlbWorld;
  platform: Platform;
  deploy(version: string, overrides?: SpecOverrides): Promise<string>;
  result(id: string): Promise<DeploymentResult>;
  /** Running replicas of this application (id, version, address), sorted by id. */
  live(): Promise<{ id: string; version: string; address: string }[]>;
  close(): Promise<void>;
}

async function createAlbFixture(modules = ['Catalog', 'Cart']): Promise<AlbFixture> {
  await moto.reset();
  const world = await createAlbWorld(moto.endpoint);
  const application = `albroll-${process.pid}-${++counter}`;
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-albroll-'));
  const platformDir = path.join(stateDir, 'platform');
  const taskQueue = `it-${application}`;
  const defaults = defaultDrivers({ localStateDir: platformDir });
  const routers = new Map<string, Router>();
  const drivers: Drivers = {
    platform: defaults.platform,
    router: (config) => {
      if (config.kind !== 'aws-alb') return defaults.router(config);
      const key = JSON.stringify(config);
      let router = routers.get(key);
      if (!router) {
        const { kind: _kind, ...albConfig } = config;
        router = newAwsAlbDriver(albConfig, {
          api: newSdkElbV2Api({ region: REGION, endpoint: moto.endpoint }),
          pollMs: 100,
        });
        routers.set(key, router);
      }
      return router;
    },
  };
  const client = await CutoverClient.connect({ address: temporalAddress(), taskQueue });
  const { worker, close: closeWorker } = await createWorker({
    temporal: { address: temporalAddress(), taskQueue },
    workflowBundle: await workflowBundle(),
    drivers,
  });
  const running = worker.run();
  const platform = newLocalPlatformDriver({ stateDir: platformDir });
  const ids: string[] = [];

  return {
    application,
    modules,
    world,
    platform,
    async deploy(version, overrides = {}) {
      const spec: DeploymentSpecInput = {
        ...rollingSpec({ application, modules, version, stateDir: platformDir, replicas: 1, ...overrides }),
        router: {
          kind: 'aws-alb',
          region: REGION,
          endpoint: moto.endpoint,
          listenerArn: world.listenerArn,
          targetGroups: { vpcId: world.vpcId, port: 80, healthCheck: { path: '/Catalog/_ping.html' } },
        },
      };
      const { deploymentId } = await client.deploy(spec, { deploymentId: `deploy-test-${application}-${ids.length}` });
      ids.push(deploymentId);
      return deploymentId;
    },
    result: (id) => client.result(id),
    async live() {
      const sets = await platform.listReplicaSets(application);
      return sets
        .flatMap((s) =>
          s.replicas.filter((r) => r.running).map((r) => ({ id: r.id, version: s.version, address: r.address })),
        )
        .sort((a, b) => a.id.localeCompare(b.id));
    },
    async close() {
      for (const id of ids) {
        await client
          .handle(id)
          .terminate('test cleanup')
          .catch(() => undefined);
      }
      worker.shutdown();
      await running;
      await closeWorker();
      // Connection left open on purpose: see test/support/local-fixture.ts close().
      for (const set of await platform.listReplicaSets(application)) await platform.retireReplicaSet(set.name);
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

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
    f = await createAlbFixture();
    const rolling = `${f.application}-rolling`;
    const oneOut = { maxSurge: 0, maxUnavailable: 1 };

    // Given: the listener's default action (the platform server) serves every module.
    expect(await ruleTable(f.world)).toEqual([{ priority: 'default', paths: [], forward: ['platform-server=100'] }]);

    // When: migrate to 1.0.0 with a rolling deployment.
    const first = await f.result(await f.deploy('1.0.0', { strategy: oneOut }));

    // Then: a rule per module forwards to the rolling target group, which holds the v1 replica.
    expect(first.outcome).toBe('succeeded');
    const group = await describeTargetGroup(f.world, rolling);
    expect(group).toMatchObject({ tags: { 'cutover:backend': rolling } });
    const v1 = await f.live();
    expect(v1.map((r) => r.version)).toEqual(['1.0.0']);
    expect(await registrations(f.world, group?.arn ?? '')).toEqual(v1.map((r) => hostPort(r.address)));

    // When: roll to 2.0.0.
    const second = await f.result(await f.deploy('2.0.0', { strategy: oneOut }));

    // Then: the same target group and rules, registrations exactly the new replica, the old one retired.
    expect(second.outcome).toBe('succeeded');
    expect(second.status.previousVersion).toBe('1.0.0');
    expect(second.status.rolling).toMatchObject({ old: 0, new: 1 });
    const v2 = await f.live();
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
