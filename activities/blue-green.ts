/**
 * Blue-green's bounded activities (patch `blue-green-bounded-payloads`): the workflow hands them a replica set's name
 * and counts, never its replicas, and each resolves the replicas from the platform itself. So no input or result
 * grows with the replica count: at 10,000 replicas every payload stays far under Temporal's 512 KB warning.
 *
 * The activities they replace (provisionReplicaSet, awaitHealthy, publishBackend, drainTargets in activities/index.ts)
 * stay registered, unchanged, for runs started before the patch.
 */
import type { PlatformConfig, RouterConfig } from '../workflows/spec';
import { activity } from './activity';
import type { Progress } from './activity';
import type { Drivers } from './drivers';
import { ErrorType, permanentFailure } from './errors';
import { eachLimited } from './limited';
import type { AwaitHealthyInput, ProvisionInput } from './index';
import type { Platform, Replica, ReplicaSetState, Slot } from './ports';
import { slotOf } from './ports';

/** A replica set by reference and counts: what the workflow keeps of it. */
export interface ReplicaSetSummary {
  name: string;
  slot: Slot;
  version: string;
  /** Replicas the platform is asked to keep. */
  desired: number;
  /** Replicas that exist (launched). */
  launched: number;
}

export interface ReplicaSetHealth {
  healthy: number;
  /** Replicas of the set when the wait ended. */
  replicas: number;
}

export interface PublishReplicaSetInput {
  platform: PlatformConfig;
  router: RouterConfig;
  backend: string;
  /** The replica set whose reachable replicas become the backend's targets. */
  replicaSet: string;
}

export interface DrainReplicaSetsInput {
  platform: PlatformConfig;
  router: RouterConfig;
  /** The replica sets whose replicas are drained (a set that is gone has nothing in flight). */
  replicaSets: string[];
  timeoutMs: number;
}

export interface DrainResult {
  drained: boolean;
  remaining: number;
  /** False when the router cannot count requests in flight (no `inFlight` capability): nothing was waited for. */
  observed: boolean;
}

/** Carried in heartbeats so a retried attempt (e.g. after a worker crash) resumes its counts. */
export interface ProbeProgress {
  successes: Record<string, number>;
  lastFailure?: string;
}

export function summarize(set: ReplicaSetState): ReplicaSetSummary {
  return {
    name: set.name,
    slot: slotOf(set),
    version: set.version,
    desired: set.desired,
    launched: set.replicas.length,
  };
}

/** The replicas' addresses a router can send traffic to (a replica not reachable from here has none). */
export function addressesOf(set: ReplicaSetState): string[] {
  return set.replicas.map((r) => r.address).filter((a) => a !== '');
}

/** Ensures the replica set exists with exactly the requested count (idempotent: a retry launches nothing twice). */
export async function provision(
  platform: Platform,
  input: ProvisionInput,
  signal: AbortSignal,
): Promise<ReplicaSetState> {
  const state = await platform.ensureReplicaSet(input.replicaSet, { signal });
  if (state.desired !== input.replicaSet.replicas || state.replicas.length !== input.replicaSet.replicas) {
    return platform.scaleReplicaSet(input.replicaSet.name, input.replicaSet.replicas, { signal });
  }
  return state;
}

/**
 * Probes every replica of the set directly until `expected` are healthy, each `successThreshold` times in a row.
 * Heartbeats the counts; a retried attempt resumes them (`progress.resumed`) and keeps the workflow's deadline.
 */
export async function probeUntilHealthy(
  platform: Platform,
  input: AwaitHealthyInput,
  progressOf: Progress<ProbeProgress>,
): Promise<{ healthy: number; set: ReplicaSetState }> {
  const progress: ProbeProgress = progressOf.resumed ?? { successes: {} };
  const paths = input.modules.map((m) => input.health.path.replaceAll('{module}', m));
  for (;;) {
    const set = await platform.getReplicaSet(input.replicaSet);
    if (!set) {
      throw permanentFailure(ErrorType.PlatformRequestRejected, `replica set ${input.replicaSet} does not exist`);
    }
    const healthyReplicas: Replica[] = [];
    const failures = await probeRound(platform, set.replicas, paths, input.health.timeout, progressOf.signal);
    for (const [i, replica] of set.replicas.entries()) {
      const failure = failures[i];
      progress.successes[replica.id] = failure ? 0 : (progress.successes[replica.id] ?? 0) + 1;
      if (failure) progress.lastFailure = failure;
      if ((progress.successes[replica.id] ?? 0) >= input.health.successThreshold) healthyReplicas.push(replica);
    }
    progressOf.report(progress);
    if (healthyReplicas.length >= input.expected) return { healthy: healthyReplicas.length, set };
    if (Date.now() >= input.deadlineAt) {
      throw permanentFailure(
        ErrorType.ReplicasUnhealthy,
        `${healthyReplicas.length}/${input.expected} replicas of ${input.replicaSet} healthy by the deadline` +
          (progress.lastFailure ? `; last failure: ${progress.lastFailure}` : ''),
      );
    }
    await progressOf.sleep(input.health.interval);
  }
}

