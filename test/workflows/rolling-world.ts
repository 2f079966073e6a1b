/**
 * Stubbed activities for rolling-update unit tests, typed as the real ones:
 * an in-memory platform (replica sets of replicas) and router (backends, module
 * rules), a log of calls, and the two bounds measured after every change:
 * the fewest replicas serving (registered in the backend the modules use) and
 * the most replicas alive at once.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Activities } from '../../activities';
import { ErrorType } from '../../activities/errors';
import type { Drivers } from '../../activities/drivers';
import type { ModuleRule, Platform, Replica, ReplicaSetState, Router, Slot } from '../../activities/ports';
import { createRollingSetActivities } from '../../activities/rolling-sets';
import type { ModuleVerification } from '../../workflows/types';
import { createSpecActivities } from '../../activities/spec';
import { unusedActivities } from './unused-activities';

type Name = keyof Activities;

export interface RollingWorldOptions {
  application: string;
  modules: string[];
  /** What serves at the start: a rolling set, a blue-green color (adopted), or nothing (the default rule). */
  live: 'rolling' | 'blue' | 'none';
  liveVersion?: string;
  liveReplicas?: number;
  /** awaitReplicasHealthy's n-th call (1-based) fails with ProgressDeadlineExceeded when this says so. */
  stall?: (call: number) => boolean;
  /** Fail the n-th launchReplicas call (a platform that refuses). */
  failLaunch?: number;
}

export interface Hold {
  /** Resolves once the held call is running. */
  reached: Promise<void>;
  /** Lets a held call finish (cancellable calls also finish when cancelled). */
  release: () => void;
}

interface WorldReplica {
  id: string;
  address: string;
  running: boolean;
}

interface WorldSet {
  name: string;
  version: string;
  slot: Slot;
  env: Record<string, string>;
  replicas: Map<string, WorldReplica>;
}

export interface RollingWorld {
  activities: Activities;
  calls: { name: Name; input: unknown }[];
  sets: Map<string, WorldSet>;
  backends: Map<string, string[]>;
  rules: Record<string, ModuleRule>;
  /** Launches per replica id (a second launch of a live id would show as 2). */
  launches: Map<string, number>;
  /** The fewest replicas serving after any change since the start, and the most alive at once. */
  bounds: { minServing: number; maxAlive: number };
  called: (name: Name) => number;
  /** Makes the n-th call of `name` wait until released (or, for waits that heartbeat, until cancelled). */
  hold: (name: Name, call: number) => Hold;
  /** Replica ids alive, sorted, with their set's version. */
  alive: () => { id: string; version: string }[];
  serving: () => string[];
}

