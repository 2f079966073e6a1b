/**
 * The bounded-payload rolling activities (activities/rolling-sets.ts) over in-memory ports: each states a desired
 * state in counts, so a retry converges instead of repeating; which replicas is decided by ordinal then id, served
 * first, and works with gaps in the numbering and with ids not of the `<set>-<i>` form (sets adopted from blue-green).
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { Drivers } from '../../activities/drivers';
import type { ModuleRule, Platform, ProbeResult, Replica, ReplicaSetState, Router, Slot } from '../../activities/ports';
import type { PlatformConfig, RouterConfig } from '../../workflows/spec';

const platform: PlatformConfig = { kind: 'local', stateDir: '/tmp/none', env: {}, startTimeout: 300_000 };
const router: RouterConfig = { kind: 'local', adminUrl: 'http://127.0.0.1:1', publicUrl: 'http://127.0.0.1:2' };
const health = { path: '/{module}/_ping.html', interval: 1, timeout: 100, successThreshold: 1, deadline: 1000 };
const backend = 'shop-rolling';
const on = { platform, router, backend };

interface World {
  drivers: Drivers;
  sets: ReplicaSetState[];
  backends: Map<string, string[]>;
  rules: Record<string, ModuleRule>;
  /** Launch calls per replica id. */
  launches: Map<string, number>;
  retired: string[];
  probe: (replica: Replica) => ProbeResult;
  /** Fail the launch of this id once (a worker dying halfway through a launch). */
  failOnce?: string;
}

function world(): World {
  let port = 40000;
  const w: World = {
    drivers: undefined as unknown as Drivers,
    sets: [],
    backends: new Map([[backend, []]]),
    rules: {},
    launches: new Map(),
    retired: [],
    probe: () => ({ healthy: true }),
  };
  const find = (name: string) => w.sets.find((s) => s.name === name);
  const r: Router = {
    type: 'fake',
    readRules: async (modules) =>
      Object.fromEntries(modules.filter((m) => w.rules[m]).map((m) => [m, w.rules[m] as ModuleRule])),
    ensureBackend: async (b, targets) => void w.backends.set(b, [...targets]),
    describeBackend: async (b) => w.backends.get(b),
    removeBackend: async (b) => void w.backends.delete(b),
    setModuleRule: async () => undefined,
    removeModuleRule: async () => undefined,
    registerTargets: async (b, targets) => void w.backends.set(b, [...(w.backends.get(b) ?? []), ...targets]),
    deregisterTargets: async (b, targets) =>
      void w.backends.set(
        b,
        (w.backends.get(b) ?? []).filter((t) => !targets.includes(t)),
      ),
    inFlight: { count: async () => 0 },
    verify: async () => ({ status: 'not-supported', detail: 'fake' }),
  };
  const p: Platform = {
    kind: 'fake',
    ensureReplicaSet: async () => {
      throw new Error('not used');
    },
    scaleReplicaSet: async () => {
      throw new Error('not used');
    },
    launchReplica: async (name, id) => {
      w.launches.set(id, (w.launches.get(id) ?? 0) + 1);
      const set = find(name) as ReplicaSetState;
      const existing = set.replicas.find((x) => x.id === id);
      if (existing) return existing;
      const replica = { id, address: `http://127.0.0.1:${port++}`, running: true };
      set.replicas.push(replica);
      if (w.failOnce === id) {
        w.failOnce = undefined;
        throw new Error('worker died');
      }
      return replica;
    },
    retireReplica: async (name, id) => {
      const set = find(name);
      if (!set) return;
      set.replicas = set.replicas.filter((x) => x.id !== id);
      w.retired.push(id);
    },
    getReplicaSet: async (name) => find(name),
    listReplicaSets: async (application) => w.sets.filter((s) => s.application === application),
    retireReplicaSet: async () => undefined,
    probe: async (replica) => w.probe(replica),
  };
  w.drivers = { platform: () => p, router: () => r };
  return w;
}

/** A set with replicas of these ids; `served` of them (the first ones) registered in the backend. */
function addSet(w: World, name: string, ids: string[], served = 0, slot: Slot = 'rolling') {
  const replicas = ids.map((id, i) => ({ id, address: `http://10.0.0.${w.sets.length}:${1000 + i}`, running: true }));
  w.sets.push({ name, application: 'shop', version: '1.0.0', slot, desired: ids.length, replicas });
  w.backends.set(backend, [...(w.backends.get(backend) ?? []), ...replicas.slice(0, served).map((r) => r.address)]);
  return replicas;
}

const ids = (w: World, name: string) => (w.sets.find((s) => s.name === name)?.replicas ?? []).map((r) => r.id).sort();
const servedIds = (w: World, name: string) =>
  (w.sets.find((s) => s.name === name)?.replicas ?? [])
    .filter((r) => w.backends.get(backend)?.includes(r.address))
    .map((r) => r.id)
    .sort();

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ApplicationFailure) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

