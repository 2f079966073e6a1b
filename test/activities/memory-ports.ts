/**
 * In-memory Platform and Router ports for the activity unit tests (and the workflow test that drives a deployment
 * over real activities): replica sets, backends and rules in maps, every call counted, and hooks to make a router
 * read back what it was not told.
 */
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../activities';
import type { Drivers } from '../../activities/drivers';
import type {
  InFlightCounts,
  ModuleRule,
  PreviewRoutes,
  Platform,
  ProbeResult,
  Replica,
  ReplicaSetSpec,
  ReplicaSetState,
  Router,
  WeightedBackend,
  WeightedRules,
} from '../../activities/ports';

export interface MemoryPlatform extends Platform {
  sets: Map<string, ReplicaSetState>;
  /** Replica id -> times it was launched (a second launch of one id is the bug the tests look for). */
  launches: Map<string, number>;
  /** Probes made, in order (replica id and path). */
  probes: string[];
  /** The probe's answer per replica (default healthy). */
  answer: (replica: Replica, path: string) => ProbeResult;
}

export function memoryPlatform(): MemoryPlatform {
  let port = 30000;
  const launch = (set: ReplicaSetState, id: string): Replica => {
    const existing = set.replicas.find((r) => r.id === id);
    if (existing) return existing;
    platform.launches.set(id, (platform.launches.get(id) ?? 0) + 1);
    const replica = { id, address: `http://127.0.0.1:${port++}`, running: true };
    set.replicas.push(replica);
    return replica;
  };
  const scale = (set: ReplicaSetState, replicas: number): ReplicaSetState => {
    for (let i = 0; i < replicas; i++) launch(set, `${set.name}-${i}`);
    set.replicas = set.replicas.slice(0, replicas);
    set.desired = replicas;
    return structuredClone(set);
  };
  const platform: MemoryPlatform = {
    kind: 'memory',
    sets: new Map(),
    launches: new Map(),
    probes: [],
    answer: () => ({ healthy: true }),
    async ensureReplicaSet(spec: ReplicaSetSpec) {
      let set = platform.sets.get(spec.name);
      if (!set) {
        const { name, application, version, slot } = spec;
        set = { name, application, version, slot, desired: spec.replicas, replicas: [] };
        platform.sets.set(spec.name, set);
        return scale(set, spec.replicas);
      }
      return structuredClone(set);
    },
    async scaleReplicaSet(name, replicas) {
      const set = platform.sets.get(name);
      if (!set) throw new Error(`no replica set ${name}`);
      return scale(set, replicas);
    },
    async launchReplica(name, id) {
      const set = platform.sets.get(name);
      if (!set) throw new Error(`no replica set ${name}`);
      return launch(set, id);
    },
    async retireReplica(name, id) {
      const set = platform.sets.get(name);
      if (set) set.replicas = set.replicas.filter((r) => r.id !== id);
    },
    async getReplicaSet(name) {
      const set = platform.sets.get(name);
      return set && structuredClone(set);
    },
    async listReplicaSets(application) {
      return [...platform.sets.values()].filter((s) => s.application === application).map((s) => structuredClone(s));
    },
    async retireReplicaSet(name) {
      platform.sets.delete(name);
    },
    async probe(replica, path) {
      platform.probes.push(`${replica.id} ${path}`);
      return platform.answer(replica, path);
    },
  };
  return platform;
}

/**
 * The core every router implements, and nothing more, in memory; `readBack` may change what readRules answers. A
 * test gives it a capability by setting it (`router.inFlight = {...}`).
 */
export interface MemoryRouter extends Router {
  preview?: PreviewRoutes;
  inFlight?: InFlightCounts;
  weights?: WeightedRules;
  rules: Record<string, ModuleRule>;
  backends: Map<string, string[]>;
  /** What readRules answers for a module, given what was written (default: what was written). */
  readBack: (rule: ModuleRule) => ModuleRule;
  /** Every call, as "method arg". */
  calls: string[];
}

export function memoryRouter(): MemoryRouter {
  const router: MemoryRouter = {
    type: 'memory',
    rules: {},
    backends: new Map(),
    calls: [],
    readBack: (rule) => rule,
    async readRules(modules) {
      router.calls.push(`readRules ${modules.join(',')}`);
      const out: Record<string, ModuleRule> = {};
      for (const m of modules) {
        const rule = router.rules[m];
        if (rule) out[m] = router.readBack(structuredClone(rule));
      }
      return out;
    },
    async ensureBackend(backend, targets) {
      router.calls.push(`ensureBackend ${backend}`);
      router.backends.set(backend, [...targets]);
    },
    async describeBackend(backend) {
      const targets = router.backends.get(backend);
      return targets && [...targets];
    },
    async removeBackend(backend) {
      router.calls.push(`removeBackend ${backend}`);
      router.backends.delete(backend);
    },
    async setModuleRule(module, backends: WeightedBackend[]) {
      router.calls.push(`setModuleRule ${module}`);
      router.rules[module] = { module, backends: structuredClone(backends) };
    },
    async removeModuleRule(module) {
      router.calls.push(`removeModuleRule ${module}`);
      delete router.rules[module];
    },
    async registerTargets(backend, targets) {
      router.backends.set(backend, [...new Set([...(router.backends.get(backend) ?? []), ...targets])]);
    },
    async deregisterTargets(backend, targets) {
      router.backends.set(
        backend,
        (router.backends.get(backend) ?? []).filter((t) => !targets.includes(t)),
      );
    },
    async verify(module) {
      return { status: 'not-supported', detail: `${module}: the memory router cannot send requests` };
    },
  };
  return router;
}

export function memoryDrivers(platform: Platform, router: Router): Drivers {
  return { platform: () => platform, router: () => router };
}

/** An in-memory platform and router, and the activities over them. */
export function memoryWorld() {
  const platform = memoryPlatform();
  const router = memoryRouter();
  return { platform, router, activities: createActivities(memoryDrivers(platform, router)) };
}

/** The failure an activity call rejected with (the test fails if it succeeded). */
export async function failureOf(call: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await call;
  } catch (err) {
    if (err instanceof ApplicationFailure) return err;
    throw err;
  }
  throw new Error('the activity succeeded');
}
