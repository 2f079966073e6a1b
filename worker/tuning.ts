/**
 * How much one worker holds and runs at once: the sticky cache (workflows kept in memory between their tasks) and the
 * slots for workflow tasks and activities. createWorker takes them as `tuning`, over the environment, over these
 * defaults; `options` (raw WorkerOptions) still wins over all three.
 *
 * Environment (each bad value is an error naming the variable):
 *   CUTOVER_MAX_CACHED_WORKFLOWS           sticky cache size (default the SDK's, from the heap limit; 0 = none)
 *   CUTOVER_MAX_CONCURRENT_WORKFLOW_TASKS  workflow tasks run at once (default 40, the SDK's)
 *   CUTOVER_MAX_CONCURRENT_ACTIVITIES      activities run at once (default 100, the SDK's)
 */
import type { WorkerOptions } from '@temporalio/worker';

export type WorkerTuning = Pick<
  WorkerOptions,
  'maxCachedWorkflows' | 'maxConcurrentWorkflowTaskExecutions' | 'maxConcurrentActivityTaskExecutions'
>;

/**
 * The cache size has no default of Cutover's: the SDK's stands (600 workflows per GiB of V8 heap above 200 MiB:
 * 2,310 on a 4 GiB heap, 182 on 512 MiB), because a smaller cache made the worker neither smaller nor faster.
 * bench/concurrency.ts, 500 deployments at once on one worker (2 loaded cores), peak RSS / total / worker CPU:
 *   the SDK's (2,310)  1,489 MiB  220 s  101 s
 *   200                1,572 MiB  210 s   98 s
 *   100                2,149 MiB  321 s  202 s (every task of an evicted deployment replays its whole history)
 *   500, heap 640 MiB  1,117 MiB  217 s  116 s (node --max-old-space-size=640)
 *   600, heap 512 MiB    963 MiB  343 s  137 s (its collections hold up workflow tasks)
 *   600, heap 512 MiB, 500 activities  966 MiB  159 s  115 s
 * Activity slots mattered more than the cache for the time: a deployment's waits (replicas, probes) hold a slot, so
 * with 100 the others queue behind them; CUTOVER_MAX_CONCURRENT_ACTIVITIES at the deployments in flight lets them
 * wait side by side, at the same memory (the runs shared 2 cores with other work, load 4-10: ±30 % on the times).
 * The RSS follows the V8 heap limit, which V8 fills with garbage before it collects, not the cached deployments:
 * to bound a worker's memory, bound its heap (NODE_OPTIONS=--max-old-space-size=...) and then set
 * CUTOVER_MAX_CACHED_WORKFLOWS to at least the deployments it runs at once, or the smaller heap's smaller default
 * cache makes them replay.
 */

/** The SDK's own defaults, named here so that the documented values are the ones in force. */
export const DEFAULT_MAX_CONCURRENT_WORKFLOW_TASKS = 40;
export const DEFAULT_MAX_CONCURRENT_ACTIVITIES = 100;

const VARIABLES = {
  maxCachedWorkflows: 'CUTOVER_MAX_CACHED_WORKFLOWS',
  maxConcurrentWorkflowTaskExecutions: 'CUTOVER_MAX_CONCURRENT_WORKFLOW_TASKS',
  maxConcurrentActivityTaskExecutions: 'CUTOVER_MAX_CONCURRENT_ACTIVITIES',
} as const satisfies Record<keyof WorkerTuning, string>;

function countFromEnv(name: string, min: number, env: NodeJS.ProcessEnv): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number >= ${min} (got "${raw}")`);
  return n;
}

/** The tuning the environment sets (only the variables that are set). */
export function tuningFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerTuning {
  const tuning: WorkerTuning = {};
  const cached = countFromEnv(VARIABLES.maxCachedWorkflows, 0, env);
  const wft = countFromEnv(VARIABLES.maxConcurrentWorkflowTaskExecutions, 1, env);
  const activities = countFromEnv(VARIABLES.maxConcurrentActivityTaskExecutions, 1, env);
  if (cached !== undefined) tuning.maxCachedWorkflows = cached;
  if (wft !== undefined) tuning.maxConcurrentWorkflowTaskExecutions = wft;
  if (activities !== undefined) tuning.maxConcurrentActivityTaskExecutions = activities;
  return tuning;
}

/**
 * Defaults, then the environment, then `tuning`. With a cache, workflow tasks never exceed it (the SDK would warn and
 * lower them itself); an unset cache size stays unset, for the SDK to size.
 */
export function resolveTuning(tuning: WorkerTuning = {}, env: NodeJS.ProcessEnv = process.env): WorkerTuning {
  const resolved: WorkerTuning = {
    maxConcurrentWorkflowTaskExecutions: DEFAULT_MAX_CONCURRENT_WORKFLOW_TASKS,
    maxConcurrentActivityTaskExecutions: DEFAULT_MAX_CONCURRENT_ACTIVITIES,
    ...tuningFromEnv(env),
    ...definedOnly(tuning),
  };
  const cached = resolved.maxCachedWorkflows;
  if (cached !== undefined && cached > 0 && resolved.maxConcurrentWorkflowTaskExecutions !== undefined) {
    resolved.maxConcurrentWorkflowTaskExecutions = Math.min(
      resolved.maxConcurrentWorkflowTaskExecutions,
      Math.max(cached, 2),
    );
  }
  return resolved;
}

function definedOnly(tuning: WorkerTuning): WorkerTuning {
  return Object.fromEntries(Object.entries(tuning).filter(([, v]) => v !== undefined));
}