describe('discoverRollingSets', () => {
  test('one summary per set, counting the replicas the backend serves; no replica listed', async () => {
    const w = world();
    for (const m of ['Catalog']) w.rules[m] = { module: m, backends: [{ backend, weight: 100 }] };
    addSet(w, 'shop-2-rolling', ['shop-2-rolling-0']);
    addSet(w, 'shop-1-rolling', ['shop-1-rolling-0', 'shop-1-rolling-4', 'shop-1-rolling-5'], 2);
    const live = await createActivities(w.drivers).discoverRollingSets({
      application: 'shop',
      modules: ['Catalog'],
      platform,
      router,
    });
    expect(live).toMatchObject({ routing: 'rolling', backend, targets: 2 });
    expect(live.sets).toEqual([
      { name: 'shop-1-rolling', version: '1.0.0', slot: 'rolling', launched: 3, served: 2, nextOrdinal: 6 },
      { name: 'shop-2-rolling', version: '1.0.0', slot: 'rolling', launched: 1, served: 0, nextOrdinal: 1 },
    ]);
  });
});

describe('launchToCount', () => {
  test('launches the missing replicas, lowest free ordinal first (filling the gaps a rollback left)', async () => {
    const w = world();
    addSet(w, 'v1', ['v1-0', 'v1-4', 'v1-5', 'v1-6']);
    const result = await createActivities(w.drivers).launchToCount({ platform, set: 'v1', count: 7 });
    expect(result).toEqual({ launched: 7, nextOrdinal: 7 });
    expect(ids(w, 'v1')).toEqual(['v1-0', 'v1-1', 'v1-2', 'v1-3', 'v1-4', 'v1-5', 'v1-6']);
  });

  test('from an ordinal on (the workflow numbers on): the id of a replica retired before is not used again', async () => {
    const w = world();
    addSet(w, 'v1', ['v1-0']); // v1-1 was taken out by a batch; the rollback puts a v1 replica back
    const acts = createActivities(w.drivers);
    expect(await acts.launchToCount({ platform, set: 'v1', count: 2, fromOrdinal: 2 })).toEqual({
      launched: 2,
      nextOrdinal: 3,
    });
    expect(ids(w, 'v1')).toEqual(['v1-0', 'v1-2']);
    // A retry with the same input converges: nothing more.
    expect(await acts.launchToCount({ platform, set: 'v1', count: 2, fromOrdinal: 2 })).toEqual({
      launched: 2,
      nextOrdinal: 3,
    });
    expect(w.launches.get('v1-2')).toBe(1);
  });

  test('a retry after a launch that died halfway launches only what is missing: never a second copy', async () => {
    const w = world();
    addSet(w, 'v2', []);
    w.failOnce = 'v2-1';
    const acts = createActivities(w.drivers);
    await expect(acts.launchToCount({ platform, set: 'v2', count: 3 })).rejects.toThrow();
    expect(await acts.launchToCount({ platform, set: 'v2', count: 3 })).toEqual({ launched: 3, nextOrdinal: 3 });
    expect(await acts.launchToCount({ platform, set: 'v2', count: 3 })).toEqual({ launched: 3, nextOrdinal: 3 });
    expect(ids(w, 'v2')).toEqual(['v2-0', 'v2-1', 'v2-2']);
    // v2-1 was asked for once more only because its first launch failed; the others exactly once.
    expect(w.launches.get('v2-0')).toBe(1);
    expect(w.launches.get('v2-2')).toBe(1);
  });

  test('ids of another form (a set adopted from blue-green) count, and are never collided with', async () => {
    const w = world();
    addSet(w, 'shop-1-0-0-blue', ['blue-a', 'blue-b']);
    expect(await createActivities(w.drivers).launchToCount({ platform, set: 'shop-1-0-0-blue', count: 3 })).toEqual({
      launched: 3,
      nextOrdinal: 1,
    });
    expect(ids(w, 'shop-1-0-0-blue')).toEqual(['blue-a', 'blue-b', 'shop-1-0-0-blue-0']);
  });

  test('a set that does not exist is refused', async () => {
    const w = world();
    const failure = await failureOf(createActivities(w.drivers).launchToCount({ platform, set: 'nope', count: 1 }));
    expect(failure.type).toBe('ResourceNotFoundError');
  });
});

