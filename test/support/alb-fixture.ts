/**
 * Integration fixture with an AWS Application Load Balancer on moto as the Main Load Balancer and Reverse Proxy:
 * a fresh ALB world (VPC, subnets, load balancer, listener defaulting to the platform target group) per fixture, the
 * real Temporal dev server, a worker in this process whose `aws-alb` router driver talks to moto, the real local
 * platform for the replicas (probed directly: moto routes no traffic), and a CutoverClient. Everything but the ALB
 * is the shared core (fixture-core.ts). useAlbFixtures() runs one moto per test file.
 *
 * moto keeps one target per IP address (AWS keys them by IP and port), and local replicas all listen on 127.0.0.1:
 * specs default to one replica so that the target groups stay exact.
 */
import { defaultDrivers } from '../../activities/drivers';
import { newAwsAlbDriver, newSdkElbV2Api } from '../../activities/drivers/aws-alb';
import type { Router } from '../../activities/ports';
import { createFixtureCore } from './fixture-core';
import type { CoreOptions, FixtureBase } from './fixture-core';
import { REGION, createAlbWorld, startMoto } from './moto';
import type { AlbWorld, Moto } from './moto';

export interface AlbFixtureOptions {
  /** The application's prefix; default "alb". */
  name?: string;
  modules?: string[];
  /** Called with each ELBv2 operation the worker's ALB driver sends ("DescribeRules"...). */
  onCall?: (operation: string) => void;
  /** Wraps each ALB router the worker makes (e.g. to attribute calls to Router methods). */
  wrapRouter?: (router: Router) => Router;
  /** Another platform than the local one (see kubernetes-alb-blue-green.test.ts). */
  platform?: CoreOptions['platform'];
  /** Replicas per deployment (default 1: local replicas all listen on 127.0.0.1, and moto keeps one target per IP). */
  replicas?: number;
}

export interface AlbFixture extends FixtureBase {
  world: AlbWorld;
}

/**
 * Starts moto for the calling test file (beforeAll) and stops it at the end (afterAll); returns the function that
 * makes a fixture on it (each resets moto: a fresh ALB world per fixture).
 */
export function useAlbFixtures(): (options?: AlbFixtureOptions) => Promise<AlbFixture> {
  let moto: Moto | undefined;
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => {
    await moto?.stop();
  });
  return (options) => {
    if (!moto) throw new Error('moto is not running: call useAlbFixtures() at the top of the test file');
    return createAlbFixture(moto, options);
  };
}

export async function createAlbFixture(moto: Moto, options: AlbFixtureOptions = {}): Promise<AlbFixture> {
  const { name = 'alb', modules = ['Catalog', 'Cart'], onCall, wrapRouter = (router) => router } = options;
  const core = await createFixtureCore(
    {
      name,
      modules,
      ...(options.platform ? { platform: options.platform } : {}),
      drivers: ({ platformDir }) => {
        const defaults = defaultDrivers({ localStateDir: platformDir });
        const routers = new Map<string, Router>();
        return {
          platform: defaults.platform,
          router: (config) => {
            if (config.kind !== 'aws-alb') return defaults.router(config);
            const key = JSON.stringify(config);
            let router = routers.get(key);
            if (!router) {
              const { kind: _kind, ...albConfig } = config;
              // The spec's endpoint, as in production: moto, or a faulty link in front of it (test/integration/faults).
              const api = newSdkElbV2Api({ region: REGION, endpoint: albConfig.endpoint ?? moto.endpoint, onCall });
              router = wrapRouter(newAwsAlbDriver(albConfig, { api, pollMs: 100 }));
              routers.set(key, router);
            }
            return router;
          },
        };
      },
    },
    async () => {
      await moto.reset();
      const world = await createAlbWorld(moto.endpoint);
      return {
        world,
        specDefaults: { replicas: options.replicas ?? 1 },
        routerSpec: () => ({
          kind: 'aws-alb',
          region: REGION,
          endpoint: moto.endpoint,
          listenerArn: world.listenerArn,
          targetGroups: { vpcId: world.vpcId, port: 80, healthCheck: { path: '/Catalog/_ping.html' } },
        }),
      };
    },
  );
  await core.startInProcessWorker();
  return { ...core, world: core.router.world };
}
