/**
 * verifyTraffic over a router whose pages are slow (200 ms per request, as in issue 15): the modules are verified
 * concurrently within the bound, the activity heartbeats with every answer (so 20 modules x 5 requests never go
 * 15 s without a heartbeat, which is what made every attempt time out before), a module that never answers from the
 * new version says what answered, and a cancellation (an abort) stops it without starting another request.
 */
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { Drivers } from '../../activities/drivers';
import type { Router, VerifyOptions } from '../../activities/ports';
import { VERIFY_CONCURRENCY } from '../../workflows/budgets';
import type { RouterConfig } from '../../workflows/spec';
import type { ModuleVerification } from '../../workflows/types';

const routerConfig: RouterConfig = { kind: 'local', adminUrl: 'http://127.0.0.1:1', publicUrl: 'http://127.0.0.1:2' };
const PAGE_MS = 200;

/** A router whose every request takes PAGE_MS and answers `versionOf(module)`; counts requests and concurrency. */
function slowRouter(versionOf: (module: string) => string) {
  const counts = { requests: 0, active: 0, maxActive: 0 };
  const router = {
    type: 'fake',
    async verify(module: string, expected: string, options: VerifyOptions = {}) {
      counts.active++;
      counts.maxActive = Math.max(counts.maxActive, counts.active);
      try {
        const requests = options.requests ?? 5;
        let matching = 0;
        for (let i = 0; i < requests; i++) {
          options.signal?.throwIfAborted();
          counts.requests++;
          await new Promise((resolve) => setTimeout(resolve, PAGE_MS));
          const version = versionOf(module);
          if (version === expected) matching++;
          options.onAnswer?.(`version ${version} (backend fake)`);
        }
        return matching === requests
          ? { status: 'verified' as const, detail: `${module}: ${requests}/${requests}` }
          : {
              status: 'not-verified' as const,
              detail: `${module}: expected ${expected}, got ${requests}x ${versionOf(module)}`,
            };
      } finally {
        counts.active--;
      }
    },
  } as unknown as Router;
  const drivers = { router: () => router, platform: () => undefined } as unknown as Drivers;
  return { counts, activities: createActivities(drivers) };
}

const modules = Array.from({ length: 20 }, (_, i) => `Module${i}`);

describe('verifyTraffic', () => {
  test('20 modules at 200 ms per page: verified concurrently (at most 8 at once), a heartbeat with every answer', async () => {
    const { counts, activities } = slowRouter(() => '2.0.0');
    const env = new MockActivityEnvironment();
    const answersHeartbeated = new Set<number>();
    env.on('heartbeat', (d: unknown) => {
      const answers = (d as { answers?: number } | undefined)?.answers;
      if (answers !== undefined) answersHeartbeated.add(answers);
    });

    const results: ModuleVerification[] = await env.run(activities.verifyTraffic, {
      router: routerConfig,
      modules,
      version: '2.0.0',
      attempts: 10,
      intervalMs: 1000,
    });

    expect(results.map((r) => r.result.status)).toEqual(modules.map(() => 'verified'));
    expect(counts.requests).toBe(100);
    expect(counts.maxActive).toBe(VERIFY_CONCURRENCY);
    // Every one of the 100 answers was reported as progress (each is a heartbeat; the SDK throttles what it sends).
    expect(answersHeartbeated.size).toBe(100);
  });

  test('a module that never answers from the new version is not verified, and says what answered', async () => {
    const { counts, activities } = slowRouter((m) => (m === 'Module7' ? '1.0.0' : '2.0.0'));

    const results: ModuleVerification[] = await new MockActivityEnvironment().run(activities.verifyTraffic, {
      router: routerConfig,
      modules,
      version: '2.0.0',
      attempts: 2,
      intervalMs: 10,
    });

    const failed = results.filter((r) => r.result.status === 'not-verified');
    expect(failed).toEqual([
      { module: 'Module7', result: { status: 'not-verified', detail: 'Module7: expected 2.0.0, got 5x 1.0.0' } },
    ]);
    expect(counts.requests).toBe(105); // 19 x 5, and Module7 twice
  });

  test('cancelled (an abort) mid-way: ends cancelled, and no request starts after', async () => {
    const { counts, activities } = slowRouter(() => '2.0.0');
    const env = new MockActivityEnvironment();
    const running = env.run(activities.verifyTraffic, {
      router: routerConfig,
      modules,
      version: '2.0.0',
      attempts: 10,
      intervalMs: 1000,
    });
    await new Promise((resolve) => setTimeout(resolve, PAGE_MS * 2 + 50));
    env.cancel();
    const startedAtCancel = counts.requests;

    await expect(running).rejects.toBeInstanceOf(CancelledFailure);
    // The requests in flight at the cancel finished (at most one per module being verified); none started after.
    expect(counts.requests).toBe(startedAtCancel);
    expect(counts.requests).toBeLessThan(100);
  });
});
