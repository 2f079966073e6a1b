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
 * Outside a worker (an activity function called directly by a unit test) there is no context: no heartbeat is sent.
 */
import { Context } from '@temporalio/activity';
import { classifyError } from './errors';

/** How often a running activity says it is alive: well inside every workflow preset's heartbeat timeout (15 s). */
export const LIVENESS_INTERVAL_MS = 2_000;

export interface Progress<D> {
  /** The details the previous attempt last reported (undefined on a first attempt): where a retry resumes. */
  readonly resumed: D | undefined;
  /** Records the latest progress and heartbeats it now; the liveness heartbeat repeats it until the next report. */
  report(details: D): void;
  /** Sleeps, ending early with a CancelledFailure when the activity is cancelled (an abort reaches it here). */
  sleep(ms: number): Promise<void>;
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
  };
  const liveness = ctx ? setInterval(() => ctx.heartbeat(latest), LIVENESS_INTERVAL_MS) : undefined;
  try {
    return await body(progress);
  } catch (err) {
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
