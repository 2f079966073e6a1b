/**
 * How a hook operation's stage ends when it fails: the message LifeTime shows in the result file, and the
 * deployment's own result when a child deployment rolled back or failed.
 */
import { ApplicationFailure, ChildWorkflowFailure } from '@temporalio/workflow';
import type { DeploymentResult } from '../types';

/** Thrown inside a stage to end it with this message in the result file. */
export class StageFailed extends Error {
  override readonly name = 'StageFailed';
}

/** The deployment's result carried by its failure (rolled back / failed), if that is what ended it. */
export function deploymentResultOf(err: unknown): DeploymentResult | undefined {
  if (!(err instanceof ChildWorkflowFailure)) return undefined;
  const cause = err.cause;
  if (!(cause instanceof ApplicationFailure)) return undefined;
  const details = cause.details?.[0] as DeploymentResult | undefined;
  return details && typeof details === 'object' && 'outcome' in details ? details : undefined;
}

/** The message a stage's failure puts in the result file (what LifeTime shows the operator). */
export function describeFailure(err: unknown): string {
  if (err instanceof StageFailed) return err.message;
  if (err instanceof ChildWorkflowFailure) {
    const cause = err.cause;
    return `${err.execution?.workflowId ?? 'child workflow'} failed: ${cause?.message ?? err.message}`;
  }
  if (err instanceof ApplicationFailure) return err.message;
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error && cause.message) return cause.message;
    return err.message;
  }
  return String(err);
}
