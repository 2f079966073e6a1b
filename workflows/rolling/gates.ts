/**
 * The stops between batches: an analysis (workflows/rolling/analysis.ts), then an approval (a canary after the first
 * batch) or a timed wait, each through the deployment's approval gate. A gate left open when the run's history grows past its bound carries into the next
 * run (continue-as-new) with the same deadline.
 */
import { CancellationScope, condition } from '@temporalio/workflow';
import type { GateOutcome, GatePolicy } from '../approval';
import { RollBack } from '../runbook';
import { analyseAfter } from './analysis';
import { continueAsNewDue, continueAsNewIfDue } from './continue-as-new';
import type { RollingRun } from './run';

/**
 * The stop after `batch`, if the spec has one that has not been passed yet: its analysis first (a failure rolls
 * back), then its pause; an analysis that could not decide turns the stop into an approval for a person.
 */
export async function pauseAfter(run: RollingRun, batch: number): Promise<void> {
  const { strategy, tracker, book } = run;
  const step = strategy.steps.find((s) => s.afterBatch === batch);
  if (!step || book.pausesDone.includes(batch)) return;
  const where = `after batch ${batch}/${book.batches}`;
  const analysed = step.analysis ? await analyseAfter(run, batch, step.analysis, where) : undefined;
  const approval: GatePolicy = {
    mode: strategy.approval.mode,
    timeoutMs: strategy.approval.timeout,
    onTimeout: strategy.approval.onTimeout,
  };
  let outcome: GateOutcome | undefined;
  if (analysed?.ask) {
    tracker.setPhase('AwaitingApproval');
    tracker.event(`${analysed.why}: the update waits for a person`);
    outcome = await pauseGate(run, `approval ${where} (${analysed.why})`, { ...approval, mode: 'required' }, batch);
  } else if (step.pause && 'approval' in step.pause) {
    tracker.setPhase('AwaitingApproval');
    outcome = await pauseGate(run, `approval ${where}`, approval, batch);
  } else if (step.pause) {
    tracker.setPhase('Paused');
    const policy: GatePolicy = { mode: 'required', timeoutMs: step.pause.duration, onTimeout: 'promote' };
    outcome = await pauseGate(run, `pause of ${formatMs(step.pause.duration)} ${where}`, policy, batch);
  }
  book.pausePassed(batch);
  if (outcome) throwUnlessApproved(outcome, `the pause ${where}`);
}

/** A rejection, or a timeout whose action is to roll back, rolls back. */
export function throwUnlessApproved(outcome: GateOutcome, where: string): void {
  if (outcome.kind === 'rejected') {
    const d = outcome.decision;
    throw new RollBack(`rejected at ${where} by ${d.by}${d.reason ? `: ${d.reason}` : ''}`);
  }
  if (outcome.kind === 'timed-out' && outcome.action === 'rollback')
    throw new RollBack(`approval timed out at ${where}`);
}

/**
 * Waits at the gate; if the run's history grows past its bound while waiting (signals, updates), continues as new
 * with the pause pending: the next run reopens the gate with the same deadline.
 */
async function pauseGate(run: RollingRun, stage: string, policy: GatePolicy, batch: number): Promise<GateOutcome> {
  const { gate, book } = run;
  if (policy.mode === 'automatic') return gate.wait(stage, policy);
  const deadlineAt = book.pendingDeadline(batch) ?? Date.now() + policy.timeoutMs;
  book.pauseOpened(batch, deadlineAt);
  let outcome: GateOutcome | undefined;
  const scope = new CancellationScope();
  const waiting = scope
    .run(() => gate.wait(stage, { ...policy, timeoutMs: Math.max(1, deadlineAt - Date.now()) }))
    .then((o) => {
      outcome = o;
    });
  void waiting.catch(() => undefined); // its cancellation is handled below, or by the abort
  await condition(() => outcome !== undefined || continueAsNewDue(run));
  if (!outcome) {
    scope.cancel();
    await waiting.catch(() => undefined);
  }
  if (outcome) {
    book.pauseClosed();
    return outcome;
  }
  await continueAsNewIfDue(run, true);
  throw new Error('unreachable: continued as new');
}

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
