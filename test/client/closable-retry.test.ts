/**
 * The close-safe gRPC retry: no retry is scheduled once closing began, and drain() resolves only after the retries
 * already scheduled have fired (so none fires on a shut-down channel).
 */
import type { GrpcRetryOptions } from '@temporalio/client';
import { closableRetry } from '../../client/closable-retry';

type StatusObject = Parameters<GrpcRetryOptions['retryableDecider']>[1];
/** gRPC status codes (UNAVAILABLE = 14, NOT_FOUND = 5); the SDK's decision reads only code and details. */
const unavailable = { code: 14, details: 'connection refused' } as StatusObject;
const notFound = { code: 5, details: 'no such workflow' } as StatusObject;

/** What the SDK's interceptor does with a failed call: ask, then set a timer with the delay. */
function sdkOnFailure(
  retry: ReturnType<typeof closableRetry>,
  attempt: number,
  status: StatusObject,
  fire: () => void,
) {
  if (!retry.options.retryableDecider(attempt, status)) return false;
  setTimeout(fire, retry.options.delayFunction(attempt, status));
  return true;
}

describe('closableRetry', () => {
  it('keeps the SDK decisions while open: UNAVAILABLE retries, NOT_FOUND does not', () => {
    const retry = closableRetry();
    expect(retry.options.retryableDecider(1, unavailable)).toBe(true);
    expect(retry.options.retryableDecider(1, notFound)).toBe(false);
    expect(retry.options.delayFunction(1, unavailable)).toBeGreaterThan(0);
  });

  it('drain() waits for every retry already scheduled to fire, then refuses new ones', async () => {
    const retry = closableRetry();
    const fired: number[] = [];
    // Attempts 3 and 4 back off for several hundred milliseconds each.
    expect(sdkOnFailure(retry, 3, unavailable, () => fired.push(3))).toBe(true);
    expect(sdkOnFailure(retry, 4, unavailable, () => fired.push(4))).toBe(true);
    expect(fired).toEqual([]);

    await retry.drain();

    expect(fired.sort()).toEqual([3, 4]);
    expect(retry.options.retryableDecider(1, unavailable)).toBe(false);
  });

  it('drain() with nothing scheduled resolves and still refuses later retries', async () => {
    const retry = closableRetry();
    await retry.drain();
    expect(sdkOnFailure(retry, 1, unavailable, () => undefined)).toBe(false);
  });
});
