/**
 * The split a canary weight really gives, measured: one module between two tiny backends that answer with their
 * name, through the local router (a real router-main process) and through a real nginx (split_clients on
 * $request_id), at canary weights 10, 25 and 50. Thousands of requests per weight from one client at concurrency 16
 * (one client: a split keyed on the client address would send it all to one side); the canary's measured share
 * must be within 3 percentage points of its weight. Prints one line per router and weight.
 */
import * as path from 'node:path';
import { newLocalRouterDriver } from '../../activities/drivers/local';
import { newNginxDriver } from '../../activities/drivers/nginx';
import type { Router } from '../../activities/ports';
import type { RunningRouter } from '../activities/drivers/local-support';
import { startRouterProcess, tempDir } from '../activities/drivers/local-support';
import { sendRequests, startNamedServer } from '../activities/drivers/named-servers';
import type { NamedServer } from '../activities/drivers/named-servers';
import { startNginx } from '../support/nginx';
import type { NginxServer } from '../support/nginx';

jest.setTimeout(240_000);

const WEIGHTS = [10, 25, 50];
/**
 * Requests per weight. The canary's share of n draws at p has a standard deviation of sqrt(p(1-p)/n): at n = 4,000
 * and p = 0.5 that is 0.79 points, so ±3 points is 3.8 standard deviations (a false failure about once in 7,000
 * runs per weight); at p = 0.25, 4.4; at p = 0.1, 6.3.
 */
const REQUESTS = 4_000;
const TOLERANCE_POINTS = 3;

const dir = tempDir('canary-split');
let platformServer: NamedServer;
let stable: NamedServer;
let canary: NamedServer;
let localRouter: RunningRouter;
let nginx: NginxServer;

/** The local router's own count of answers per backend (GET /stats). */
async function routerCounts(): Promise<Record<string, number>> {
  const { backends } = (await (await fetch(`${localRouter.adminUrl}/stats`)).json()) as {
    backends: Record<string, { requests: number }>;
  };
  return Object.fromEntries(Object.entries(backends).map(([backend, { requests }]) => [backend, requests]));
}

const routers: {
  name: string;
  publicUrl: () => string;
  driver: () => Router;
  /** The router's own answers per backend, when it counts them. */
  counts?: () => Promise<Record<string, number>>;
}[] = [
  {
    name: 'the local router',
    publicUrl: () => localRouter.publicUrl,
    driver: () => newLocalRouterDriver({ adminUrl: localRouter.adminUrl, publicUrl: localRouter.publicUrl }),
    counts: routerCounts,
  },
  { name: 'nginx', publicUrl: () => nginx.url, driver: () => newNginxDriver(nginx.routerConfig()) },
];

beforeAll(async () => {
  [platformServer, stable, canary] = await Promise.all([
    startNamedServer('platform'),
    startNamedServer('stable'),
    startNamedServer('canary'),
  ]);
  [localRouter, nginx] = await Promise.all([
    startRouterProcess({
      stateFile: path.join(dir, 'router-rules.json'),
      defaultTarget: platformServer.url,
      logFile: path.join(dir, 'router.log'),
    }),
    startNginx({ platformServer: platformServer.url, dir: path.join(dir, 'nginx') }),
  ]);
});

afterAll(async () => {
  await Promise.all([localRouter?.stop(), nginx?.stop()]);
  await Promise.all([platformServer, stable, canary].map((server) => server?.stop()));
});

describe.each(routers)('through $name', ({ name, publicUrl, driver, counts }) => {
  beforeAll(async () => {
    const router = driver();
    await router.ensureBackend('stable', [stable.url]);
    await router.ensureBackend('canary', [canary.url]);
  });

  test.each(WEIGHTS)(
    `a canary at weight %i gets that share of ${REQUESTS} requests, within ±3 points`,
    async (weight) => {
      // Given
      await driver().setModuleRule('Shop', [
        { backend: 'stable', weight: 100 - weight },
        { backend: 'canary', weight },
      ]);

      // When
      const before = await counts?.();
      const answers = await sendRequests(`${publicUrl()}/Shop/page`, REQUESTS, { concurrency: 16 });

      // Then
      const toCanary = answers.byBody.get('canary') ?? 0;
      const toStable = answers.byBody.get('stable') ?? 0;
      const share = (100 * toCanary) / REQUESTS;
      process.stdout.write(
        `canary split, ${name}: weight ${weight}% -> measured ${share.toFixed(2)}% ` +
          `(canary ${toCanary}, stable ${toStable} of ${REQUESTS})\n`,
      );
      expect(answers.byStatus).toEqual(new Map([[200, REQUESTS]]));
      expect(toCanary + toStable).toBe(REQUESTS);
      expect(Math.abs(share - weight)).toBeLessThanOrEqual(TOLERANCE_POINTS);
      // And: the router's own count of the split (GET /stats, no Prometheus needed) is what the client saw.
      if (counts && before) {
        const after = await counts();
        const delta = (backend: string) => (after[backend] ?? 0) - (before[backend] ?? 0);
        expect({ canary: delta('canary'), stable: delta('stable') }).toEqual({ canary: toCanary, stable: toStable });
      }
    },
  );
});
