/** Helpers the platform drivers share. */

/**
 * Waits for every promise, then throws the first failure (so no launch or deletion is left running unobserved).
 * With several promises, the error says how many of `what` failed.
 */
export async function settleAll<T>(what: string, promises: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  const first = failures[0];
  if (first) {
    const error = first.reason as Error;
    if (promises.length > 1 && typeof error === 'object' && error !== null) {
      error.message = `${failures.length}/${promises.length} ${what} failed; first: ${error.message}`;
    }
    throw error;
  }
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
