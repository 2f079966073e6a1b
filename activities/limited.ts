/** Bounded concurrency for activities that work on lists (replicas, modules). */
import { LAUNCH_CONCURRENCY } from '../workflows/budgets';
import type { Platform } from './ports';

/**
 * How many per-replica calls an activity has in flight at once against a platform: the platform's own hint, else
 * LAUNCH_CONCURRENCY. The workflow budgets its timeouts by LAUNCH_CONCURRENCY, so a platform's larger hint only
 * finishes sooner.
 */
export function lanes(platform: Pick<Platform, 'concurrency'>): number {
  return platform.concurrency ?? LAUNCH_CONCURRENCY;
}

/** Runs `work` over `items`, at most `limit` at a time; waits for all, then throws the first failure. */
export async function eachLimited<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  const failures: unknown[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = await work(items[i] as T);
      } catch (err) {
        failures.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, lane));
  if (failures.length) throw failures[0];
  return results;
}