describe('awaitSetAvailable', () => {
  test('probes only the replicas the backend does not serve yet, and answers with a count', async () => {
    const w = world();
    addSet(w, 'v2', ['v2-0', 'v2-1', 'v2-2'], 1);
    const probed: string[] = [];
    w.probe = (r) => (probed.push(r.id), { healthy: true });
    const env = new MockActivityEnvironment();
    const result = await env.run(createActivities(w.drivers).awaitSetAvailable, {
      ...on,
      set: 'v2',
      count: 2,
      modules: ['Catalog'],
      health,
      minReadyMs: 0,
      progressDeadlineMs: 60_000,
      startedAt: Date.now(),
    });
    expect(result).toEqual({ available: 2 });
    expect([...new Set(probed)].sort()).toEqual(['v2-1', 'v2-2']);
  });

  test('fewer replicas than asked for, or unhealthy ones, end at the progress deadline', async () => {
    const w = world();
    addSet(w, 'v2', ['v2-0']);
    const env = new MockActivityEnvironment();
    const failure = await failureOf(
      env.run(createActivities(w.drivers).awaitSetAvailable, {
        ...on,
        set: 'v2',
        count: 2,
        modules: ['Catalog'],
        health,
        minReadyMs: 0,
        progressDeadlineMs: 1,
        startedAt: Date.now() - 10,
      }),
    );
    expect(failure.type).toBe('ProgressDeadlineExceededError');
    expect(failure.message).toMatch(/1 of 2 replicas exist in v2/);
  });
});

describe('registerSetTargets, deregisterSetTargets', () => {
  test('deregisters the last served replicas in id order and registers the missing ones, in one call', async () => {
    const w = world();
    addSet(w, 'v1', ['v1-0', 'v1-4', 'v1-5', 'v1-6'], 4);
    addSet(w, 'v2', ['v2-0', 'v2-1']);
    const acts = createActivities(w.drivers);
    const sets = [
      { name: 'v1', served: 2 },
      { name: 'v2', served: 2 },
    ];
    const summaries = await acts.deregisterSetTargets({ ...on, sets });
    expect(servedIds(w, 'v1')).toEqual(['v1-0', 'v1-4']);
    expect(servedIds(w, 'v2')).toEqual(['v2-0', 'v2-1']);
    expect(summaries.map((s) => [s.name, s.launched, s.served])).toEqual([
      ['v1', 4, 2],
      ['v2', 2, 2],
    ]);
    // A retry (the result was lost) finds the backend as asked and changes nothing.
    const before = [...(w.backends.get(backend) ?? [])];
    await acts.registerSetTargets({ ...on, sets });
    expect(w.backends.get(backend)).toEqual(before);
  });

  test('too few replicas to serve is refused; a router that does not apply is refused on read-back', async () => {
    const w = world();
    addSet(w, 'v2', ['v2-0']);
    const acts = createActivities(w.drivers);
    expect((await failureOf(acts.registerSetTargets({ ...on, sets: [{ name: 'v2', served: 2 }] }))).type).toBe(
      'ReplicasUnhealthyError',
    );
    const r = w.drivers.router(router);
    r.registerTargets = async () => undefined;
    expect((await failureOf(acts.registerSetTargets({ ...on, sets: [{ name: 'v2', served: 1 }] }))).type).toBe(
      'RuleReadbackMismatchError',
    );
  });
});

describe('drainUnserved, retireUnserved, publishSets', () => {
  test('retire stops exactly the replicas the backend does not serve; a retry retires nothing more', async () => {
    const w = world();
    addSet(w, 'v1', ['blue-x', 'v1-0', 'v1-3'], 1);
    const acts = createActivities(w.drivers);
    const env = new MockActivityEnvironment();
    expect(await env.run(acts.drainUnserved, { ...on, sets: ['v1'], timeoutMs: 1000 })).toEqual({
      drained: true,
      remaining: 0,
    });
    const summaries = await acts.retireUnserved({ ...on, sets: ['v1'] });
    expect(w.retired.sort()).toEqual(['v1-0', 'v1-3']);
    expect(summaries).toMatchObject([{ name: 'v1', launched: 1, served: 1 }]);
    await acts.retireUnserved({ ...on, sets: ['v1'] });
    expect(w.retired).toHaveLength(2);
  });

  test('a backend that does not exist is refused rather than read as serving nothing (which would retire all)', async () => {
    const w = world();
    addSet(w, 'v1', ['v1-0']);
    const failure = await failureOf(
      createActivities(w.drivers).retireUnserved({ ...on, backend: 'gone', sets: ['v1'] }),
    );
    expect(failure.type).toBe('ResourceNotFoundError');
    expect(w.retired).toEqual([]);
  });

  test('publishSets: a backend with the replicas of these sets that another backend serves', async () => {
    const w = world();
    const blue = addSet(w, 'shop-blue', ['blue-a', 'blue-b', 'blue-c'], 2, 'blue');
    w.backends.set('shop-blue', w.backends.get(backend) ?? []);
    const acts = createActivities(w.drivers);
    expect(await acts.publishSets({ ...on, backend: 'shop-new', sets: ['shop-blue'], servedBy: 'shop-blue' })).toEqual({
      targets: 2,
    });
    expect(w.backends.get('shop-new')).toEqual([blue[0]?.address, blue[1]?.address]);
    expect(await acts.publishSets({ ...on, backend: 'shop-all', sets: ['shop-blue'] })).toEqual({ targets: 3 });
  });
});
