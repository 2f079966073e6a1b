/**
 * Continue-as-new keeps every run's history bounded: a long update continues as new at a batch boundary (nothing
 * launching or draining), or from an open pause gate, with every handler finished. The next run carries the status
 * (steps, events, approvals), the context and the book, so queries and approvals keep working across runs.
 */
import { allHandlersFinished, condition, continueAsNew, workflowInfo } from '@temporalio/workflow';
import type { DeploymentResult, RollingCarryOver, RollingInput } from '../types';
import type { RollingRun } from './run';

/** Whether this run's history is long enough to continue as new (or the server suggests it). */
export function continueAsNewDue(run: RollingRun): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength >= run.historyLimit;
}

/** Continues as new if due (or `force`d: a pause gate is left open for the next run). */
export async function continueAsNewIfDue(run: RollingRun, force = false): Promise<void> {
  if (!force && !continueAsNewDue(run)) return;
  await condition(allHandlersFinished);
  const { input, status, tracker, book } = run;
  const info = workflowInfo();
  const rolling = status.rolling;
  if (rolling) {
    rolling.run++;
    rolling.runEvents.push(info.historyLength);
  }
  tracker.event(`continued as new after ${info.historyLength} history events (run ${rolling?.run ?? '?'})`);
  const carry: RollingCarryOver = {
    status,
    context: run.ctx,
    book: book.carried(),
    rollbackReason: book.rollingBack ? status.reason : undefined,
  };
  await continueAsNew<(input: RollingInput) => Promise<DeploymentResult>>({
    spec: run.spec,
    specNormalized: true, // the spec this run used, normalised: the next run uses it as recorded
    searchAttributes: input.searchAttributes,
    maxHistoryEvents: input.maxHistoryEvents,
    resume: carry,
  });
}
