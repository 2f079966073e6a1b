/**
 * What a deployment's workflow history says about its activities: each one scheduled, the attempt it ended on
 * (Temporal records one ActivityTaskStarted per activity, carrying the final attempt number), how it ended and with
 * what failure. Every run of a deployment that continued as new is read, oldest first.
 *
 * The fault tests count from here what no wall clock can show: that a transient fault was retried (attempt > 1),
 * that a permanent one was not (attempt 1), and that each replica was launched by exactly one completed activity.
 */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';

type Payloads = temporal.api.common.v1.IPayloads | null | undefined;

export interface ActivityRun {
  type: string;
  /** The activity's first argument (the workflow passes one input object). */
  input: unknown;
  /** The attempt it ended on (1 = never retried); 0 while its first attempt has not finished. */
  attempt: number;
  outcome: 'completed' | 'failed' | 'timed-out' | 'canceled' | 'pending';
  /** The last failure: the final one for a failed activity, the one that caused the last retry otherwise. */
  failure?: { message: string; type?: string; nonRetryable?: boolean };
}

function firstArg(payloads: Payloads): unknown {
  const payload = payloads?.payloads?.[0];
  return payload ? defaultPayloadConverter.fromPayload(payload) : undefined;
}

function failureOf(f: temporal.api.failure.v1.IFailure | null | undefined): ActivityRun['failure'] {
  if (!f) return undefined;
  // An activity's own error is the cause of the ActivityFailure wrapper, when there is one.
  const own = f.cause ?? f;
  return {
    message: own.message ?? '',
    ...(own.applicationFailureInfo?.type ? { type: own.applicationFailureInfo.type } : {}),
    ...(own.applicationFailureInfo ? { nonRetryable: Boolean(own.applicationFailureInfo.nonRetryable) } : {}),
  };
}

async function runHistories(client: Client, workflowId: string): Promise<temporal.api.history.v1.IHistory[]> {
  const histories: temporal.api.history.v1.IHistory[] = [];
  let runId: string | undefined;
  for (;;) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    histories.unshift(history);
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    const previous = started?.continuedExecutionRunId;
    if (!previous) return histories;
    runId = previous;
  }
}

/** Every activity of the deployment, in the order scheduled. */
export async function activityRuns(client: Client, workflowId: string): Promise<ActivityRun[]> {
  const runs: ActivityRun[] = [];
  for (const history of await runHistories(client, workflowId)) {
    const byScheduled = new Map<string, ActivityRun>();
    for (const e of history.events ?? []) {
      const id = String(e.eventId);
      if (e.activityTaskScheduledEventAttributes) {
        const a = e.activityTaskScheduledEventAttributes;
        const run: ActivityRun = {
          type: a.activityType?.name ?? '?',
          input: firstArg(a.input),
          attempt: 0,
          outcome: 'pending',
        };
        byScheduled.set(id, run);
        runs.push(run);
      } else if (e.activityTaskStartedEventAttributes) {
        const a = e.activityTaskStartedEventAttributes;
        const run = byScheduled.get(String(a.scheduledEventId));
        if (run) {
          run.attempt = a.attempt ?? 1;
          const last = failureOf(a.lastFailure);
          if (last) run.failure = last;
        }
      } else if (e.activityTaskCompletedEventAttributes) {
        const run = byScheduled.get(String(e.activityTaskCompletedEventAttributes.scheduledEventId));
        if (run) run.outcome = 'completed';
      } else if (e.activityTaskFailedEventAttributes) {
        const a = e.activityTaskFailedEventAttributes;
        const run = byScheduled.get(String(a.scheduledEventId));
        if (run) {
          run.outcome = 'failed';
          run.failure = failureOf(a.failure);
        }
      } else if (e.activityTaskTimedOutEventAttributes) {
        const a = e.activityTaskTimedOutEventAttributes;
        const run = byScheduled.get(String(a.scheduledEventId));
        if (run) {
          run.outcome = 'timed-out';
          run.failure = failureOf(a.failure);
        }
      } else if (e.activityTaskCanceledEventAttributes) {
        const run = byScheduled.get(String(e.activityTaskCanceledEventAttributes.scheduledEventId));
        if (run) run.outcome = 'canceled';
      }
    }
  }
  return runs;
}

/** The activities of one type. */
export function runsOf(runs: ActivityRun[], type: string): ActivityRun[] {
  return runs.filter((r) => r.type === type);
}

/** "type xN" for every activity that needed more than one attempt (what the faults cost), in order. */
export function retried(runs: ActivityRun[]): string[] {
  return runs.filter((r) => r.attempt > 1).map((r) => `${r.type} x${r.attempt}`);
}
