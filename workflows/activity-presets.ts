/**
 * Activity presets shared by every workflow: one retry policy (backoff,
 * permanent errors not retried) and the quick API-call preset. Workflows add
 * their own presets for long, heartbeating work.
 *
 * Every activity scheduled through these presets inside a runbook step carries the step's name as its summary (user
 * metadata on the ScheduleActivityTask command), so the Temporal UI's timeline reads as the runbook: "switch Catalog,
 * Cart to green", "undo: switch traffic back". The step name travels in an AsyncLocalStorage (the SDK's, which follows
 * the workflow's promises), so steps running side by side (a post-promotion analysis during the rollback window)
 * each label their own activities. Summaries are metadata: replay compares an activity's type and id, not them.
 */
import { ActivityCancellationType, AsyncLocalStorage, proxyActivities } from '@temporalio/workflow';
import type { ActivityInterfaceFor, ActivityOptions } from '@temporalio/workflow';
import type { RetryPolicy } from '@temporalio/common';
import type { Activities } from '../activities';
import { NON_RETRYABLE_ERROR_TYPES } from '../activities/errors';

/** Transient failures retry with backoff (1 s, ×2, up to 30 s); the stable permanent error types never do. */
export const retry: RetryPolicy = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 10,
  nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
};

/**
 * How soon a dead worker is noticed: every activity heartbeats while it runs (activities/activity.ts), so one whose
 * heartbeats stop is retried elsewhere after this, not at its start-to-close timeout. (Timeouts are not part of what
 * replay compares: only an activity's type and id are.)
 */
export const LIVENESS_TIMEOUT = '15 seconds';

/**
 * Router and platform API calls: short, retried with backoff. An abort waits
 * for a running call to finish, so compensation never races it.
 */
export const quickApiCall = summarised({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: LIVENESS_TIMEOUT,
  retry,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

/**
 * A long activity whose start-to-close timeout is derived from its work (workflows/budgets.ts): the one preset made
 * per call, because the work (modules, replicas, the spec's start timeout and health deadline) is known only then.
 * Heartbeats every second like every activity; an abort waits for it to acknowledge the cancellation, which it does
 * within about a second (activities/activity.ts), so compensation never races it.
 */
export function budgeted(startToCloseMs: number, maximumAttempts = retry.maximumAttempts) {
  return summarised({
    startToCloseTimeout: Math.ceil(startToCloseMs),
    heartbeatTimeout: LIVENESS_TIMEOUT,
    retry: { ...retry, maximumAttempts },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
}

/** The UI shows a summary on one line; a longer one is cut with an ellipsis (step names are far shorter). */
export const MAX_SUMMARY_LENGTH = 200;

const currentSummary = new AsyncLocalStorage<string>();

/** Runs `body` with `summary` as the summary of every activity it schedules through these presets. */
export function withSummary<T>(summary: string, body: () => Promise<T>): Promise<T> {
  return currentSummary.run(oneLine(summary), body);
}

/** The summary activities scheduled here and now get (the innermost step's), if any. */
export function activitySummary(): string | undefined {
  return currentSummary.getStore();
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > MAX_SUMMARY_LENGTH ? `${line.slice(0, MAX_SUMMARY_LENGTH - 1)}…` : line;
}

/** proxyActivities, each call carrying the current step's summary (a call outside any step goes as before). */
function summarised(options: ActivityOptions): ActivityInterfaceFor<Activities> {
  const proxy = proxyActivities<Activities>(options);
  return new Proxy(proxy, {
    get(target, name, receiver): unknown {
      const activity = Reflect.get(target, name, receiver) as unknown;
      if (typeof name !== 'string' || typeof activity !== 'function') return activity;
      const scheduled = activity as SchedulableActivity;
      const call = (...args: unknown[]) => {
        const summary = currentSummary.getStore();
        return summary === undefined ? scheduled(...args) : scheduled.executeWithOptions({ summary }, args);
      };
      return Object.assign(call, {
        executeWithOptions: (o: ActivityOptions, a: unknown[]) => scheduled.executeWithOptions(o, a),
      });
    },
  });
}

/** One activity of a proxy, untyped: what summarised() wraps. */
interface SchedulableActivity {
  (...args: unknown[]): Promise<unknown>;
  executeWithOptions(this: void, options: ActivityOptions, args: unknown[]): Promise<unknown>;
}
