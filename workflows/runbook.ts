/**
 * What both deployment runbooks (blue-green, rolling update) share: the post-switch verification budget, the
 * RollBack signal a step throws to end "rolled back" with a reason, and how a failure becomes that reason.
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import type { DecisionInput } from './messages';

/** Requests through the load balancer before a module counts as not answering from the new version. */
export const VERIFY_ATTEMPTS = 10;
export const VERIFY_INTERVAL_MS = 1000;

/** Thrown inside a runbook to roll back with a reason. */
export class RollBack extends Error {
  override readonly name = 'RollBack';
}

/** The message of what failed: an activity's own error rather than "Activity task failed". */
export function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * The reason a deployment ends without succeeding: who aborted it, or what failed. Once an abort was accepted, it is
 * the reason whatever the step it cancelled ended with (a cancellation, or an error of its own on the way out: a
 * launch that failed as it was cancelled, a timeout), so the reason always names who aborted and why.
 */
export function describeFailure(err: unknown, abortedBy: DecisionInput | undefined): string {
  if (abortedBy) {
    return `aborted by ${abortedBy.by}${abortedBy.reason ? `: ${abortedBy.reason}` : ''}`;
  }
  if (err instanceof RollBack || err instanceof ApplicationFailure) return err.message;
  if (err instanceof ActivityFailure) return failureMessage(err);
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error) return `${err.message}: ${cause.message}`;
    return err.message;
  }
  return String(err);
}
