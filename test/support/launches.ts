/**
 * Counting launches two independent ways, for "nothing was launched twice":
 *
 * - on the platform: each start of a local replica appends its "listening on" line to that replica's log (the local
 *   platform opens the log for appending on every launch), so the lines count the processes ever started for it;
 * - in the workflow history: the replicas each completed launch activity asked for (blue-green: scaleUpReplicaSet,
 *   before the patch provisionReplicaSet, scales a set up to N, launching <set>-0..N-1; rolling: launchReplicas launches
 *   the ids it names, launchToCount brings a set to N replicas numbering on from `fromOrdinal`: the ids between what it
 *   had and N).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ActivityRun } from './history';

/**
 * Starts of each replica of a local replica set, from its logs (replica id -> processes started). `stateDir` is the
 * spec's `platform.stateDir` (a fixture's `platformDir`); the platform keeps each set under `<stateDir>/platform/`.
 */
export function localStarts(stateDir: string, set: string): Record<string, number> {
  const dir = path.join(stateDir, 'platform', set, 'logs');
  const out: Record<string, number> = {};
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.log'))) {
    const log = fs.readFileSync(path.join(dir, file), 'utf8');
    out[file.replace(/\.log$/, '')] = log.split('\n').filter((l) => / listening on /.test(l)).length;
  }
  return out;
}

interface ProvisionInput {
  replicaSet: { name: string; replicas: number };
}

interface LaunchInput {
  set: string;
  ids: string[];
}

interface LaunchToCountInput {
  set: string;
  count: number;
  fromOrdinal?: number;
}

interface LaunchToCountResult {
  launched: number;
  nextOrdinal: number;
}

/** The activities that launch replicas (blue-green's, the rolling list path's, the rolling bounded path's). */
export const LAUNCH_ACTIVITIES = ['provisionReplicaSet', 'scaleUpReplicaSet', 'launchReplicas', 'launchToCount'];

/** Replica id -> how many completed activities launched it (pod and process names are both <set>-<index>). */
export function launchesInHistory(runs: ActivityRun[]): Record<string, number> {
  const out: Record<string, number> = {};
  const launched = new Map<string, number>();
  const count = (id: string) => (out[id] = (out[id] ?? 0) + 1);
  for (const run of runs.filter((r) => r.outcome === 'completed')) {
    if (run.type === 'provisionReplicaSet' || run.type === 'scaleUpReplicaSet') {
      const { name, replicas } = (run.input as ProvisionInput).replicaSet;
      // A set scaled up again (preview replicas first) launches only the replicas it did not have.
      for (let i = launched.get(name) ?? 0; i < replicas; i++) count(`${name}-${i}`);
      launched.set(name, Math.max(replicas, launched.get(name) ?? 0));
    } else if (run.type === 'launchReplicas') {
      for (const id of (run.input as LaunchInput).ids) count(id);
    } else if (run.type === 'launchToCount') {
      // The new replicas number on from fromOrdinal (the set's next ordinal, so every id from it on was free) up to
      // the set's next ordinal after the launch (its result).
      const { set, fromOrdinal } = run.input as LaunchToCountInput;
      const { nextOrdinal } = run.result as LaunchToCountResult;
      for (let i = fromOrdinal ?? 0; i < nextOrdinal; i++) count(`${set}-${i}`);
    }
  }
  return out;
}
