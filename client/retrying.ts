/**
 * Steps the workflow is retrying, read from the server's pending activities (`describe()`): the attempt, its
 * maximum, the last error and when the next attempt comes. The workflow's status query cannot know these — an
 * activity's retries happen on the server, out of the workflow's sight — so the client adds them beside the status.
 */
import type { temporal } from '@temporalio/proto';
import { optionalTsToDate } from '@temporalio/common/lib/time';

type PendingActivity = temporal.api.workflow.v1.IPendingActivityInfo;
type Failure = temporal.api.failure.v1.IFailure;

/** An activity that failed at least once and is waiting for, or running, another attempt. */
export interface RetryingStep {
  /** The activity type, e.g. `readRoutes`. */
  activity: string;
  /** The attempt waiting to run (or running): 2 after the first failure. */
  attempt: number;
  /** From the activity's retry policy; absent when attempts are unlimited. */
  maximumAttempts?: number;
  /** The last attempt's error, its causes joined with ": ". */
  lastError?: string;
  /** ISO time of the next attempt while it waits; absent while the attempt runs. */
  nextAttemptAt?: string;
}

const MAX_ERROR_CHARS = 400;

/** The failure's message and those of its causes not already part of it, on one line. */
export function failureText(failure: Failure | null | undefined): string | undefined {
  const parts: string[] = [];
  for (let f = failure, depth = 0; f && depth < 5; f = f.cause, depth++) {
    const message = (f.message ?? '').replace(/\s+/g, ' ').trim();
    if (message && !parts.some((p) => p.includes(message))) parts.push(message);
  }
  if (!parts.length) return undefined;
  const text = parts.join(': ');
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS - 1)}…` : text;
}

/** The pending activities that have failed at least once (attempt ≥ 2), as RetryingSteps. */
export function retryingSteps(pending: readonly PendingActivity[] | null | undefined): RetryingStep[] {
  const out: RetryingStep[] = [];
  for (const activity of pending ?? []) {
    const attempt = activity.attempt ?? 1;
    if (attempt < 2 && !activity.lastFailure) continue;
    const next = optionalTsToDate(activity.nextAttemptScheduleTime);
    const lastError = failureText(activity.lastFailure);
    out.push({
      activity: activity.activityType?.name ?? 'activity',
      attempt,
      ...(activity.maximumAttempts ? { maximumAttempts: activity.maximumAttempts } : {}),
      ...(lastError ? { lastError } : {}),
      ...(next ? { nextAttemptAt: next.toISOString() } : {}),
    });
  }
  return out;
}
