/** Helpers the platform drivers share. */
import { eachLimited } from '../limited';

/**
 * Waits for every promise, then throws the first failure (so no launch or deletion is left running unobserved).
 * With several promises, the error says how many of `what` failed.
 */
export async function settleAll<T>(what: string, promises: Promise<T>[]): Promise<T[]> {
  return settled(what, await Promise.allSettled(promises));
}

/** As settleAll, over `items` with at most `limit` calls of `work` in flight at once. */
export async function settleLimited<T, R>(
  what: string,
  items: T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = await eachLimited(items, limit, (item): Promise<PromiseSettledResult<R>> =>
    work(item).then(
      (value) => ({ status: 'fulfilled', value }),
      (reason: unknown) => ({ status: 'rejected', reason }),
    ),
  );
  return settled(what, results);
}

function settled<T>(what: string, results: PromiseSettledResult<T>[]): T[] {
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  const first = failures[0];
  if (first) {
    const error = first.reason as Error;
    if (results.length > 1 && typeof error === 'object' && error !== null) {
      error.message = `${failures.length}/${results.length} ${what} failed; first: ${error.message}`;
    }
    throw error;
  }
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
