/**
 * The Router port's optional capabilities, from the activities' side: a router of the core only refuses a preview
 * and a weighted split with a clear non-retryable NotSupportedError, has no preview to remove, and is not waited on
 * to drain; a router with a capability gets it used. The real drivers' capabilities are as docs/routers.md says.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { newAwsAlbDriver } from '../../activities/drivers/aws-alb';
import type { ElbV2Api } from '../../activities/drivers/aws-alb/api';
import { newLocalRouterDriver } from '../../activities/drivers/local';
import { newNginxDriver } from '../../activities/drivers/nginx';
import { ErrorType } from '../../activities/errors';
import type { PlatformConfig, RouterConfig } from '../../workflows/spec';
import { failureOf, memoryWorld as world } from './memory-ports';

const routerConfig: RouterConfig = { kind: 'local', adminUrl: 'http://127.0.0.1:1', publicUrl: 'http://127.0.0.1:2' };
const platformConfig: PlatformConfig = { kind: 'local', stateDir: '/tmp/none', env: {}, startTimeout: 60_000 };
const split = [
  { backend: 'shop-blue', weight: 90 },
  { backend: 'shop-green', weight: 10 },
];

function inEnv<A, R>(fn: (input: A) => Promise<R>, input: A): Promise<R> {
  return new MockActivityEnvironment().run<[A], R, (input: A) => Promise<R>>(fn, input);
}

describe('a router of the core only', () => {
  test('a preview is refused at first use: NotSupportedError, non-retryable, saying what to do', async () => {
    const { router, activities } = world();
    const failure = await failureOf(
      inEnv(activities.setPreview, { router: routerConfig, modules: ['Catalog'], backend: 'shop-green' }),
    );
    expect([failure.type, failure.nonRetryable]).toEqual([ErrorType.NotSupported, true]);
    expect(failure.message).toBe(
      'the memory router has no preview routes: disable strategy.preview, or use a router that has them',
    );
    expect(router.calls).toEqual([]);
  });

  test('removing a preview (the compensation) has nothing to remove and succeeds', async () => {
    const { router, activities } = world();
    await inEnv(activities.removePreview, { router: routerConfig, modules: ['Catalog', 'Cart'] });
    expect(router.calls).toEqual([]);
  });

  test('a split between two backends is refused before any rule changes; one backend (and zeros) is fine', async () => {
    const { router, activities } = world();
    const failure = await failureOf(
      inEnv(activities.switchTraffic, { router: routerConfig, modules: ['Catalog'], backends: split }),
    );
    expect([failure.type, failure.nonRetryable]).toEqual([ErrorType.NotSupported, true]);
    expect(failure.message).toMatch(/cannot split a module's traffic between 2 backends \(it has no weighted rules\)/);
    expect(router.calls).toEqual([]);

    const one = [
      { backend: 'shop-green', weight: 100 },
      { backend: 'shop-blue', weight: 0 },
    ];
    await inEnv(activities.switchTraffic, { router: routerConfig, modules: ['Catalog'], backends: one });
    expect(router.rules.Catalog?.backends).toEqual(one);
  });

  test('restoring a weighted rule is refused the same way', async () => {
    const { activities } = world();
    const failure = await failureOf(
      inEnv(activities.restoreRules, {
        router: routerConfig,
        modules: ['Catalog'],
        rules: { Catalog: { module: 'Catalog', backends: split } },
      }),
    );
    expect([failure.type, failure.nonRetryable]).toEqual([ErrorType.NotSupported, true]);
  });

  test('draining is not waited for: the bounded drain says it could not see, the old one answers drained', async () => {
    const { platform, activities } = world();
    await platform.ensureReplicaSet({
      name: 'shop-1-0-0-blue',
      application: 'shop',
      version: '1.0.0',
      slot: 'blue',
      modules: ['Catalog'],
      replicas: 2,
      env: {},
    });
    const bounded = await inEnv(activities.drainReplicaSets, {
      platform: platformConfig,
      router: routerConfig,
      replicaSets: ['shop-1-0-0-blue'],
      timeoutMs: 60_000,
    });
    expect(bounded).toEqual({ drained: true, remaining: 0, observed: false });
    const old = await inEnv(activities.drainTargets, {
      router: routerConfig,
      targets: ['http://127.0.0.1:30000'],
      timeoutMs: 60_000,
    });
    expect(old).toEqual({ drained: true, remaining: 0 });
  });
});

describe('a router with the capabilities', () => {
  test('preview routes and weighted rules are used; a split beyond maxBackends is refused naming the limit', async () => {
    const { router, activities } = world();
    const previews: string[] = [];
    router.preview = {
      setRule: async (module, backend) => void previews.push(`${module} -> ${backend}`),
      removeRule: async (module) => void previews.push(`${module} removed`),
    };
    router.weights = { maxBackends: 2 };
    await inEnv(activities.setPreview, { router: routerConfig, modules: ['Catalog'], backend: 'shop-green' });
    await inEnv(activities.removePreview, { router: routerConfig, modules: ['Catalog'] });
    expect(previews).toEqual(['Catalog -> shop-green', 'Catalog removed']);

    await inEnv(activities.switchTraffic, { router: routerConfig, modules: ['Catalog'], backends: split });
    expect(router.rules.Catalog?.backends).toEqual(split);
    const three = [...split.map((b) => ({ ...b, weight: 30 })), { backend: 'shop-rolling', weight: 40 }];
    const failure = await failureOf(
      inEnv(activities.switchTraffic, { router: routerConfig, modules: ['Catalog'], backends: three }),
    );
    expect(failure.message).toMatch(/between 3 backends \(at most 2\)/);
  });

  test('the drivers: local has all three; nginx and the ALB have preview and weights, no in-flight counts', () => {
    const capabilities = (r: { preview?: object; inFlight?: object; weights?: { maxBackends: number } }) => ({
      preview: r.preview !== undefined,
      inFlight: r.inFlight !== undefined,
      maxBackends: r.weights?.maxBackends,
    });
    const local = newLocalRouterDriver({ adminUrl: 'http://127.0.0.1:1', publicUrl: 'http://127.0.0.1:2' });
    const nginx = newNginxDriver({
      confDir: '/tmp/none',
      defaultUpstream: 'http://127.0.0.1:3',
      publicUrl: 'http://127.0.0.1:2',
    } as Parameters<typeof newNginxDriver>[0]);
    const alb = newAwsAlbDriver(
      { listenerArn: 'arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/x/1/1', region: 'eu-west-1' } as Parameters<
        typeof newAwsAlbDriver
      >[0],
      { api: {} as ElbV2Api },
    );
    expect(capabilities(local)).toEqual({ preview: true, inFlight: true, maxBackends: 100 });
    expect(capabilities(nginx)).toEqual({ preview: true, inFlight: false, maxBackends: 100 });
    expect(capabilities(alb)).toEqual({ preview: true, inFlight: false, maxBackends: 5 });
  });
});
