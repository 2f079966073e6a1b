/**
 * The rolling update's activities over in-memory ports: discovery of what
 * serves, read-back of registrations, the per-replica probe with its progress
 * deadline, and the platform driver made without the spec's env.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { Drivers } from '../../activities/drivers';
import type { ModuleRule, Platform, ProbeResult, Replica, ReplicaSetState, Router, Slot } from '../../activities/ports';
import type { PlatformConfig, RouterConfig } from '../../workflows/spec';

const platformConfig: PlatformConfig = {
  kind: 'local',
  stateDir: '/tmp/none',
  env: { SECRET_FLAG: 'x' },
  startTimeout: 300_000,
};
const routerConfig: RouterConfig = { kind: 'local', adminUrl: 'http://127.0.0.1:1', publicUrl: 'http://127.0.0.1:2' };
const health = { path: '/{module}/_ping.html', interval: 1, timeout: 100, successThreshold: 2, deadline: 1000 };

interface FakeWorld {
  drivers: Drivers;
  rules: Record<string, ModuleRule>;
  backends: Map<string, string[]>;
  sets: ReplicaSetState[];
  platformConfigs: PlatformConfig[];
  /** Probe answer per replica id (default healthy). */
  probe: (replica: Replica) => ProbeResult;
  /** A router that acknowledges registrations without applying them. */
  forgetful: boolean;
}

function fakeWorld(): FakeWorld {
  const world: FakeWorld = {
    rules: {},
    backends: new Map(),
    sets: [],
    platformConfigs: [],
    probe: () => ({ healthy: true }),
    forgetful: false,
    drivers: undefined as unknown as Drivers,
  };
  const router: Router = {
    type: 'fake',
    readRules: async (modules) =>
      Object.fromEntries(modules.filter((m) => world.rules[m]).map((m) => [m, world.rules[m] as ModuleRule])),
    ensureBackend: async (backend, targets) => void world.backends.set(backend, [...targets]),
    describeBackend: async (backend) => world.backends.get(backend),
    removeBackend: async (backend) => void world.backends.delete(backend),
    setModuleRule: async (module, backends) => void (world.rules[module] = { module, backends }),
    removeModuleRule: async (module) => void delete world.rules[module],
    registerTargets: async (backend, targets) => {
      if (!world.forgetful) world.backends.set(backend, [...(world.backends.get(backend) ?? []), ...targets]);
    },
    deregisterTargets: async (backend, targets) =>
      void world.backends.set(
        backend,
        (world.backends.get(backend) ?? []).filter((t) => !targets.includes(t)),
      ),
    verify: async () => ({ status: 'not-supported', detail: 'fake' }),
  };
  const platform: Platform = {
    kind: 'fake',
    ensureReplicaSet: async () => {
      throw new Error('not used');
    },
    scaleReplicaSet: async () => {
      throw new Error('not used');
    },
    launchReplica: async (name, id) => {
      const set = world.sets.find((s) => s.name === name) as ReplicaSetState;
      const replica = { id, address: `http://127.0.0.1:${40000 + set.replicas.length}`, running: true };
      set.replicas.push(replica);
      return replica;
    },
    retireReplica: async () => undefined,
    getReplicaSet: async (name) => world.sets.find((s) => s.name === name),
    listReplicaSets: async (application) => world.sets.filter((s) => s.application === application),
    retireReplicaSet: async () => undefined,
    probe: async (replica) => world.probe(replica),
  };
  world.drivers = {
    platform: (config) => {
      world.platformConfigs.push(config);
      return platform;
    },
    router: () => router,
  };
  return world;
}

function set(name: string, slot: Slot, addresses: string[]): ReplicaSetState {
  return {
    name,
    application: 'shop',
    version: '1.0.0',
    slot,
    desired: addresses.length,
    replicas: addresses.map((address, i) => ({ id: `${name}-${i}`, address, running: true })),
  };
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ApplicationFailure) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

const modules = ['Catalog', 'Cart'];
const discover = { application: 'shop', modules, platform: platformConfig, router: routerConfig };

