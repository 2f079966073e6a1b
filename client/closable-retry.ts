/**
 * The SDK's gRPC retry, made safe to close under.
 *
 * @temporalio/client retries a failed call (UNAVAILABLE, RESOURCE_EXHAUSTED, ...) from a timer. If the connection
 * is closed while such a retry waits, the timer fires on a shut-down channel and grpc-js throws "Channel has been
 * shut down" from it: an uncaught exception that ends a CLI, a hook server stopping, or (as seen in CI) a test run.
 *
 * This keeps the SDK's own backoff and retryable codes, and adds two things: once closing has begun no new retry
 * is scheduled (the call fails with its status instead), and `drain()` waits for the retries already scheduled to
 * fire on the still-open channel before the caller closes it.
 */
import { defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { GrpcRetryOptions } from '@temporalio/client';

export interface ClosableRetry {
  /** Goes in Connection.connect({ interceptors: [...] }) in place of the SDK's default retry interceptor. */
  readonly interceptor: ReturnType<typeof makeGrpcRetryInterceptor>;
  /** The retry options the interceptor consults (exposed for tests). */
  readonly options: GrpcRetryOptions;
  /** Stops further retries and resolves once every retry already scheduled has fired. */
  drain(): Promise<void>;
}

/** Margin after the last scheduled retry fires, so its call is under way before the channel closes. */
const DRAIN_MARGIN_MS = 50;

export function closableRetry(base: GrpcRetryOptions = defaultGrpcRetryOptions()): ClosableRetry {
  let closing = false;
  let lastRetryAt = 0;
  const options: GrpcRetryOptions = {
    // The SDK asks this first, then (only when it says yes) asks for the delay and sets its timer.
    retryableDecider: (attempt, status) => !closing && base.retryableDecider(attempt, status),
    delayFunction: (attempt, status) => {
      const delay = base.delayFunction(attempt, status);
      lastRetryAt = Math.max(lastRetryAt, Date.now() + delay);
      return delay;
    },
  };
  return {
    interceptor: makeGrpcRetryInterceptor(options),
    options,
    async drain() {
      closing = true;
      const wait = lastRetryAt - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait + DRAIN_MARGIN_MS));
    },
  };
}
