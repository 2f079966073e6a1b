/**
 * Blue-green's activities on their own: the switch's read-back, a retried health wait resuming its counts from the
 * last heartbeat, provisioning that never launches a second copy (in memory, and on the real local platform), and
 * the bounded activities resolving replica sets from the platform (patch blue-green-bounded-payloads).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { PROBE_CONCURRENCY } from '../../activities/blue-green';
import type { ProbeProgress } from '../../activities/blue-green';
import { newLocalPlatformDriver } from '../../activities/drivers/local';
import { ErrorType } from '../../activities/errors';
import type { Platform, ReplicaSetSpec } from '../../activities/ports';
import type { HealthCheck, PlatformConfig, RouterConfig } from '../../workflows/spec';
import { localStarts } from '../support/launches';
import { distFile, killAll, replicaPids, tempDir } from './drivers/local-support';
import { failureOf, memoryRouter, memoryWorld as world } from './memory-ports';

const platformConfig: PlatformConfig = { kind: 'local', stateDir: '/tmp/none', env: {}, startTimeout: 60_000 };
const routerConfig: RouterConfig = { kind: 'local', adminUrl: 'http://127.0.0.1:1', publicUrl: 'http://127.0.0.1:2' };
const health: HealthCheck = { path: '/{module}/_ping', interval: 1, timeout: 100, successThreshold: 2, deadline: 5000 };
const green = { backend: 'shop-green', weight: 100 };

function replicaSet(replicas: number, name = 'shop-2-0-0-green'): ReplicaSetSpec {
  return { name, application: 'shop', version: '2.0.0', slot: 'green', modules: ['Catalog'], replicas, env: {} };
}

/** Runs one activity in a mock activity environment (typed: the environment's own run() answers unknown). */
function inEnv<A, R>(env: MockActivityEnvironment, fn: (input: A) => Promise<R>, input: A): Promise<R> {
  return env.run<[A], R, (input: A) => Promise<R>>(fn, input);
}

describe('switchTraffic reads the rules back', () => {
  test('rules that read back as written: the switch succeeds and every module points at green', async () => {
    const { router, activities } = world();
    await inEnv(new MockActivityEnvironment(), activities.switchTraffic, {
      router: routerConfig,
      modules: ['Catalog', 'Cart'],
      backends: [green],
    });
    expect(router.rules.Catalog?.backends).toEqual([green]);
    expect(router.rules.Cart?.backends).toEqual([green]);
    expect(router.calls.filter((c) => c.startsWith('readRules'))).toEqual(['readRules Catalog,Cart']);
  });

  test('a rule that reads back different: RuleReadbackMismatch, non-retryable, naming the module', async () => {
    const { router, activities } = world();
    router.readBack = (rule) =>
      rule.module === 'Cart' ? { ...rule, backends: [{ backend: 'shop-blue', weight: 100 }] } : rule;
    const failure = await failureOf(
      inEnv(new MockActivityEnvironment(), activities.switchTraffic, {
        router: routerConfig,
        modules: ['Catalog', 'Cart'],
        backends: [green],
      }),
    );
    expect(failure.type).toBe(ErrorType.RuleReadbackMismatch);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/rules of Cart do not read back as written/);
    expect(failure.message).not.toMatch(/Catalog/);
  });

  test('a rule that reads back missing is a mismatch too', async () => {
    const { router, activities } = world();
    router.readRules = async () => ({});
    const failure = await failureOf(
      inEnv(new MockActivityEnvironment(), activities.switchTraffic, {
        router: routerConfig,
        modules: ['Catalog'],
        backends: [green],
      }),
    );
    expect([failure.type, failure.nonRetryable]).toEqual([ErrorType.RuleReadbackMismatch, true]);
  });

  test('restoreRules: a rule that was absent must read back absent, else RuleReadbackMismatch', async () => {
    const { router, activities } = world();
    router.rules.Catalog = { module: 'Catalog', backends: [green] };
    // The router keeps answering with the rule it was told to remove.
    router.readBack = (rule) => rule;
    router.removeModuleRule = async () => undefined;
    const failure = await failureOf(
      inEnv(new MockActivityEnvironment(), activities.restoreRules, {
        router: routerConfig,
        modules: ['Catalog'],
        rules: {},
      }),
    );
    expect([failure.type, failure.nonRetryable]).toEqual([ErrorType.RuleReadbackMismatch, true]);
    expect(failure.message).toMatch(/rules of Catalog were not restored/);
  });
});

