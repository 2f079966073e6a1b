/**
 * The activities a rolling update adds: discovery of what serves now, and
 * per-replica operations applied to one batch at a time (launch, probe until
 * available, register, deregister, retire). Each works on a list so a batch of
 * any size is a handful of history events, and each is idempotent: replica ids
 * are chosen by the workflow, a launch of an existing id returns that replica,
 * register/deregister/retire of something already done is a no-op.
 */
import type { HealthCheck, PlatformConfig, RouterConfig } from '../workflows/spec';
import type { Drivers } from './drivers';
import { activity } from './activity';
import { checkAvailability, healthPaths, startProgress } from './availability';
import type { AvailabilityProgress } from './availability';
import { CutoverError, ErrorType, permanentFailure } from './errors';
import type { ModuleRule, Platform, Replica, ReplicaSetSpec, ReplicaSetState } from './ports';
import { discoverRouting } from './discovery';
import { eachLimited, lanes } from './limited';
import { createRollingSetActivities } from './rolling-sets';

/** A replica addressed by its set and id. */
export interface ReplicaRef {
  set: string;
  id: string;
}

export interface RollingDiscoverInput {
  application: string;
  modules: string[];
  platform: PlatformConfig;
  router: RouterConfig;
}

/** What serves the application's modules now. */
export interface RollingLive {
  /** Where every module's rule points: the rolling backend, a blue-green backend, or nowhere (the default rule). */
  routing: 'rolling' | 'blue' | 'green' | 'default';
  /** The backend the rules use (null for the default rule). */
  backend: string | null;
  /** Targets registered in that backend. */
  targets: string[];
  /** Explicit rules, by module (absent = default rule). */
  rules: Record<string, ModuleRule>;
  /** Every replica set of the application (source of truth after a restart). */
  replicaSets: ReplicaSetState[];
}

export interface LaunchReplicasInput {
  platform: PlatformConfig;
  set: string;
  ids: string[];
}

export interface AwaitReplicasInput {
  platform: PlatformConfig;
  replicas: ReplicaRef[];
  modules: string[];
  health: HealthCheck;
  /** A replica counts as available once healthy for this long without a failed probe. */
  minReadyMs: number;
  /** Fail with ProgressDeadlineExceeded when no replica became available for this long. */
  progressDeadlineMs: number;
  /** When the wait began (fixed by the workflow, so a retried attempt keeps the same clock). */
  startedAt: number;
}

export interface TargetsInput {
  router: RouterConfig;
  backend: string;
  targets: string[];
}

/** Targets compare in their canonical form (scheme://host:port) when they are URLs. */
function listed(list: string[], target: string): boolean {
  let canonical = target;
  try {
    canonical = new URL(target).origin;
  } catch {
    // not a URL (another router's target id): compare as is
  }
  return list.includes(target) || list.includes(canonical);
}