export function createRollingWorld(options: RollingWorldOptions): RollingWorld {
  const sets = new Map<string, WorldSet>();
  const backends = new Map<string, string[]>();
  const rules: Record<string, ModuleRule> = {};
  const calls: RollingWorld['calls'] = [];
  const launches = new Map<string, number>();
  const holds = new Map<string, { release: () => void; reached: () => void; released: Promise<void> }>();
  const counters = new Map<Name, number>();
  let nextPort = 30000;
  const app = options.application;

  if (options.live !== 'none') {
    const version = options.liveVersion ?? '1.0.0';
    const color = options.live;
    const name =
      color === 'rolling' ? `${app}-${version.replace(/\./g, '-')}-rolling-old` : `${app}-${version}-${color}`;
    const set: WorldSet = { name, version, slot: color, env: {}, replicas: new Map() };
    for (let i = 0; i < (options.liveReplicas ?? 4); i++) {
      const id = `${name}-${i}`;
      set.replicas.set(id, { id, address: `http://127.0.0.1:${nextPort++}`, running: true });
    }
    sets.set(name, set);
    const backend = `${app}-${color}`;
    backends.set(
      backend,
      [...set.replicas.values()].map((r) => r.address),
    );
    for (const m of options.modules) rules[m] = { module: m, backends: [{ backend, weight: 100 }] };
  }

  const alive = () =>
    [...sets.values()]
      .flatMap((s) => [...s.replicas.values()].filter((r) => r.running).map((r) => ({ id: r.id, version: s.version })))
      .sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }));
  const serving = () => {
    const backend = rules[options.modules[0] ?? '']?.backends[0]?.backend;
    return backend ? [...(backends.get(backend) ?? [])] : [];
  };
  const bounds = { minServing: serving().length, maxAlive: alive().length };
  const measure = () => {
    bounds.minServing = Math.min(bounds.minServing, serving().length);
    bounds.maxAlive = Math.max(bounds.maxAlive, alive().length);
  };

  /** Records the call, counts it, and waits here if the test holds this call. */
  const enter = async (name: Name, input: unknown, cancellable = false): Promise<number> => {
    calls.push({ name, input: JSON.parse(JSON.stringify(input)) });
    const n = (counters.get(name) ?? 0) + 1;
    counters.set(name, n);
    const hold = holds.get(`${name}#${n}`);
    if (hold) {
      hold.reached();
      if (cancellable) {
        const ctx = Context.current();
        let released = false;
        void hold.released.then(() => (released = true));
        while (!released) {
          ctx.heartbeat();
          await ctx.sleep(50); // rejects with CancelledFailure once the workflow cancels
        }
      } else {
        await hold.released;
      }
    }
    return n;
  };

  const setOf = (name: string): WorldSet => {
    const set = sets.get(name);
    if (!set)
      throw ApplicationFailure.nonRetryable(`replica set ${name} does not exist`, ErrorType.PlatformRequestRejected);
    return set;
  };
  const toState = (s: WorldSet): ReplicaSetState => ({
    name: s.name,
    application: app,
    version: s.version,
    slot: s.slot,
    desired: s.replicas.size,
    replicas: [...s.replicas.values()].map((r) => ({ ...r })),
  });

  // The bounded-payload activities are the real ones, over this world's platform and router.
  const platform: Platform = {
    kind: 'world',
    ensureReplicaSet: () => Promise.reject(new Error('not used')),
    scaleReplicaSet: () => Promise.reject(new Error('not used')),
    async launchReplica(name, id) {
      const set = setOf(name);
      let replica = set.replicas.get(id);
      if (!replica) {
        replica = { id, address: `http://127.0.0.1:${nextPort++}`, running: true };
        set.replicas.set(id, replica);
        launches.set(id, (launches.get(id) ?? 0) + 1);
      }
      return { ...replica };
    },
    async retireReplica(name, id) {
      sets.get(name)?.replicas.delete(id);
    },
    getReplicaSet: async (name) => {
      const set = sets.get(name);
      return set ? toState(set) : undefined;
    },
    listReplicaSets: async () => [...sets.values()].map(toState),
    retireReplicaSet: () => Promise.reject(new Error('not used')),
    probe: async () => ({ healthy: true }),
  };
  const router: Router = {
    type: 'world',
    readRules: async (modules) =>
      JSON.parse(JSON.stringify(Object.fromEntries(modules.filter((m) => rules[m]).map((m) => [m, rules[m]])))),
    ensureBackend: async (backend, targets) => void backends.set(backend, [...targets]),
    describeBackend: async (backend) => {
      const targets = backends.get(backend);
      return targets ? [...targets] : undefined;
    },
    removeBackend: () => Promise.reject(new Error('not used')),
    setModuleRule: () => Promise.reject(new Error('not used')),
    removeModuleRule: () => Promise.reject(new Error('not used')),
    async registerTargets(backend, targets) {
      const current = backends.get(backend);
      if (!current) throw ApplicationFailure.nonRetryable(`no backend ${backend}`, ErrorType.RouterRequestRejected);
      backends.set(backend, [...current, ...targets.filter((t) => !current.includes(t))]);
    },
    async deregisterTargets(backend, targets) {
      const gone = new Set(targets);
      backends.set(
        backend,
        (backends.get(backend) ?? []).filter((t) => !gone.has(t)),
      );
    },
    inFlight: { count: async () => 0 },
    verify: () => Promise.reject(new Error('not used')),
  };
  const drivers: Drivers = { platform: () => platform, router: () => router };
  const bounded = createRollingSetActivities(drivers);

  const activities: Activities = {
    ...unusedActivities<Activities>(
      ['discoverLive', 'discoverLiveSets', 'provisionReplicaSet', 'awaitHealthy', 'setPreview', 'removePreview'],
      'rolling',
    ),
    // The real spec schema: pure code, as in production.
    ...createSpecActivities(),
    async discoverRolling(input) {
      await enter('discoverRolling', input);
      const backend = rules[input.modules[0] ?? '']?.backends[0]?.backend ?? null;
      const routing = backend === null ? 'default' : (backend.slice(app.length + 1) as 'rolling' | 'blue' | 'green');
      return {
        routing,
        backend,
        targets: backend ? [...(backends.get(backend) ?? [])] : [],
        rules: JSON.parse(JSON.stringify(rules)),
        replicaSets: [...sets.values()].map(toState),
      };
    },
    async ensureRollingReplicaSet(input) {
      await enter('ensureRollingReplicaSet', input);
      const spec = input.replicaSet;
      if (!sets.has(spec.name)) {
        sets.set(spec.name, {
          name: spec.name,
          version: spec.version,
          slot: spec.slot,
          env: spec.env,
          replicas: new Map(),
        });
      }
    },
    async launchReplicas(input) {
      const n = await enter('launchReplicas', input);
      if (options.failLaunch === n) {
        throw ApplicationFailure.nonRetryable('the platform refused the launch', ErrorType.PlatformRequestRejected);
      }
      const set = setOf(input.set);
      const out: Replica[] = [];
      for (const id of input.ids) {
        let replica = set.replicas.get(id);
        if (!replica) {
          replica = { id, address: `http://127.0.0.1:${nextPort++}`, running: true };
          set.replicas.set(id, replica);
          launches.set(id, (launches.get(id) ?? 0) + 1);
        }
        out.push({ ...replica });
      }
      measure();
      return out;
    },
    async awaitReplicasHealthy(input) {
      const n = await enter('awaitReplicasHealthy', input, true);
      if (options.stall?.(n)) {
        throw ApplicationFailure.nonRetryable(
          `0/${input.replicas.length} replicas available; none became available for ${input.progressDeadlineMs} ms`,
          ErrorType.ProgressDeadlineExceeded,
        );
      }
      return {
        replicas: input.replicas.map((r) => ({ ...(setOf(r.set).replicas.get(r.id) as WorldReplica) })),
      };
    },
    async registerTargets(input) {
      await enter('registerTargets', input);
      const current = backends.get(input.backend);
      if (!current)
        throw ApplicationFailure.nonRetryable(`no backend ${input.backend}`, ErrorType.RouterRequestRejected);
      backends.set(input.backend, [...current, ...input.targets.filter((t) => !current.includes(t))]);
      measure();
      return [...(backends.get(input.backend) ?? [])];
    },
    async deregisterTargets(input) {
      await enter('deregisterTargets', input);
      backends.set(
        input.backend,
        (backends.get(input.backend) ?? []).filter((t) => !input.targets.includes(t)),
      );
      measure();
      return [...(backends.get(input.backend) ?? [])];
    },
    async drainTargets(input) {
      await enter('drainTargets', input, true);
      return { drained: true, remaining: 0 };
    },
    async retireReplicas(input) {
      await enter('retireReplicas', input);
      for (const ref of input.replicas) sets.get(ref.set)?.replicas.delete(ref.id);
      measure();
    },
    async discoverRollingSets(input) {
      await enter('discoverRollingSets', input);
      return bounded.discoverRollingSets(input);
    },
    async launchToCount(input) {
      const n = await enter('launchToCount', input, true);
      if (options.failLaunch === n) {
        throw ApplicationFailure.nonRetryable('the platform refused the launch', ErrorType.PlatformRequestRejected);
      }
      const result = await bounded.launchToCount(input);
      measure();
      return result;
    },
    async awaitSetAvailable(input) {
      const n = await enter('awaitSetAvailable', input, true);
      if (options.stall?.(n)) {
        throw ApplicationFailure.nonRetryable(
          `0/${input.count} replicas available; none became available for ${input.progressDeadlineMs} ms`,
          ErrorType.ProgressDeadlineExceeded,
        );
      }
      return { available: input.count };
    },
    async registerSetTargets(input) {
      await enter('registerSetTargets', input);
      const result = await bounded.registerSetTargets(input);
      measure();
      return result;
    },
    async deregisterSetTargets(input) {
      await enter('deregisterSetTargets', input);
      const result = await bounded.deregisterSetTargets(input);
      measure();
      return result;
    },
    async drainUnserved(input) {
      await enter('drainUnserved', input, true);
      return { drained: true, remaining: 0 };
    },
    async retireUnserved(input) {
      await enter('retireUnserved', input);
      const result = await bounded.retireUnserved(input);
      measure();
      return result;
    },
    async publishSets(input) {
      await enter('publishSets', input);
      const result = await bounded.publishSets(input);
      measure();
      return result;
    },
    async retireReplicaSet(input) {
      await enter('retireReplicaSet', input);
      sets.delete(input.name);
      measure();
    },
    async publishBackend(input) {
      await enter('publishBackend', input);
      backends.set(input.backend, [...input.targets]);
      measure();
    },
    async removeBackend(input) {
      await enter('removeBackend', input);
      if (Object.values(rules).some((r) => r.backends.some((b) => b.backend === input.backend))) {
        throw ApplicationFailure.nonRetryable(`backend ${input.backend} is in use`, ErrorType.RouterRequestRejected);
      }
      backends.delete(input.backend);
    },
    async switchTraffic(input) {
      await enter('switchTraffic', input);
      for (const m of input.modules) rules[m] = { module: m, backends: input.backends };
      measure();
    },
    async restoreRules(input) {
      await enter('restoreRules', input);
      for (const m of input.modules) {
        const previous = input.rules[m];
        if (previous) rules[m] = previous;
        else delete rules[m];
      }
    },
    async verifyTraffic(input) {
      await enter('verifyTraffic', input);
      return input.modules.map((module): ModuleVerification => ({
        module,
        result: { status: 'verified', detail: `answered from ${input.version}` },
      }));
    },
  };

  return {
    activities,
    calls,
    sets,
    backends,
    rules,
    launches,
    bounds,
    called: (name) => calls.filter((c) => c.name === name).length,
    hold(name, call) {
      let reached!: () => void;
      let release!: () => void;
      const reachedP = new Promise<void>((r) => (reached = r));
      const released = new Promise<void>((r) => (release = r));
      holds.set(`${name}#${call}`, { reached, release, released });
      return { reached: reachedP, release };
    },
    alive,
    serving,
  };
}
