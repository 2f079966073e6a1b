/**
 * Blue-green's replica sets on its two payload paths: scale up, wait until healthy, publish a backend, drain. Runs
 * started with BOUNDED_PAYLOADS_PATCH carry a set by name and counts (the activities resolve its replicas on the
 * platform); runs started before carry every replica's address, and keep doing so to their end. The runbook
 * (workflows/blue-green.ts) decides the path once and calls these steps; it never asks which path it is on.
 */
import type { DrainResult } from '../../activities/blue-green';
import type { Color, ReplicaSetState } from '../../activities/ports';
import { budgeted } from '../activity-presets';
import { drainBudgetMs, healthBudgetMs, launchBudgetMs, routerBudgetMs } from '../budgets';
import type { BlueGreenSpec } from '../spec';
import type { DeploymentTracker } from '../tracker';
import type { ReplicaSetSummary } from '../types';

/**
 * Launching, probing, verifying, draining and retiring run as `budgeted` activities: each start-to-close timeout is
 * derived from the work (workflows/budgets.ts); a retried wait resumes from its heartbeat.
 */
const DRAIN_TIMEOUT_MS = 30_000;
/** A wait (for health, or for a verification the load balancer did not answer) is retried this often at most. */
const WAIT_ATTEMPTS = 20;
/**
 * Runs started from here on carry replica sets by name and counts (scaleUpReplicaSet, awaitReplicaSetHealthy,
 * publishReplicaSet, drainReplicaSets resolve the replicas from the platform); runs started before carried every
 * replica's address through provisionReplicaSet, awaitHealthy, publishBackend and drainTargets, and keep doing so.
 */
export const BOUNDED_PAYLOADS_PATCH = 'blue-green-bounded-payloads';

/** What the workflow keeps of green: its name and counts (before the patch, its replicas' addresses too). */
export interface GreenSet {
  name: string;
  color: Color;
  launched: number;
  /** Before BOUNDED_PAYLOADS_PATCH only: the addresses the backend is published with. */
  targets: string[];
}

export class BlueGreenSets {
  /** The addresses green was last scaled up with (before the patch; none after): what its undo drains. */
  greenTargets: string[] = [];

  constructor(
    private readonly spec: BlueGreenSpec,
    private readonly tracker: DeploymentTracker,
    /** BOUNDED_PAYLOADS_PATCH, as the runbook decided it once for the run. */
    readonly bounded: boolean,
  ) {}

  async scaleUp(name: string, color: Color, replicas: number): Promise<GreenSet> {
    const { spec, tracker } = this;
    const platform = spec.platform;
    const replicaSet = {
      name,
      application: spec.application,
      version: spec.version,
      slot: color,
      modules: spec.modules,
      replicas,
      env: spec.platform.env,
    };
    // Every replica of the set starts at once: one start timeout (platform.startTimeout) covers them all.
    const launch = () => budgeted(launchBudgetMs(platform, replicas, replicas));
    const set: GreenSet = await tracker.step(
      `scale up ${color} to ${replicas} (${spec.version})`,
      async () => {
        if (this.bounded) {
          const summary = await launch().scaleUpReplicaSet({ platform, replicaSet });
          return { name, color, launched: summary.launched, targets: [] };
        }
        const state = await launch().provisionReplicaSet({ platform, replicaSet });
        return { name, color, launched: state.replicas.length, targets: addresses(state) };
      },
      (s) => `${s.launched} replicas launched`,
    );
    tracker.status.replicas.launched = set.launched;
    this.greenTargets = set.targets;
    return set;
  }

  async waitUntilHealthy(set: GreenSet, expected: number): Promise<GreenSet> {
    const { spec, tracker } = this;
    tracker.setPhase('AwaitingHealthy');
    const wait = () => budgeted(healthBudgetMs(spec, expected), WAIT_ATTEMPTS);
    const probe = {
      platform: spec.platform,
      replicaSet: set.name,
      expected,
      modules: spec.modules,
      health: spec.health,
      deadlineAt: Date.now() + spec.health.deadline,
    };
    const result = await tracker.step(
      `wait until ${expected} ${set.color} replicas are healthy`,
      async () => {
        if (this.bounded) {
          const health = await wait().awaitReplicaSetHealthy(probe);
          return { healthy: health.healthy, set: { ...set, launched: health.replicas } };
        }
        const health = await wait().awaitHealthy(probe);
        const targets = health.replicas.map((r) => r.address).filter((a) => a !== '');
        return { healthy: health.healthy, set: { ...set, launched: health.replicas.length, targets } };
      },
      (r) => `${r.healthy}/${expected} healthy`,
    );
    tracker.status.replicas.healthy = result.healthy;
    return result.set;
  }

  /** Publishes green's backend: its replicas resolved by the activity, or (before the patch) the addresses kept. */
  async publish(backend: string, set: GreenSet): Promise<void> {
    const { platform, router } = this.spec;
    const call = budgeted(routerBudgetMs(router, 1));
    if (this.bounded) await call.publishReplicaSet({ platform, router, backend, replicaSet: set.name });
    else await call.publishBackend({ router, backend, targets: set.targets });
  }

  /** Drains the replicas of `sets` (before the patch: the addresses given). */
  async drain(sets: string[], targets: string[]): Promise<DrainResult> {
    const { platform, router } = this.spec;
    const call = budgeted(drainBudgetMs(DRAIN_TIMEOUT_MS));
    if (this.bounded) {
      return call.drainReplicaSets({ platform, router, replicaSets: sets, timeoutMs: DRAIN_TIMEOUT_MS });
    }
    const result = await call.drainTargets({ router, targets, timeoutMs: DRAIN_TIMEOUT_MS });
    return { ...result, observed: true };
  }
}

/** The addresses of a set's replicas (a summary, after the patch, has none: the activities resolve them). */
export function addresses(set: ReplicaSetState | ReplicaSetSummary): string[] {
  return 'launched' in set ? [] : set.replicas.map((r) => r.address).filter((a) => a !== '');
}

/** How many replicas a set has launched, from discovery's summary or (before the patch) its replica list. */
export function launchedOf(set: ReplicaSetState | ReplicaSetSummary): number {
  return 'launched' in set ? set.launched : set.replicas.length;
}
