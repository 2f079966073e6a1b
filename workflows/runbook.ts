/**
 * What the deployment runbooks (blue-green, rolling update, canary) share: the post-switch verification budget, the
 * RollBack signal a step throws to end "rolled back" with a reason, how a failure becomes that reason, and the undo
 * after a failure.
 */
import { ActivityFailure, ApplicationFailure, isCancellation } from '@temporalio/workflow';
import type { RouterConfig } from './spec';
import { budgeted } from './activity-presets';
import { VERIFY_CONCURRENCY, VERIFY_REQUESTS, VERIFY_REQUEST_TIMEOUT_MS, verifyBudgetMs } from './budgets';
import type { DecisionInput } from './messages';
import type { Compensations } from './saga';
import type { DeploymentTracker } from './tracker';
import type { DeploymentResult } from './types';

/** Requests through the load balancer before a module counts as not answering from the new version. */
export const VERIFY_ATTEMPTS = 10;
export const VERIFY_INTERVAL_MS = 1000;

/** Retries of the long waits (health, verification) before the step fails. */
const VERIFY_STEP_ATTEMPTS = 20;

/**
 * The post-switch verification step of both runbooks: every module answers from `version` through the router, or the
 * deployment rolls back with `failure` and what each failing module answered.
 */
export async function verifyModules(
  tracker: DeploymentTracker,
  router: RouterConfig,
  modules: string[],
  version: string,
  failure: string,
): Promise<void> {
  const results = await tracker.step(
    `verify ${modules.join(', ')} answer from ${version}`,
    () =>
      budgeted(verifyBudgetMs(modules.length, VERIFY_ATTEMPTS, VERIFY_INTERVAL_MS), VERIFY_STEP_ATTEMPTS).verifyTraffic(
        {
          router,
          modules,
          version,
          attempts: VERIFY_ATTEMPTS,
          intervalMs: VERIFY_INTERVAL_MS,
          concurrency: VERIFY_CONCURRENCY,
          requests: VERIFY_REQUESTS,
          requestTimeoutMs: VERIFY_REQUEST_TIMEOUT_MS,
        },
      ),
    (rs) => rs.map((r) => `${r.module}: ${r.result.status}`).join(', '),
  );
  const failed = results.filter((r) => r.result.status === 'not-verified');
  if (failed.length) {
    throw new RollBack(`${failure}: ${failed.map((f) => `${f.module} (${f.result.detail})`).join('; ')}`);
  }
}

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

/** How the undo after a failure went. */
export interface UndoReport {
  /** Every undo done, and there was something to undo (or the failure was a rollback or an abort). */
  rolledBack: boolean;
  /** No undo failed. */
  undone: boolean;
  /** The failure's reason, and any undo that failed. */
  detail: string;
}

/** Runs the undo stack after `err` (phase RollingBack, each undo a compensated step) and says how it went. */
export async function undoAfter(
  tracker: DeploymentTracker,
  undo: Compensations,
  err: unknown,
  abortedBy: DecisionInput | undefined,
): Promise<UndoReport> {
  const reason = describeFailure(err, abortedBy);
  tracker.event(`rolling back: ${reason}`);
  tracker.setPhase('RollingBack');
  const hadWork = undo.size > 0;
  const report = await undo.run((name, ok, error) => tracker.compensated(name, ok, error));
  const undone = report.failed.length === 0;
  return {
    undone,
    rolledBack: undone && (hadWork || err instanceof RollBack || isCancellation(err)),
    detail: undone
      ? reason
      : `${reason}; compensation failed: ${report.failed.map((f) => `${f.name} (${f.error})`).join('; ')}`,
  };
}

/** The failure a runbook ends with after its undo: DeploymentRolledBack or DeploymentFailed, carrying the result. */
export function endedAfterUndo(report: UndoReport, result: DeploymentResult): ApplicationFailure {
  return ApplicationFailure.create({
    type: report.rolledBack ? 'DeploymentRolledBack' : 'DeploymentFailed',
    message: report.detail,
    nonRetryable: true,
    details: [result],
  });
}
