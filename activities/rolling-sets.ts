/**
 * The rolling update's activities in bounded payloads: each takes and returns counts and replica-set names, never a
 * list of replicas, and resolves the replicas (ids, addresses, which ones the backend serves) from the platform and
 * the router itself. Each states a desired state, so a retry (a worker restart, a lost result) converges on the
 * same world instead of repeating an effect:
 *
 * - `launchToCount`: set S has N replicas (launches the missing ones, lowest free ordinal `<set>-<i>` first; never a
 *   second copy of an id that exists);
 * - `awaitSetAvailable`: N replicas of S that the backend does not serve yet are available (probed);
 * - `registerSetTargets`, `deregisterSetTargets`: the backend serves exactly N replicas of S (and M of T...): deregisters the last ones in id order,
 *   registers running ones first, then reads the backend back;
 * - `drainUnserved`, `retireUnserved`: the replicas of S the backend does not serve drain, then stop;
 * - `publishSets`: a backend gets exactly the replicas of these sets (that another backend serves);
 * - `discoverRollingSets`: what serves, as one summary per set (name, version, slot, replicas, replicas served).
 *
 * Which replicas are "the N" is chosen here, deterministically: by ordinal (`<set>-<i>`), then by id (sets adopted
 * from blue-green, or any id not of that form), served ones before the others. Gaps in the numbering (a rollback
 * leaves v1-0, v1-4, v1-5) are filled lowest first.
 */
import type { HealthCheck, PlatformConfig, RouterConfig } from '../workflows/spec';
import { replicaId, replicaIndexIn } from '../workflows/rolling-math';
import { activity } from './activity';
import { checkAvailability, healthPaths, startProgress } from './availability';
import type { AvailabilityProgress } from './availability';
import { discoverRouting } from './discovery';
import type { Drivers } from './drivers';
import { CutoverError, ErrorType, permanentFailure } from './errors';
import { eachLimited, lanes } from './limited';
import type { ModuleRule, Platform, Replica, ReplicaSetState, Router, Slot } from './ports';
import type { RollingDiscoverInput } from './rolling';

/** Replica sets of one application a summary reads at most (every one of them is a payload entry). */
export const MAX_REPLICA_SETS = 500;

/** One replica set, summarised: how many replicas it has and how many of them the backend serves. */
export interface SetSummary {
  name: string;
  version: string;
  slot: Slot;
  /** Replicas the platform has in the set (launched; running or not). */
  launched: number;
  /** Of them, registered in the backend. */
  served: number;
  /** One more than the highest ordinal (`<set>-<i>`) among its replicas; 0 when none has one. */
  nextOrdinal: number;
}

/** What serves the application's modules now, without listing a replica. */
export interface RollingSetsLive {
  routing: 'rolling' | 'blue' | 'green' | 'default';
  backend: string | null;
  /** Targets registered in that backend. */
  targets: number;
  rules: Record<string, ModuleRule>;
  /** Every replica set of the application, by name. */
  sets: SetSummary[];
}

/** Where a set's replicas are and which backend says which of them serve. */
export interface SetsInput {
  platform: PlatformConfig;
  router: RouterConfig;
  backend: string;
}

export interface LaunchToCountInput {
  platform: PlatformConfig;
  set: string;
  /** Replicas the set is to have. */
  count: number;
  /** New replicas get ordinals from this one on (default 0: the lowest free ones). */
  fromOrdinal?: number;
}

/** The backend serves exactly `served` replicas of each named set. */
export interface ServeCountsInput extends SetsInput {
  sets: { name: string; served: number }[];
}

export interface AwaitSetInput extends SetsInput {
  set: string;
  /** Replicas of the set the backend does not serve that must be available (the lowest ordinals first). */
  count: number;
  modules: string[];
  health: HealthCheck;
  minReadyMs: number;
  progressDeadlineMs: number;
  /** When the wait began (fixed by the workflow, so a retried attempt keeps the same clock). */
  startedAt: number;
}

const canonical = (target: string): string => {
  try {
    return new URL(target).origin;
  } catch {
    return target.replace(/\/+$/, '');
  }
};

