/**
 * The worker process: bundles the workflows, registers the activities with
 * the drivers injected, and polls the task queue.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import type { WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { defaultDrivers } from '../activities/drivers';
import type { Drivers } from '../activities/drivers';
import { connectionOptions, temporalConfigFromEnv } from '../client/connection';
import type { TemporalConfig } from '../client/connection';
import { runOperatedWorker } from './operate';
import { resolveTuning } from './tuning';
import type { WorkerTuning } from './tuning';

export type { WorkerTuning } from './tuning';

export interface CutoverWorkerOptions {
  temporal?: Partial<TemporalConfig>;
  drivers?: Drivers;
  /** A prebuilt bundle (tests bundle once per suite); default: bundle ../workflows at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /**
   * Sticky cache size and concurrent workflow tasks and activities, over CUTOVER_MAX_CACHED_WORKFLOWS,
   * CUTOVER_MAX_CONCURRENT_WORKFLOW_TASKS and CUTOVER_MAX_CONCURRENT_ACTIVITIES, over the defaults (worker/tuning.ts).
   */
  tuning?: WorkerTuning;
  /** Extra worker options (identity, interceptors...); they win over `tuning`. */
  options?: Partial<WorkerOptions>;
}

/** The failure converter module that seals failure messages (`dataConverter.failureConverterPath`). */
export function encryptedFailuresPath(): string {
  return require.resolve('../shared/encrypted-failures');
}

export async function createWorker(
  opts: CutoverWorkerOptions = {},
): Promise<{ worker: Worker; connection: NativeConnection; close: () => Promise<void> }> {
  const config = { ...temporalConfigFromEnv(), ...opts.temporal };
  const tuning = resolveTuning(opts.tuning);
  const connection = await NativeConnection.connect(connectionOptions(config));
  const worker = await Worker.create({
    connection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    activities: createActivities(opts.drivers ?? defaultDrivers()),
    // Payload encryption (shared/codec.ts): codecs run outside the workflow sandbox. With it on, failure messages and
    // stack traces are sealed too (shared/encrypted-failures.ts); that converter is bundled into the sandbox, so a
    // prebuilt workflowBundle must have been made with the same failureConverterPath (encryptedFailuresPath).
    dataConverter: {
      payloadCodecs: config.payloadCodecs ?? [],
      ...(config.payloadCodecs?.length ? { failureConverterPath: encryptedFailuresPath() } : {}),
    },
    // Cancellation (an abort) reaches a heartbeating activity in the answer to its next sent heartbeat: activities
    // heartbeat every second (activities/activity.ts), and none is held back longer, so an abort acts within ~1 s.
    maxHeartbeatThrottleInterval: '1 second',
    // A raw `tuner` in options replaces the slot counts (the SDK refuses both): only the cache size applies then.
    ...(opts.options?.tuner ? { maxCachedWorkflows: tuning.maxCachedWorkflows } : tuning),
    ...(opts.workflowBundle
      ? { workflowBundle: opts.workflowBundle }
      : { workflowsPath: require.resolve('../workflows') }),
    ...opts.options,
  });
  return { worker, connection, close: () => connection.close() };
}

/**
 * Runs until SIGINT/SIGTERM (the Temporal SDK's default shutdown signals), then drains and exits: JSON logs, metrics,
 * health endpoints and the graceful shutdown are worker/operate.ts's.
 */
export async function runWorker(opts: CutoverWorkerOptions = {}): Promise<void> {
  await runOperatedWorker(opts, createWorker);
}
