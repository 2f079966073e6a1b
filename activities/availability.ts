/**
 * Availability of one replica, as both rolling paths judge it (the replica lists before rolling-bounded-payloads,
 * the counted sets after): healthy on every module's health path `successThreshold` times in a row, then for
 * `minReadyMs` more. The progress travels in heartbeats, so a retried attempt resumes where the last one was.
 */
import type { Platform, Replica } from './ports';

/** Carried in heartbeats so a retried attempt (after a worker crash) resumes where the last one was. */
export interface AvailabilityProgress {
  successes: Record<string, number>;
  healthySince: Record<string, number>;
  available: string[];
  lastProgressAt: number;
  lastFailure?: string;
}

/** The progress a first attempt starts from (a retried one resumes its heartbeat's instead). */
export function startProgress(startedAt: number): AvailabilityProgress {
  return { successes: {}, healthySince: {}, available: [], lastProgressAt: startedAt };
}

/** Each module's health path (`{module}` replaced). */
export function healthPaths(modules: string[], path: string): string[] {
  return modules.map((m) => path.replaceAll('{module}', m));
}

export interface AvailabilityRule {
  health: { timeout: number; successThreshold: number };
  minReadyMs: number;
}

/**
 * One check of one replica (`replica` undefined: it does not exist, `missing` says so): probes each path, then
 * counts the success or resets the count, and marks the replica available once it has been healthy long enough.
 */
export async function checkAvailability(
  platform: Platform,
  id: string,
  replica: Replica | undefined,
  missing: string,
  paths: string[],
  rule: AvailabilityRule,
  progress: AvailabilityProgress,
  signal: AbortSignal,
): Promise<void> {
  let failure: string | undefined;
  if (!replica) failure = missing;
  else if (!replica.running) failure = `${id} is not running${replica.reason ? ` (${replica.reason})` : ''}`;
  for (const p of paths) {
    if (failure || !replica) break;
    const result = await platform.probe(replica, p, rule.health.timeout, signal);
    if (!result.healthy) failure = `${id} ${p}: ${result.reason}`;
  }
  const now = Date.now();
  if (failure) {
    progress.successes[id] = 0;
    delete progress.healthySince[id];
    progress.lastFailure = failure;
    return;
  }
  const successes = (progress.successes[id] ?? 0) + 1;
  progress.successes[id] = successes;
  if (successes < rule.health.successThreshold) return;
  const since = (progress.healthySince[id] ??= now);
  if (now - since >= rule.minReadyMs) {
    progress.available.push(id);
    progress.lastProgressAt = now;
  }
}