/** Health probes of one round in flight at once (replicas × modules: 20 modules × 3 replicas is 60 GETs a round). */
export const PROBE_CONCURRENCY = 16;

/**
 * One round of probes: every path of every running replica, PROBE_CONCURRENCY at a time. Answers, per replica, why it
 * is not healthy (its first failing path, in the order of `paths`), or undefined when every path answered healthy.
 */
async function probeRound(
  platform: Platform,
  replicas: Replica[],
  paths: string[],
  timeoutMs: number,
  signal: AbortSignal,
): Promise<(string | undefined)[]> {
  const probes = replicas.flatMap((replica, r) => (replica.running ? paths.map((p) => ({ r, replica, p })) : []));
  const results = await eachLimited(probes, PROBE_CONCURRENCY, ({ replica, p }) =>
    platform.probe(replica, p, timeoutMs, signal),
  );
  const failures: (string | undefined)[] = replicas.map((replica) =>
    replica.running ? undefined : `${replica.id} is not running${replica.reason ? ` (${replica.reason})` : ''}`,
  );
  probes.forEach(({ r, replica, p }, i) => {
    const result = results[i];
    if (failures[r] === undefined && result && !result.healthy) failures[r] = `${replica.id} ${p}: ${result.reason}`;
  });
  return failures;
}

export function createBlueGreenActivities(drivers: Drivers) {
  return {
    /** Ensures the replica set exists with the requested count (idempotent); answers with its counts. */
    async scaleUpReplicaSet(input: ProvisionInput): Promise<ReplicaSetSummary> {
      return activity(async ({ signal }) =>
        summarize(await provision(drivers.platform(input.platform), input, signal)),
      );
    },

    /** Probes every replica of the set until `expected` are healthy; heartbeats, resumes after a crash. */
    async awaitReplicaSetHealthy(input: AwaitHealthyInput): Promise<ReplicaSetHealth> {
      return activity<ReplicaSetHealth, ProbeProgress>(async (progress) => {
        const { healthy, set } = await probeUntilHealthy(drivers.platform(input.platform), input, progress);
        return { healthy, replicas: set.replicas.length };
      });
    },

    /** Creates or updates the backend with exactly the replica set's reachable replicas as targets. */
    async publishReplicaSet(input: PublishReplicaSetInput): Promise<{ targets: number }> {
      return activity(async () => {
        const set = await drivers.platform(input.platform).getReplicaSet(input.replicaSet);
        if (!set) {
          throw permanentFailure(
            ErrorType.PlatformRequestRejected,
            `replica set ${input.replicaSet} does not exist: nothing to publish as ${input.backend}`,
          );
        }
        const targets = addressesOf(set);
        await drivers.router(input.router).ensureBackend(input.backend, targets);
        return { targets: targets.length };
      });
    },

    /**
     * Waits (heartbeating) until no request is in flight to the replicas of the sets, or the timeout passes. A router
     * that cannot count them (no `inFlight` capability) leaves the requests in flight to its own draining and the
     * replicas' graceful stop: the answer says so (`observed: false`) and nothing is waited for.
     */
    async drainReplicaSets(input: DrainReplicaSetsInput): Promise<DrainResult> {
      return activity(async (progress) => {
        const counts = drivers.router(input.router).inFlight;
        if (!counts) return { drained: true, remaining: 0, observed: false };
        const platform = drivers.platform(input.platform);
        const targets: string[] = [];
        for (const name of input.replicaSets) {
          const set = await platform.getReplicaSet(name);
          if (set) targets.push(...addressesOf(set));
        }
        const started = Date.now();
        for (;;) {
          let remaining = 0;
          for (const target of targets) remaining += await counts.count(target);
          progress.report({ remaining });
          if (remaining === 0) return { drained: true, remaining, observed: true };
          if (Date.now() - started >= input.timeoutMs) return { drained: false, remaining, observed: true };
          await progress.sleep(200);
        }
      });
    },
  };
}

export type BlueGreenActivities = ReturnType<typeof createBlueGreenActivities>;