/** The replicas of a set in the order "which ones" is decided by: ordinal, then id. */
export function inOrder(set: string, replicas: readonly Replica[]): Replica[] {
  const ordinal = (r: Replica) => replicaIndexIn(set, r.id) ?? Number.MAX_SAFE_INTEGER;
  return [...replicas].sort((a, b) => ordinal(a) - ordinal(b) || a.id.localeCompare(b.id));
}

/** The lowest `count` ordinals of `set` from `from` on that no replica has (`<set>-<i>`). */
export function freeIds(set: string, replicas: readonly Replica[], count: number, from = 0): string[] {
  const taken = new Set(replicas.map((r) => r.id));
  const ids: string[] = [];
  for (let i = from; ids.length < count; i++) if (!taken.has(replicaId(set, i))) ids.push(replicaId(set, i));
  return ids;
}

/** One more than the highest ordinal among the replicas (0 when none has one). */
export function nextOrdinal(set: string, replicas: readonly { id: string }[]): number {
  return Math.max(0, ...replicas.map((r) => (replicaIndexIn(set, r.id) ?? -1) + 1));
}

/** The backend's targets, canonical; a backend that does not exist is refused (nothing would count as served). */
async function membership(router: Router, backend: string): Promise<Set<string>> {
  const targets = await router.describeBackend(backend);
  if (!targets) throw new CutoverError(ErrorType.ResourceNotFound, `backend ${backend} does not exist`);
  return new Set(targets.map(canonical));
}

const isServed = (served: Set<string>, r: Replica): boolean => r.address !== '' && served.has(canonical(r.address));

function split(name: string, state: ReplicaSetState | undefined, served: Set<string>) {
  const replicas = inOrder(name, state?.replicas ?? []);
  return {
    replicas,
    serving: replicas.filter((r) => isServed(served, r)),
    idle: replicas.filter((r) => !isServed(served, r)),
  };
}

function summary(state: ReplicaSetState, served: Set<string>): SetSummary {
  const { name, version, slot, replicas } = state;
  return {
    name,
    version,
    slot,
    launched: replicas.length,
    served: replicas.filter((r) => isServed(served, r)).length,
    nextOrdinal: nextOrdinal(name, replicas),
  };
}

