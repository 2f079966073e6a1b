/**
 * How much one worker holds and runs at once: the sticky cache (workflows kept in memory between their tasks) and the
 * slots for workflow tasks and activities. createWorker takes them as `tuning`, over the environment, over these
 * defaults; `options` (raw WorkerOptions) still wins over all three.
 *
 * Environment (each bad value is an error naming the variable):
 *   CUTOVER_MAX_CACHED_WORKFLOWS           sticky cache size (default 250; 0 = no cache: every task replays)
 *   CUTOVER_MAX_CONCURRENT_WORKFLOW_TASKS  workflow tasks run at once (default 40, the SDK's)
 *   CUTOVER_MAX_CONCURRENT_ACTIVITIES      activities run at once (default 100, the SDK's)
 */
import type { WorkerOptions } from '@temporalio/worker';

export type WorkerTuning = Pick<
  WorkerOptions,
  'maxCachedWorkflows' | 'maxConcurrentWorkflowTaskExecutions' | 'maxConcurrentActivityTaskExecutions'
>;

/**
 * The SDK sizes its cache from the V8 heap limit (600 workflows per GiB above 200 MiB: 2,310 on a 4 GiB heap), so
 * a worker keeps every deployment it has run a task of until it holds thousands, and its RSS grows with them.
 * bench/concurrency.ts, 500 deployments at once on one worker (docs/benchmarks.md), measured FILLED-IN.
 * A deployment spends its life waiting (on replicas, on probes, on an approval, on a rollback window): one evicted
 * from the cache costs a replay of its own history at its next task, milliseconds for a history of a few hundred
 * events, while an operator's memory limit is a hard wall. 250 bounds the cache's share of memory; raise it with
 * CUTOVER_MAX_CACHED_WORKFLOWS on a worker given more memory and many long-lived deployments.
 */
export const DEFAULT_MAX_CACHED_WORKFLOWS = 250;

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

/** Defaults, then the environment, then `tuning`; with a cache, workflow tasks never exceed it (the SDK would warn). */
export function resolveTuning(tuning: WorkerTuning = {}, env: NodeJS.ProcessEnv = process.env): Required<WorkerTuning> {
  const resolved = {
    maxCachedWorkflows: DEFAULT_MAX_CACHED_WORKFLOWS,
    maxConcurrentWorkflowTaskExecutions: DEFAULT_MAX_CONCURRENT_WORKFLOW_TASKS,
    maxConcurrentActivityTaskExecutions: DEFAULT_MAX_CONCURRENT_ACTIVITIES,
    ...tuningFromEnv(env),
    ...definedOnly(tuning),
  };
  if (resolved.maxCachedWorkflows > 0) {
    resolved.maxConcurrentWorkflowTaskExecutions = Math.min(
      resolved.maxConcurrentWorkflowTaskExecutions,
      Math.max(resolved.maxCachedWorkflows, 2),
    );
  }
  return resolved;
}

function definedOnly(tuning: WorkerTuning): WorkerTuning {
  return Object.fromEntries(Object.entries(tuning).filter(([, v]) => v !== undefined)) as WorkerTuning;
}
