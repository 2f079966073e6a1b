/**
 * One operation at a time per application: a hook operation's child runs with the application's business id
 * `deploy-<environment>-<application>`, so a second operation waits for the first to close (until its hook deadline),
 * and a deployment still running when LifeTime stops waiting is aborted. The stages (workflows/outsystems/operation.ts)
 * start their child through `startExclusive` and watch a deployment with `abortAtDeadline`.
 */
import { condition, log, patched, sleep } from '@temporalio/workflow';
import type { ChildWorkflowHandle } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { blueGreenDeployment } from '../blue-green';
import type { canaryDeployment } from '../canary';
import { abortSignal } from '../messages';
import type { rollingUpdateDeployment } from '../rolling-update';
import { StageFailed } from './failures';
import { WAIT_FOR_APPLICATION_BY_RESULT_PATCH } from './patches';
import { awaitClosed, quickApiCall } from './presets';
import type { HookOperationInput, HookOperationState, HookOperationStatus } from './types';

const EXCLUSIVE_RETRY_MS = 5_000;

/** What of a hook operation the application's one slot needs: who it is, its deadline, its visible state. */
export interface ExclusiveOperation {
  input: HookOperationInput;
  status: HookOperationStatus;
  /** The application's business id, `deploy-<environment>-<application>`: the child's workflow id. */
  deploymentId: string;
  /** The hook deadline (epoch ms). */
  deadline: number;
  setState(state: HookOperationState, detail?: string): void;
}

/** Starts the application's child; while another operation of the application runs, waits for it. */
export async function startExclusive<T>(op: ExclusiveOperation, start: () => Promise<T>): Promise<T> {
  for (;;) {
    // Checked first so that what `start` reads (the live release) is read once the other operation is over.
    if (await quickApiCall.isWorkflowRunning({ workflowId: op.deploymentId })) {
      await untilApplicationFree(op);
      continue;
    }
    try {
      return await start();
    } catch (err) {
      // Another operation started it between the check and the start.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      await untilApplicationFree(op);
    }
  }
}

/** Waits for the application's running deployment to close; a stage failure at the hook deadline. */
async function untilApplicationFree(op: ExclusiveOperation): Promise<void> {
  const { input, status, deploymentId, deadline } = op;
  const busy = () =>
    new StageFailed(
      `another operation on ${input.application} (${deploymentId}) was still running at the hook deadline`,
    );
  if (Date.now() >= deadline) throw busy();
  if (status.detail === undefined || !status.detail.startsWith('waiting')) {
    log.info('another operation of the application is running: waiting', { deploymentId });
  }
  op.setState('waiting-for-application', `waiting for ${deploymentId} to finish`);
  if (patched(WAIT_FOR_APPLICATION_BY_RESULT_PATCH)) {
    const { closed } = await awaitClosed.awaitWorkflowClosed({ workflowId: deploymentId, deadlineAt: deadline });
    if (!closed) throw busy();
    return;
  }
  await sleep(Math.min(input.exclusiveRetryMs ?? EXCLUSIVE_RETRY_MS, Math.max(1, deadline - Date.now())));
}

/**
 * LifeTime stops waiting for the result file at the hook deadline and reports the stage as failed. A deployment
 * still running then is aborted, so what runs matches what LifeTime shows: before its point of no return it rolls
 * back; past it (retiring the old version) it finishes. Returns whether the abort was sent.
 */
export async function abortAtDeadline(
  op: ExclusiveOperation,
  child: ChildWorkflowHandle<typeof blueGreenDeployment | typeof rollingUpdateDeployment | typeof canaryDeployment>,
  outcome: Promise<unknown>,
): Promise<boolean> {
  const { input, deploymentId, deadline } = op;
  let settled = false;
  outcome.then(
    () => (settled = true),
    () => (settled = true),
  );
  if (await condition(() => settled, Math.max(1, deadline - Date.now()))) return false;
  log.warn('the hook deadline passed with the deployment still running: aborting it', {
    deploymentId,
    hookDeadline: input.hookDeadline,
  });
  op.setState('deploying', `the hook deadline passed: aborting ${deploymentId}`);
  await child.signal(abortSignal, {
    by: 'cutover hook server',
    reason: `the ${input.stage} hook's deadline (${input.hookDeadline}) passed: LifeTime no longer waits for this deployment`,
  });
  return true;
}