export function createRollingActivities(drivers: Drivers) {
  /**
   * A rolling update's replica sets carry their own environment (ReplicaSetSpec.env); the driver is made
   * without one, so a replica relaunched into an older set gets exactly that set's configuration.
   */
  const platformOf = (config: PlatformConfig): Platform => drivers.platform({ ...config, env: {} });

  return {
    // The bounded-payload activities (counts and set names; workflows/rolling under 'rolling-bounded-payloads').
    ...createRollingSetActivities(drivers),

    /** Reads which backend serves the modules (discovery's routing check), its targets, and every replica set. */
    async discoverRolling(input: RollingDiscoverInput): Promise<RollingLive> {
      return activity(async () => {
        const router = drivers.router(input.router);
        const { rules, side, backend } = await discoverRouting(router, input.application, input.modules);
        const targets = backend ? ((await router.describeBackend(backend)) ?? []) : [];
        const replicaSets = await platformOf(input.platform).listReplicaSets(input.application);
        return { routing: side ?? 'default', backend, targets, rules, replicaSets };
      });
    },

    /** Creates the replica set with no replicas if it does not exist; returns it as it is. */
    async ensureRollingReplicaSet(input: { platform: PlatformConfig; replicaSet: ReplicaSetSpec }): Promise<void> {
      return activity(async () => {
        const platform = platformOf(input.platform);
        if (await platform.getReplicaSet(input.replicaSet.name)) return;
        await platform.ensureReplicaSet({ ...input.replicaSet, replicas: 0 });
      });
    },

    /** Launches these replicas (ids chosen by the workflow); an id already running is returned as it is. */
    async launchReplicas(input: LaunchReplicasInput): Promise<Replica[]> {
      return activity(async (heartbeat) => {
        const platform = platformOf(input.platform);
        let done = 0;
        return eachLimited(input.ids, lanes(platform), async (id) => {
          const replica = await platform.launchReplica(input.set, id, { signal: heartbeat.signal });
          heartbeat.report({ launched: ++done });
          return replica;
        });
      });
    },

    /**
     * Probes each replica directly until every one is available (healthy `successThreshold` times in a row,
     * then for `minReadyMs` more). Fails with ProgressDeadlineExceeded when none became available for
     * `progressDeadlineMs`. Heartbeats; a retried attempt resumes from the last heartbeat.
     */
    async awaitReplicasHealthy(input: AwaitReplicasInput): Promise<{ replicas: Replica[] }> {
      return activity<{ replicas: Replica[] }, AvailabilityProgress>(async (heartbeat) => {
        const platform = platformOf(input.platform);
        const progress: AvailabilityProgress = heartbeat.resumed ?? startProgress(input.startedAt);
        const paths = healthPaths(input.modules, input.health.path);
        const sets = [...new Set(input.replicas.map((r) => r.set))];
        for (;;) {
          const known = new Map<string, Replica>();
          for (const name of sets) {
            const set = await platform.getReplicaSet(name);
            for (const replica of set?.replicas ?? []) known.set(`${name}/${replica.id}`, replica);
          }
          const waiting = input.replicas.filter((r) => !progress.available.includes(r.id));
          await eachLimited(waiting, lanes(platform) * 2, async (ref) => {
            const replica = known.get(`${ref.set}/${ref.id}`);
            const missing = `${ref.id} does not exist in ${ref.set}`;
            await checkAvailability(platform, ref.id, replica, missing, paths, input, progress, heartbeat.signal);
          });
          heartbeat.report(progress);
          if (input.replicas.every((r) => progress.available.includes(r.id))) {
            return {
              replicas: input.replicas.map(
                (r) => known.get(`${r.set}/${r.id}`) ?? { id: r.id, address: '', running: true },
              ),
            };
          }
          if (Date.now() - progress.lastProgressAt >= input.progressDeadlineMs) {
            throw permanentFailure(
              ErrorType.ProgressDeadlineExceeded,
              `${progress.available.length}/${input.replicas.length} replicas available; none became available ` +
                `for ${input.progressDeadlineMs} ms` +
                (progress.lastFailure ? `; last failure: ${progress.lastFailure}` : ''),
            );
          }
          await heartbeat.sleep(input.health.interval);
        }
      });
    },

    /** Adds targets to a backend, then reads the backend back and refuses a mismatch. Returns its targets. */
    async registerTargets(input: TargetsInput): Promise<string[]> {
      return activity(async () => {
        const router = drivers.router(input.router);
        await router.registerTargets(input.backend, input.targets);
        const after = (await router.describeBackend(input.backend)) ?? [];
        const missing = input.targets.filter((t) => !listed(after, t));
        if (missing.length) {
          throw new CutoverError(
            ErrorType.RuleReadbackMismatch,
            `${missing.join(', ')} not registered in ${input.backend} after registering`,
          );
        }
        return after;
      });
    },

    /** Removes targets from a backend (no new request reaches them), then reads it back. Returns its targets. */
    async deregisterTargets(input: TargetsInput): Promise<string[]> {
      return activity(async () => {
        const router = drivers.router(input.router);
        await router.deregisterTargets(input.backend, input.targets);
        const after = (await router.describeBackend(input.backend)) ?? [];
        const still = input.targets.filter((t) => listed(after, t));
        if (still.length) {
          throw new CutoverError(
            ErrorType.RuleReadbackMismatch,
            `${still.join(', ')} still registered in ${input.backend} after deregistering`,
          );
        }
        return after;
      });
    },

    /** Retires these replicas (graceful stop); ones already gone are skipped. */
    async retireReplicas(input: { platform: PlatformConfig; replicas: ReplicaRef[] }): Promise<void> {
      return activity(async (heartbeat) => {
        const platform = platformOf(input.platform);
        let done = 0;
        await eachLimited(input.replicas, lanes(platform), async (ref) => {
          await platform.retireReplica(ref.set, ref.id);
          heartbeat.report({ retired: ++done });
        });
      });
    },
  };
}

export type RollingActivities = ReturnType<typeof createRollingActivities>;