describe('a retried health wait resumes from its last heartbeat', () => {
  const input = (expected: number) => ({
    platform: platformConfig,
    replicaSet: 'shop-2-0-0-green',
    expected,
    modules: ['Catalog', 'Cart'],
    health,
    deadlineAt: Date.now() + 60_000,
  });

  test('a first attempt needs successThreshold (2) rounds of probes of every replica and module', async () => {
    const { platform, activities } = world();
    await platform.ensureReplicaSet(replicaSet(3));
    const heartbeats: ProbeProgress[] = [];
    const env = new MockActivityEnvironment();
    env.on('heartbeat', (d: unknown) => heartbeats.push(structuredClone(d as ProbeProgress)));
    const result = await inEnv(env, activities.awaitReplicaSetHealthy, input(3));
    expect(result).toEqual({ healthy: 3, replicas: 3 });
    expect(platform.probes).toHaveLength(2 * 3 * 2);
    expect(heartbeats.at(-1)?.successes).toEqual({
      'shop-2-0-0-green-0': 2,
      'shop-2-0-0-green-1': 2,
      'shop-2-0-0-green-2': 2,
    });
  });

  test('an attempt resumed with one success each needs one round; a replica at 0 needs two', async () => {
    const { platform, activities } = world();
    await platform.ensureReplicaSet(replicaSet(3));
    const resumed: ProbeProgress = {
      successes: { 'shop-2-0-0-green-0': 1, 'shop-2-0-0-green-1': 1, 'shop-2-0-0-green-2': 0 },
    };
    const env = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: resumed });
    const result = await inEnv(env, activities.awaitReplicaSetHealthy, input(2));
    expect(result).toEqual({ healthy: 2, replicas: 3 });
    // One round: 3 replicas x 2 modules. Without the resumed counts it would have taken two.
    expect(platform.probes).toHaveLength(3 * 2);
  });

  test('resumed counts are not trusted past a failure: a replica failing again starts from 0', async () => {
    const { platform, activities } = world();
    await platform.ensureReplicaSet(replicaSet(1));
    platform.answer = () => ({ healthy: false, reason: 'HTTP 503' });
    const env = new MockActivityEnvironment({
      attempt: 3,
      heartbeatDetails: { successes: { 'shop-2-0-0-green-0': 1 } } satisfies ProbeProgress,
    });
    const heartbeats: ProbeProgress[] = [];
    env.on('heartbeat', (d: unknown) => heartbeats.push(structuredClone(d as ProbeProgress)));
    const failure = await failureOf(inEnv(env, activities.awaitReplicaSetHealthy, { ...input(1), deadlineAt: 0 }));
    expect([failure.type, failure.nonRetryable]).toEqual([ErrorType.ReplicasUnhealthy, true]);
    expect(failure.message).toMatch(/0\/1 replicas of shop-2-0-0-green healthy by the deadline; last failure: .*503/);
    expect(heartbeats.at(-1)?.successes).toEqual({ 'shop-2-0-0-green-0': 0 });
  });

  test('a round probes replicas and modules side by side, at most PROBE_CONCURRENCY at once; a failure names the first failing module', async () => {
    const { platform, activities } = world();
    await platform.ensureReplicaSet(replicaSet(3));
    const modules = Array.from({ length: 20 }, (_, i) => `M${i}`);
    let inFlight = 0;
    let most = 0;
    const probe = platform.probe.bind(platform);
    platform.probe = async (replica, p, timeoutMs, signal) => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 2));
      inFlight--;
      return probe(replica, p, timeoutMs, signal);
    };
    // Replica 1 fails on M3 and M7: the failure reported is M3's, whichever answered first (one round: deadline 0).
    platform.answer = (replica, p) =>
      replica.id.endsWith('-1') && /\/M[37]\//.test(p)
        ? { healthy: false, reason: `HTTP 503 ${p}` }
        : { healthy: true };
    const failure = await failureOf(
      inEnv(new MockActivityEnvironment(), activities.awaitReplicaSetHealthy, {
        ...input(3),
        modules,
        health: { ...health, path: '/{module}/_ping' },
        deadlineAt: 0,
      }),
    );
    expect(failure.type).toBe(ErrorType.ReplicasUnhealthy);
    expect(failure.message).toMatch(/0\/3 replicas .*last failure: shop-2-0-0-green-1 \/M3\/_ping: HTTP 503/);
    expect(platform.probes).toHaveLength(3 * 20);
    expect(most).toBe(PROBE_CONCURRENCY);
  });

  test('the activity of runs before the patch (awaitHealthy) resumes the same way and still answers replicas', async () => {
    const { platform, activities } = world();
    await platform.ensureReplicaSet(replicaSet(2));
    const env = new MockActivityEnvironment({
      attempt: 2,
      heartbeatDetails: { successes: { 'shop-2-0-0-green-0': 1, 'shop-2-0-0-green-1': 1 } } satisfies ProbeProgress,
    });
    const result = await inEnv(env, activities.awaitHealthy, input(2));
    expect(result.healthy).toBe(2);
    expect(result.replicas.map((r) => r.id)).toEqual(['shop-2-0-0-green-0', 'shop-2-0-0-green-1']);
    expect(platform.probes).toHaveLength(2 * 2);
  });
});

