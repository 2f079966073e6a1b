/**
 * What both discovery paths (discover.ts over replica lists, sets.ts over set summaries) do with what they found:
 * name the target set, resolve the surge bounds, make the run's context, retire leftover sets and say the plan.
 */
import { backendName } from '../../activities/ports';
import type { ModuleRule } from '../../activities/ports';
import type { Fenceposts } from '../rolling-math';
import { configRevisionOf, resolveFenceposts, rollingReplicaSetName } from '../rolling-math';
import type { RollingContext } from '../types';
import type { RollingRun } from './run';

/** The replica set this version and configuration go to, and the surge bounds in replicas. */
export function targetOf(run: RollingRun): { targetSet: string; fenceposts: Fenceposts } {
  const { spec, strategy } = run;
  const revision = configRevisionOf(spec.platform.env, strategy.configRevision);
  return {
    targetSet: rollingReplicaSetName(spec.application, spec.version, revision),
    fenceposts: resolveFenceposts(strategy.maxSurge, strategy.maxUnavailable, spec.replicas),
  };
}

/** What serves, as either path's discovery reads it. */
export interface FoundLive {
  routing: string;
  backend: string | null;
  rules: Record<string, ModuleRule>;
}

/** Of the starting point (classifyLive / classifySets), what the context keeps. */
export interface FoundStart {
  oldSets: string[];
  restoreSet: string | null;
  previousVersion: string | null;
  /** Replicas of the old version that serve. */
  oldCount: number;
  /** Nothing serves from containers (neither version has a serving replica). */
  firstDeployment: boolean;
}

/** A starting point's fields the context keeps, with its counts of serving old and new replicas. */
export function foundStart(
  start: { oldSets: string[]; restoreSet: string | null; previousVersion: string | null },
  oldCount: number,
  newCount: number,
): FoundStart {
  const { oldSets, restoreSet, previousVersion } = start;
  return { oldSets, restoreSet, previousVersion, oldCount, firstDeployment: oldCount === 0 && newCount === 0 };
}

/** The run's context from what discovery found; the status learns the version that serves. */
export function contextFrom(
  run: RollingRun,
  live: FoundLive,
  start: FoundStart,
  target: { targetSet: string; fenceposts: Fenceposts },
): RollingContext {
  const { spec, status } = run;
  const { targetSet, fenceposts } = target;
  const found: RollingContext = {
    backend: backendName(spec.application, 'rolling'),
    targetSet,
    oldSets: start.oldSets.filter((s) => s !== targetSet),
    restoreSet: start.restoreSet,
    oldCount: start.oldCount,
    previousVersion: start.previousVersion,
    firstDeployment: start.firstDeployment,
    initialRules: live.rules,
    adoptedFrom: live.routing === 'blue' || live.routing === 'green' ? (live.backend ?? undefined) : undefined,
    fenceposts,
  };
  status.previousVersion = found.previousVersion;
  status.liveVersion = found.previousVersion;
  run.refresh(found);
  return found;
}

/** Retires whole replica sets an interrupted run left (each one step). */
export async function retireLeftoverSets(run: RollingRun, names: readonly string[], replicas: number): Promise<void> {
  const platform = run.spec.platform;
  for (const name of names) {
    await run.tracker.step(`retire leftover replica set ${name}`, () =>
      run.retireCall(replicas).retireReplicaSet({ platform, name }),
    );
  }
}

/** Says the surge bounds in replicas. */
export function announcePlan(run: RollingRun, fenceposts: Fenceposts): void {
  const { spec, strategy } = run;
  run.tracker.event(
    `maxSurge ${String(strategy.maxSurge)} -> ${fenceposts.surge}, maxUnavailable ${String(strategy.maxUnavailable)}` +
      ` -> ${fenceposts.unavailable} of ${spec.replicas} replicas`,
  );
}
