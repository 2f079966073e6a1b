/**
 * Reading a rolling update's starting point from what the platform and the
 * router report (never from a file of our own): which replicas serve and are
 * to be replaced, which already belong to the target set (a re-run after an
 * interruption), and what an interrupted earlier run left behind.
 *
 * Pure module: workflows call it on an activity's result.
 */
import type { RollingLive } from '../activities/rolling';
import type { ReplicaSetState } from '../activities/ports';
import { slotOf } from '../activities/ports';
import { replicaIndexIn } from './rolling-math';
import type { TrackedReplica } from './types';

export interface RollingStart {
  /** Serving replicas of other sets, to be replaced (ordered by set, then index). */
  from: TrackedReplica[];
  /** Serving replicas of the target set, at most `desired` (ordered by index). */
  to: TrackedReplica[];
  /** Replicas of rolling sets that serve nothing (left by an interrupted run): retired before anything else. */
  leftovers: TrackedReplica[];
  /** Rolling sets (other than the target) with nothing serving: retired before anything else. */
  emptySets: string[];
  /** Sets the `from` replicas belong to. */
  oldSets: string[];
  /** The old set most serving replicas belong to: old-version replicas are relaunched into it on rollback. */
  restoreSet: string | null;
  previousVersion: string | null;
  /** Next free replica index of each set. */
  nextIndex: Record<string, number>;
}

function byIndex(set: string) {
  return (a: TrackedReplica, b: TrackedReplica): number =>
    (replicaIndexIn(set, a.id) ?? Number.MAX_SAFE_INTEGER) - (replicaIndexIn(set, b.id) ?? Number.MAX_SAFE_INTEGER) ||
    a.id.localeCompare(b.id);
}

/** Sets this update is concerned with: rolling sets, and the sets of the blue-green color it adopts. */
function relevant(live: RollingLive, set: ReplicaSetState): boolean {
  const slot = slotOf(set);
  return slot === 'rolling' || (live.routing !== 'rolling' && slot === live.routing);
}

export function classifyLive(live: RollingLive, targetSet: string, desired: number): RollingStart {
  const targets = new Set(live.targets.map((t) => t.replace(/\/+$/, '')));
  const sets = live.replicaSets.filter((s) => relevant(live, s)).sort((a, b) => a.name.localeCompare(b.name));
  const from: TrackedReplica[] = [];
  let to: TrackedReplica[] = [];
  const leftovers: TrackedReplica[] = [];
  const emptySets: string[] = [];
  const nextIndex: Record<string, number> = { [targetSet]: 0 };

  for (const set of sets) {
    const tracked = set.replicas
      .map((r): TrackedReplica => ({ id: r.id, set: set.name, address: r.address }))
      .sort(byIndex(set.name));
    nextIndex[set.name] = Math.max(0, ...tracked.map((r) => (replicaIndexIn(set.name, r.id) ?? -1) + 1));
    const serving = tracked.filter((r) => r.address !== '' && targets.has(r.address.replace(/\/+$/, '')));
    const idle = tracked.filter((r) => !serving.includes(r));
    if (set.name === targetSet) to = serving;
    else from.push(...serving);
    if (slotOf(set) !== 'rolling') continue; // a blue-green set being adopted: only its serving replicas matter
    if (serving.length === 0 && set.name !== targetSet) emptySets.push(set.name);
    else leftovers.push(...idle);
  }

  // More target replicas serving than wanted (scaling down the same version): the excess is replaced too.
  if (to.length > desired) from.push(...to.splice(desired));

  const counts = new Map<string, number>();
  for (const r of from) counts.set(r.set, (counts.get(r.set) ?? 0) + 1);
  const oldSets = [...counts.keys()];
  const restoreSet = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? null;
  const previousVersion = live.replicaSets.find((s) => s.name === restoreSet)?.version ?? null;
  return { from, to, leftovers, emptySets, oldSets, restoreSet, previousVersion, nextIndex };
}