describe('discoverRolling', () => {
  test('the rolling backend: its targets and every replica set', async () => {
    const w = fakeWorld();
    w.backends.set('shop-rolling', ['http://a:1']);
    for (const m of modules) w.rules[m] = { module: m, backends: [{ backend: 'shop-rolling', weight: 100 }] };
    w.sets.push(set('shop-1-0-0-rolling-x', 'rolling', ['http://a:1']));
    const live = await createActivities(w.drivers).discoverRolling(discover);
    expect(live).toMatchObject({ routing: 'rolling', backend: 'shop-rolling', targets: ['http://a:1'] });
    expect(live.replicaSets).toHaveLength(1);
    // The platform driver is made without the spec's env: each replica set carries its own.
    expect(w.platformConfigs.every((c) => Object.keys(c.env).length === 0)).toBe(true);
  });

  test('a blue-green color (adopted by the workflow) and the default rule', async () => {
    const w = fakeWorld();
    w.backends.set('shop-blue', ['http://b:1']);
    for (const m of modules) w.rules[m] = { module: m, backends: [{ backend: 'shop-blue', weight: 100 }] };
    expect(await createActivities(w.drivers).discoverRolling(discover)).toMatchObject({
      routing: 'blue',
      backend: 'shop-blue',
    });
    const empty = fakeWorld();
    expect(await createActivities(empty.drivers).discoverRolling(discover)).toMatchObject({
      routing: 'default',
      backend: null,
      targets: [],
    });
  });

  test('modules routed to different places are refused, naming each', async () => {
    const w = fakeWorld();
    w.rules.Catalog = { module: 'Catalog', backends: [{ backend: 'shop-rolling', weight: 100 }] };
    const failure = await failureOf(createActivities(w.drivers).discoverRolling(discover));
    expect(failure.type).toBe('InconsistentRoutingError');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/Catalog -> shop-rolling, Cart -> default/);
  });

  test('blue-green sees an application served by the rolling backend as live on "rolling", at the version behind it', async () => {
    const w = fakeWorld();
    for (const m of modules) w.rules[m] = { module: m, backends: [{ backend: 'shop-rolling', weight: 100 }] };
    w.backends.set('shop-rolling', ['http://a:2', 'http://a:3']);
    // A set left over from an earlier update (nothing of it behind the backend) and the one that serves.
    w.sets.push(set('shop-1-0-0-rolling-x', 'rolling', ['http://a:1']));
    w.sets.push({ ...set('shop-2-0-0-rolling-y', 'rolling', ['http://a:2', 'http://a:3']), version: '2.0.0' });
    const live = await createActivities(w.drivers).discoverLive(discover);
    expect(live).toMatchObject({ liveColor: 'rolling', liveVersion: '2.0.0' });
    expect(live.replicaSets.map((s) => s.name)).toEqual(['shop-1-0-0-rolling-x', 'shop-2-0-0-rolling-y']);
  });
});

describe('registration read-back', () => {
  test('register and deregister return the backend as read back', async () => {
    const w = fakeWorld();
    w.backends.set('shop-rolling', ['http://a:1']);
    const activities = createActivities(w.drivers);
    const input = { router: routerConfig, backend: 'shop-rolling', targets: ['http://a:2'] };
    expect(await activities.registerTargets(input)).toEqual(['http://a:1', 'http://a:2']);
    expect(await activities.deregisterTargets({ ...input, targets: ['http://a:1'] })).toEqual(['http://a:2']);
  });

  test('a registration the router did not apply is a non-retryable read-back mismatch', async () => {
    const w = fakeWorld();
    w.backends.set('shop-rolling', []);
    w.forgetful = true;
    const failure = await failureOf(
      createActivities(w.drivers).registerTargets({
        router: routerConfig,
        backend: 'shop-rolling',
        targets: ['http://a:2'],
      }),
    );
    expect(failure.type).toBe('RuleReadbackMismatchError');
  });
});

describe('launchReplicas and awaitReplicasHealthy', () => {
  test('launches the given ids, then waits for successThreshold probes of every module', async () => {
    const w = fakeWorld();
    w.sets.push(set('shop-2-rolling-x', 'rolling', []));
    const activities = createActivities(w.drivers);
    const env = new MockActivityEnvironment();
    const launched: Replica[] = await env.run(activities.launchReplicas, {
      platform: platformConfig,
      set: 'shop-2-rolling-x',
      ids: ['shop-2-rolling-x-0', 'shop-2-rolling-x-1'],
    });
    expect(launched.map((r) => r.id)).toEqual(['shop-2-rolling-x-0', 'shop-2-rolling-x-1']);
    const probes: string[] = [];
    w.probe = (replica) => {
      probes.push(replica.id);
      return { healthy: true };
    };
    const result: { replicas: Replica[] } = await env.run(activities.awaitReplicasHealthy, {
      platform: platformConfig,
      replicas: launched.map((r) => ({ set: 'shop-2-rolling-x', id: r.id })),
      modules,
      health,
      minReadyMs: 0,
      progressDeadlineMs: 5_000,
      startedAt: Date.now(),
    });
    expect(result.replicas.map((r) => r.address)).toEqual(launched.map((r) => r.address));
    // 2 successes in a row x 2 modules x 2 replicas.
    expect(probes).toHaveLength(8);
  });

  test('no replica becoming available within the progress deadline fails with ProgressDeadlineExceeded', async () => {
    const w = fakeWorld();
    w.sets.push(set('shop-2-rolling-x', 'rolling', ['http://a:1', 'http://a:2']));
    w.probe = (replica) => (replica.id.endsWith('-0') ? { healthy: true } : { healthy: false, reason: 'HTTP 503' });
    const failure = await failureOf(
      new MockActivityEnvironment().run(createActivities(w.drivers).awaitReplicasHealthy, {
        platform: platformConfig,
        replicas: [0, 1].map((i) => ({ set: 'shop-2-rolling-x', id: `shop-2-rolling-x-${i}` })),
        modules,
        health: { ...health, interval: 20 },
        minReadyMs: 0,
        progressDeadlineMs: 300,
        startedAt: Date.now(),
      }),
    );
    expect(failure.type).toBe('ProgressDeadlineExceededError');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(
      /1\/2 replicas available; none became available for 300 ms; last failure: .*HTTP 503/,
    );
  });

  test('minReadyMs: healthy is not yet available', async () => {
    const w = fakeWorld();
    w.sets.push(set('shop-2-rolling-x', 'rolling', ['http://a:1']));
    const started = Date.now();
    await new MockActivityEnvironment().run(createActivities(w.drivers).awaitReplicasHealthy, {
      platform: platformConfig,
      replicas: [{ set: 'shop-2-rolling-x', id: 'shop-2-rolling-x-0' }],
      modules,
      health: { ...health, interval: 20 },
      minReadyMs: 250,
      progressDeadlineMs: 5_000,
      startedAt: started,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });
});