describe('provisioning is idempotent', () => {
  test('in memory: a second call (a retry) and a scale-up launch no replica twice; the answer is counts', async () => {
    const { platform, activities } = world();
    const env = new MockActivityEnvironment();
    const first = await inEnv(env, activities.scaleUpReplicaSet, {
      platform: platformConfig,
      replicaSet: replicaSet(2),
    });
    const again = await inEnv(new MockActivityEnvironment({ attempt: 2 }), activities.scaleUpReplicaSet, {
      platform: platformConfig,
      replicaSet: replicaSet(2),
    });
    const full = await inEnv(env, activities.scaleUpReplicaSet, {
      platform: platformConfig,
      replicaSet: replicaSet(4),
    });
    expect(first).toEqual({ name: 'shop-2-0-0-green', slot: 'green', version: '2.0.0', desired: 2, launched: 2 });
    expect(again).toEqual(first);
    expect(full.launched).toBe(4);
    expect([...platform.launches.values()]).toEqual([1, 1, 1, 1]);
  });

  describe('on the real local platform (the sample app as processes)', () => {
    const stateDir = tempDir('bg-activities');
    let local: Platform;
    const config: PlatformConfig = { kind: 'local', stateDir, env: {}, startTimeout: 30_000 };

    beforeAll(() => {
      distFile('examples/sample-app/server.js');
      local = newLocalPlatformDriver({ stateDir, stopTimeoutMs: 5_000 });
    });

    afterAll(async () => {
      try {
        for (const name of fs.readdirSync(path.join(stateDir, 'platform'))) await local.retireReplicaSet(name);
      } finally {
        killAll(replicaPids(stateDir));
        fs.rmSync(stateDir, { recursive: true, force: true });
      }
    });

    test('two calls at once and a retry after them start each replica once', async () => {
      const activities = createActivities({ platform: () => local, router: () => memoryRouter() });
      const spec = replicaSet(2, 'shop-2-0-0-idem-green');
      const run = (attempt: number) =>
        inEnv(new MockActivityEnvironment({ attempt }), activities.scaleUpReplicaSet, {
          platform: config,
          replicaSet: spec,
        });
      const [a, b] = await Promise.all([run(1), run(2)]);
      const c = await run(3);
      for (const answer of [a, b, c]) expect([answer.desired, answer.launched]).toEqual([2, 2]);
      expect(localStarts(stateDir, spec.name)).toEqual({ 'shop-2-0-0-idem-green-0': 1, 'shop-2-0-0-idem-green-1': 1 });
      expect(replicaPids(stateDir)).toHaveLength(2);
    }, 60_000);
  });
});

describe('the bounded activities resolve replica sets from the platform', () => {
  test('publishReplicaSet publishes every reachable replica of the set; an unknown set is refused', async () => {
    const { platform, router, activities } = world();
    const state = await platform.ensureReplicaSet(replicaSet(3));
    const env = new MockActivityEnvironment();
    const published = await inEnv(env, activities.publishReplicaSet, {
      platform: platformConfig,
      router: routerConfig,
      backend: 'shop-green',
      replicaSet: state.name,
    });
    expect(published).toEqual({ targets: 3 });
    expect(router.backends.get('shop-green')).toEqual(state.replicas.map((r) => r.address));

    const failure = await failureOf(
      inEnv(env, activities.publishReplicaSet, {
        platform: platformConfig,
        router: routerConfig,
        backend: 'shop-green',
        replicaSet: 'shop-9-9-9-green',
      }),
    );
    expect([failure.type, failure.nonRetryable]).toEqual([ErrorType.PlatformRequestRejected, true]);
    expect(failure.message).toMatch(/shop-9-9-9-green does not exist/);
  });

  test('drainReplicaSets counts the requests in flight to the sets’ replicas until none is left', async () => {
    const { platform, router, activities } = world();
    const state = await platform.ensureReplicaSet(replicaSet(2));
    const inFlight = new Map(state.replicas.map((r) => [r.address, 2]));
    router.inFlight = {
      count: async (target) => {
        const n = inFlight.get(target) ?? 0;
        inFlight.set(target, Math.max(0, n - 1));
        return n;
      },
    };
    const heartbeats: { remaining: number }[] = [];
    const env = new MockActivityEnvironment();
    env.on('heartbeat', (d: unknown) => heartbeats.push(d as { remaining: number }));
    const result = await inEnv(env, activities.drainReplicaSets, {
      platform: platformConfig,
      router: routerConfig,
      replicaSets: [state.name, 'shop-gone-green'],
      timeoutMs: 10_000,
    });
    expect(result).toEqual({ drained: true, remaining: 0, observed: true });
    expect(heartbeats.map((h) => h.remaining)).toEqual([4, 2, 0]);
  });
});
