/**
 * Whether another operation holds an application: its deployment workflow (`deploy-<environment>-<application>`)
 * looked up through the worker's own Temporal client (the activity context's), never a client of the client/ layer.
 */
import { Context } from '@temporalio/activity';
import { activity } from '../activity';

export function createWorkflowLookupActivities() {
  return {
    /** Whether a workflow with this id is running now (another operation holding the application). */
    async isWorkflowRunning(input: { workflowId: string }): Promise<boolean> {
      try {
        const description = await Context.current().client.workflow.getHandle(input.workflowId).describe();
        return description.status.name === 'RUNNING';
      } catch (err) {
        if ((err as Error).name === 'WorkflowNotFoundError') return false;
        throw err;
      }
    },

    /**
     * Waits (long-polling the server, heartbeating) until the workflow closes, or the deadline passes. Costs its
     * caller three history events however long it waits. Closed includes failed, terminated, timed out and never
     * started; a rolling update that continues as new is followed to its last run.
     */
    async awaitWorkflowClosed(input: { workflowId: string; deadlineAt: number }): Promise<{ closed: boolean }> {
      return activity(async (heartbeat) => {
        const ctx = Context.current();
        const remaining = input.deadlineAt - Date.now();
        if (remaining <= 0) return { closed: false };
        const byDeadline = AbortSignal.timeout(remaining);
        const signal = AbortSignal.any([ctx.cancellationSignal, byDeadline]);
        heartbeat.report({ waitingFor: input.workflowId });
        try {
          await ctx.client.connection.withAbortSignal(signal, () =>
            ctx.client.workflow.getHandle(input.workflowId).result(),
          );
          return { closed: true };
        } catch (err) {
          if (ctx.cancellationSignal.aborted) await ctx.cancelled; // rejects with the CancelledFailure
          if (byDeadline.aborted) return { closed: false };
          const name = (err as Error).name;
          // The workflow ended without succeeding, or does not exist: either way it no longer holds the application.
          if (name === 'WorkflowFailedError' || name === 'WorkflowNotFoundError') return { closed: true };
          throw err;
        }
      });
    },
  };
}
