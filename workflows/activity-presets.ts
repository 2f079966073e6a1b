/**
 * Activity presets shared by every workflow: one retry policy (backoff,
 * permanent errors not retried) and the quick API-call preset. Workflows add
 * their own presets for long, heartbeating work.
 */
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
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
export const quickApiCall = proxyActivities<Activities>({
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
  return proxyActivities<Activities>({
    startToCloseTimeout: Math.ceil(startToCloseMs),
    heartbeatTimeout: LIVENESS_TIMEOUT,
    retry: { ...retry, maximumAttempts },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
}
