/** How a rolling update ends: succeeded (the result), or rolled back / failed (the workflow fails with the result). */
import { ApplicationFailure, allHandlersFinished, condition } from '@temporalio/workflow';
import type { DeploymentResult, Outcome } from '../types';
import type { RollingRun } from './run';

/** Records the outcome and says what serves; waits for every handler to finish. */
export async function finish(run: RollingRun, outcome: Outcome, reason?: string): Promise<DeploymentResult> {
  const { status, tracker } = run;
  status.outcome = outcome;
  status.reason = reason;
  run.refresh();
  tracker.setPhase(outcome === 'succeeded' ? 'Succeeded' : outcome === 'rolled-back' ? 'RolledBack' : 'Failed');
  const serving =
    `${status.rolling?.healthy ?? 0} replicas serve ` +
    `(${status.rolling?.old ?? 0} of ${status.previousVersion ?? 'the old version'}, ${status.rolling?.new ?? 0} of ${run.spec.version})`;
  tracker.event(
    outcome === 'succeeded' ? `${run.spec.version} is live: ${serving}` : `${outcome}: ${reason ?? ''}; ${serving}`,
  );
  tracker.note(`${outcome}: ${serving}`);
  await condition(allHandlersFinished);
  return { outcome, reason, liveColor: null, liveVersion: status.liveVersion, status };
}

/** Ends rolled back or failed: the workflow fails with the result in its details (as blue-green does). */
export async function end(run: RollingRun, outcome: Outcome, reason: string): Promise<never> {
  const result = await finish(run, outcome, reason);
  throw ApplicationFailure.create({
    type: outcome === 'rolled-back' ? 'DeploymentRolledBack' : 'DeploymentFailed',
    message: reason,
    nonRetryable: true,
    details: [result],
  });
}