export function createRollingSetActivities(drivers: Drivers) {
  /** As createRollingActivities: the platform driver without the spec's env (each set carries its own). */
  const platformOf = (config: PlatformConfig): Platform => drivers.platform({ ...config, env: {} });

  async function readSets(platform: Platform, names: readonly string[]): Promise<Map<string, ReplicaSetState>> {
    // Side by side: each is one read of its record and one LIST of its pods.
    const states = await Promise.all([...new Set(names)].map((name) => platform.getReplicaSet(name)));
    return new Map(states.filter((s): s is ReplicaSetState => s !== undefined).map((s) => [s.name, s]));
  }

  async function summaries(input: SetsInput, names: readonly string[]): Promise<SetSummary[]> {
    const served = await membership(drivers.router(input.router), input.backend);
    const states = await readSets(platformOf(input.platform), names);
    return [...states.values()].map((s) => summary(s, served));
  }

  /**
   * The backend serves exactly `served` replicas of each named set: the excess is deregistered (the last ones in
   * id order), the missing ones are registered (running ones first, then by id); the backend is read back and a
   * mismatch refused. Sets not named are left as they are. Returns the sets' summaries.
   */
  async function serveCounts(input: ServeCountsInput): Promise<SetSummary[]> {
    const router = drivers.router(input.router);
    const states = await readSets(
      platformOf(input.platform),
      input.sets.map((s) => s.name),
    );
    const served = await membership(router, input.backend);
    const register: string[] = [];
    const deregister: string[] = [];
    for (const want of input.sets) {
      const { serving, idle } = split(want.name, states.get(want.name), served);
      if (serving.length > want.served) deregister.push(...serving.slice(want.served).map((r) => r.address));
      const missing = want.served - serving.length;
      if (missing <= 0) continue;
      const candidates = [...idle.filter((r) => r.running), ...idle.filter((r) => !r.running)]
        .filter((r) => r.address !== '')
        .slice(0, missing);
      if (candidates.length < missing) {
        throw new CutoverError(
          ErrorType.ReplicasUnhealthy,
          `${want.name} has ${serving.length + candidates.length} replicas to serve, ${want.served} asked for`,
        );
      }
      register.push(...candidates.map((r) => r.address));
    }
    if (deregister.length) await router.deregisterTargets(input.backend, deregister);
    if (register.length) await router.registerTargets(input.backend, register);
    const after = await membership(router, input.backend);
    const wrong = [
      ...register.filter((t) => !after.has(canonical(t))),
      ...deregister.filter((t) => after.has(canonical(t))),
    ];
    if (wrong.length) {
      throw new CutoverError(
        ErrorType.RuleReadbackMismatch,
        `${wrong.length} targets of ${input.backend} not as asked after the change (first: ${wrong[0]})`,
      );
    }
    return [...states.values()].map((s) => summary(s, after));
  }

  return {
    /** discoverRolling, summarised: the routing, the backend's target count, one summary per replica set. */
    async discoverRollingSets(input: RollingDiscoverInput): Promise<RollingSetsLive> {
      return activity(async () => {
        const router = drivers.router(input.router);
        const { rules, side, backend } = await discoverRouting(router, input.application, input.modules);
        const targets = backend ? ((await router.describeBackend(backend)) ?? []) : [];
        const sets = await platformOf(input.platform).listReplicaSets(input.application);
        if (sets.length > MAX_REPLICA_SETS) {
          throw new CutoverError(
            ErrorType.SpecInvalid,
            `${input.application} has ${sets.length} replica sets, more than the ${MAX_REPLICA_SETS} a rolling ` +
              'update reads; retire the ones that serve nothing first',
          );
        }
        const served = new Set(targets.map(canonical));
        return {
          routing: side ?? 'default',
          backend,
          targets: targets.length,
          rules,
          sets: sets.map((s) => summary(s, served)).sort((a, b) => a.name.localeCompare(b.name)),
        };
      });
    },

    /**
     * Set `set` has `count` replicas: launches the missing ones, with the lowest free ordinals from `fromOrdinal` on
     * (the workflow passes the set's next ordinal, so a retired replica's id is not used again; 0 fills gaps).
     * Returns how many replicas it has, and its next ordinal.
     */
    async launchToCount(input: LaunchToCountInput): Promise<{ launched: number; nextOrdinal: number }> {
      return activity(async (heartbeat) => {
        const platform = platformOf(input.platform);
        const state = await platform.getReplicaSet(input.set);
        if (!state) throw new CutoverError(ErrorType.ResourceNotFound, `replica set ${input.set} does not exist`);
        const had = state.replicas.length;
        const ids = freeIds(input.set, state.replicas, Math.max(0, input.count - had), input.fromOrdinal ?? 0);
        let done = 0;
        await eachLimited(ids, lanes(platform), async (id) => {
          await platform.launchReplica(input.set, id, { signal: heartbeat.signal });
          heartbeat.report({ launched: ++done });
        });
        const next = nextOrdinal(input.set, [...state.replicas, ...ids.map((id) => ({ id }))]);
        return { launched: had + ids.length, nextOrdinal: next };
      });
    },

    /**
     * Probes the first `count` replicas of the set that the backend does not serve until each is available (healthy
     * `successThreshold` times in a row, then for `minReadyMs` more); ProgressDeadlineExceeded when none became
     * available for `progressDeadlineMs`. A retried attempt resumes from the last heartbeat.
     */
    async awaitSetAvailable(input: AwaitSetInput): Promise<{ available: number }> {
      return activity<{ available: number }, AvailabilityProgress>(async (heartbeat) => {
        const platform = platformOf(input.platform);
        const router = drivers.router(input.router);
        const progress: AvailabilityProgress = heartbeat.resumed ?? startProgress(input.startedAt);
        const paths = healthPaths(input.modules, input.health.path);
        for (;;) {
          const served = new Set(((await router.describeBackend(input.backend)) ?? []).map(canonical));
          const { idle } = split(input.set, await platform.getReplicaSet(input.set), served);
          const candidates = idle.slice(0, input.count);
          const waiting = candidates.filter((r) => !progress.available.includes(r.id));
          if (candidates.length < input.count) {
            progress.lastFailure = `${candidates.length} of ${input.count} replicas exist in ${input.set}`;
          }
          await eachLimited(waiting, lanes(platform) * 2, async (replica) => {
            await checkAvailability(platform, replica.id, replica, '', paths, input, progress, heartbeat.signal);
          });
          heartbeat.report(progress);
          const available = candidates.filter((r) => progress.available.includes(r.id)).length;
          if (candidates.length === input.count && available === input.count) return { available };
          if (Date.now() - progress.lastProgressAt >= input.progressDeadlineMs) {
            throw permanentFailure(
              ErrorType.ProgressDeadlineExceeded,
              `${available}/${input.count} replicas of ${input.set} available; none became available ` +
                `for ${input.progressDeadlineMs} ms` +
                (progress.lastFailure ? `; last failure: ${progress.lastFailure}` : ''),
            );
          }
          await heartbeat.sleep(input.health.interval);
        }
      });
    },

    /** Registers replicas of the named sets until the backend serves `served` of each (serveCounts). */
    async registerSetTargets(input: ServeCountsInput): Promise<SetSummary[]> {
      return activity(() => serveCounts(input));
    },

    /** Deregisters replicas of the named sets until the backend serves `served` of each (serveCounts). */
    async deregisterSetTargets(input: ServeCountsInput): Promise<SetSummary[]> {
      return activity(() => serveCounts(input));
    },

    /** Waits until no request is in flight to the replicas of these sets that the backend does not serve. */
    async drainUnserved(
      input: SetsInput & { sets: string[]; timeoutMs: number },
    ): Promise<{ drained: boolean; remaining: number }> {
      return activity(async (heartbeat) => {
        const router = drivers.router(input.router);
        // A router that cannot count requests in flight leaves them to its own draining and the graceful stop.
        const counts = router.inFlight;
        if (!counts) return { drained: true, remaining: 0 };
        const served = await membership(router, input.backend);
        const states = await readSets(platformOf(input.platform), input.sets);
        const targets = input.sets.flatMap((name) => split(name, states.get(name), served).idle.map((r) => r.address));
        const started = Date.now();
        for (;;) {
          let remaining = 0;
          for (const target of targets.filter((t) => t !== '')) remaining += await counts.count(target);
          heartbeat.report({ remaining });
          if (remaining === 0) return { drained: true, remaining };
          if (Date.now() - started >= input.timeoutMs) return { drained: false, remaining };
          await heartbeat.sleep(200);
        }
      });
    },

    /** Retires the replicas of these sets that the backend does not serve (graceful stop). Returns the summaries. */
    async retireUnserved(input: SetsInput & { sets: string[] }): Promise<SetSummary[]> {
      return activity(async (heartbeat) => {
        const platform = platformOf(input.platform);
        const served = await membership(drivers.router(input.router), input.backend);
        const states = await readSets(platform, input.sets);
        const idle = input.sets.flatMap((name) =>
          split(name, states.get(name), served).idle.map((r) => ({ set: name, id: r.id })),
        );
        let done = 0;
        await eachLimited(idle, lanes(platform), async (ref) => {
          await platform.retireReplica(ref.set, ref.id);
          heartbeat.report({ retired: ++done });
        });
        return summaries(input, input.sets);
      });
    },

    /**
     * Creates or sets `backend` with exactly the replicas of these sets (those `servedBy` serves, when given): a
     * first deployment's backend, an adopted blue-green backend's replicas, the old replicas put back. Returns how
     * many targets it has.
     */
    async publishSets(input: SetsInput & { sets: string[]; servedBy?: string }): Promise<{ targets: number }> {
      return activity(async () => {
        const router = drivers.router(input.router);
        const states = await readSets(platformOf(input.platform), input.sets);
        const by = input.servedBy ? await membership(router, input.servedBy) : undefined;
        const targets = [...states.values()]
          .flatMap((s) => inOrder(s.name, s.replicas))
          .filter((r) => r.address !== '' && (!by || isServed(by, r)))
          .map((r) => r.address);
        await router.ensureBackend(input.backend, targets);
        return { targets: targets.length };
      });
    },
  };
}

export type RollingSetActivities = ReturnType<typeof createRollingSetActivities>;
