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
  /** A completed activity's result. */
  result?: unknown;
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
        const a = e.activityTaskCompletedEventAttributes;
        const run = byScheduled.get(String(a.scheduledEventId));
        if (run) {
          run.outcome = 'completed';
          run.result = firstArg(a.result);
        }
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

function millis(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!t) return 0;
  return Number(t.seconds ?? 0) * 1000 + Math.round((t.nanos ?? 0) / 1e6);
}

function durationMs(d: { seconds?: unknown; nanos?: number | null } | null | undefined): number | undefined {
  return d ? millis(d) : undefined;
}

export interface ActivityTiming {
  type: string;
  /** From scheduled to closed (completed, failed, cancelled), by the server's event times. */
  tookMs: number;
  /** Its start-to-close timeout: the budget one attempt had. */
  budgetMs?: number;
  outcome: ActivityRun['outcome'];
}

/** How long each activity took against its budget (event times of the history: the server's clock). */
export async function activityTimings(client: Client, workflowId: string): Promise<ActivityTiming[]> {
  const out: ActivityTiming[] = [];
  for (const history of await runHistories(client, workflowId)) {
    const open = new Map<string, { type: string; at: number; budgetMs?: number }>();
    for (const e of history.events ?? []) {
      const at = millis(e.eventTime);
      const a = e.activityTaskScheduledEventAttributes;
      if (a) {
        open.set(String(e.eventId), {
          type: a.activityType?.name ?? '?',
          at,
          budgetMs: durationMs(a.startToCloseTimeout),
        });
        continue;
      }
      const closed: [string | undefined, ActivityRun['outcome']][] = [
        [e.activityTaskCompletedEventAttributes?.scheduledEventId?.toString(), 'completed'],
        [e.activityTaskFailedEventAttributes?.scheduledEventId?.toString(), 'failed'],
        [e.activityTaskTimedOutEventAttributes?.scheduledEventId?.toString(), 'timed-out'],
        [e.activityTaskCanceledEventAttributes?.scheduledEventId?.toString(), 'canceled'],
      ];
      for (const [id, outcome] of closed) {
        const started = id ? open.get(id) : undefined;
        if (started) out.push({ type: started.type, tookMs: at - started.at, budgetMs: started.budgetMs, outcome });
      }
    }
  }
  return out;
}

/** "verifyTraffic 6.1 s of 2460 s budget, ..." for the activities that took longest (a report line, not asserted). */
export function formatTimings(timings: ActivityTiming[], top = 6): string {
  return [...timings]
    .sort((a, b) => b.tookMs - a.tookMs)
    .slice(0, top)
    .map(
      (t) => `${t.type} ${(t.tookMs / 1000).toFixed(1)} s${t.budgetMs ? ` of ${Math.round(t.budgetMs / 1000)} s` : ''}`,
    )
    .join(', ');
}

export interface AbortTrace {
  /** The abort signal's event time. */
  signalledAt: number;
  /** The activity running when the abort came, that it cancelled (none at a gate or a timer). */
  cancelled?: { type: string; requestedAfterMs: number; canceledAfterMs?: number };
  /** A timer the abort cancelled (a gate's timeout, the rollback window). */
  timerCanceled: boolean;
  /** The first activity scheduled after the abort: the first step of the compensation. */
  firstCompensation?: { type: string; afterMs: number };
  /** Event types after the signal, in order (for the order assertions). */
  after: string[];
}

/** What the history says happened after the (first) abort signal: the cancellation, then the compensation. */
export async function abortTrace(client: Client, workflowId: string): Promise<AbortTrace> {
  const histories = await runHistories(client, workflowId);
  const events = histories.flatMap((h) => h.events ?? []);
  const index = events.findIndex((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'abort');
  if (index < 0) throw new Error(`${workflowId} has no abort signal in its history`);
  const signalledAt = millis(events[index]?.eventTime);
  const types = new Map<string, string>();
  for (const e of events) {
    const a = e.activityTaskScheduledEventAttributes;
    if (a) types.set(String(e.eventId), a.activityType?.name ?? '?');
  }
  const trace: AbortTrace = { signalledAt, timerCanceled: false, after: [] };
  for (const e of events.slice(index + 1)) {
    const at = millis(e.eventTime) - signalledAt;
    const requested = e.activityTaskCancelRequestedEventAttributes;
    const canceled = e.activityTaskCanceledEventAttributes;
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (requested) {
      trace.after.push('ActivityTaskCancelRequested');
      trace.cancelled ??= { type: types.get(String(requested.scheduledEventId)) ?? '?', requestedAfterMs: at };
    } else if (canceled) {
      trace.after.push('ActivityTaskCanceled');
      if (trace.cancelled && trace.cancelled.canceledAfterMs === undefined) trace.cancelled.canceledAfterMs = at;
    } else if (e.timerCanceledEventAttributes) {
      trace.after.push('TimerCanceled');
      trace.timerCanceled = true;
    } else if (scheduled) {
      trace.after.push(`ActivityTaskScheduled ${scheduled.activityType?.name ?? '?'}`);
      trace.firstCompensation ??= { type: scheduled.activityType?.name ?? '?', afterMs: at };
    }
  }
  return trace;
}
