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
 * Router and platform API calls: short, retried with backoff. An abort waits
 * for a running call to finish, so compensation never races it.
 */
export const quickApiCall = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});
