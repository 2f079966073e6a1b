/**
 * The one wrapper every activity body runs in:
 *
 * - **Errors**: a driver error with a stable name (activities/errors.ts) leaves the activity as a non-retryable
 *   failure of that type; anything else is retried with backoff.
 * - **Liveness**: while the body runs, a heartbeat goes out every couple of seconds carrying the body's latest
 *   progress, so a worker that dies (SIGKILL, a lost machine) is noticed within the activity's heartbeat timeout and
 *   the activity is retried elsewhere, instead of at its start-to-close timeout (minutes). A body that reports
 *   progress (`progress.report`) heartbeats at once; a retried attempt reads where the last one was from
 *   `progress.resumed`. Bodies never call `Context.heartbeat` themselves: a second heartbeat source would overwrite
 *   the progress details with older ones.
 *
 * - **Cancellation**: an abort reaches a running activity in the answer to its next heartbeat, so within about
 *   LIVENESS_INTERVAL_MS (the worker's heartbeat throttle is as short: worker/index.ts). Bodies pass
 *   `progress.signal` to every wait and request, so they stop at once; whatever a body throws once cancelled leaves
 *   the activity as cancelled (not as a failure to retry), so the workflow sees the abort for what it is.
 *
 * Outside a worker (an activity function called directly by a unit test) there is no context: no heartbeat is sent.
 */
import { Context } from '@temporalio/activity';
import { classifyError } from './errors';

/**
 * How often a running activity says it is alive: well inside every workflow preset's heartbeat timeout (15 s), and
 * often enough that a cancellation (an abort) reaches it within about a second.
 */
export const LIVENESS_INTERVAL_MS = 1_000;

export interface Progress<D> {
  /** The details the previous attempt last reported (undefined on a first attempt): where a retry resumes. */
  readonly resumed: D | undefined;
  /** Records the latest progress and heartbeats it now; the liveness heartbeat repeats it until the next report. */
  report(details: D): void;
  /** Sleeps, ending early with a CancelledFailure when the activity is cancelled (an abort reaches it here). */
  sleep(ms: number): Promise<void>;
  /** Aborted when the activity is cancelled (its reason is the CancelledFailure): pass it to waits and requests. */
  readonly signal: AbortSignal;
}

export async function activity<T, D = unknown>(body: (progress: Progress<D>) => Promise<T>): Promise<T> {
  const ctx = currentContext();
  let latest = ctx?.info.heartbeatDetails as D | undefined;
  const progress: Progress<D> = {
    resumed: latest,
    report(details) {
      latest = details;
      ctx?.heartbeat(latest);
    },
    sleep: (ms) => (ctx ? ctx.sleep(ms) : new Promise((resolve) => setTimeout(resolve, ms))),
    signal: ctx?.cancellationSignal ?? new AbortController().signal,
  };
  const liveness = ctx ? setInterval(() => ctx.heartbeat(latest), LIVENESS_INTERVAL_MS) : undefined;
  try {
    return await body(progress);
  } catch (err) {
    // Cancelled: whatever the body threw on the way out (an AbortError, a wrapped one), the activity was cancelled.
    if (ctx?.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
    throw classifyError(err);
  } finally {
    clearInterval(liveness);
  }
}

function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined; // not running as an activity
  }
}
