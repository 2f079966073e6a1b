/**
 * The chaos soak (`make soak`, not part of `make test`): many deployments of both strategies, each with the worker
 * SIGKILLed at a random point (test/support/chaos.ts) and, in some, the Temporal server (file-backed, this soak's
 * own) restarted while the deployment has no worker. Prints deployments, kills by point, server restarts, requests
 * sent and failed and invariant violations; fails if any request failed or any invariant was violated.
 *
 *   SOAK_ROUNDS   deployments (default 30)      SOAK_SEED   the random choices (default: printed)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { judgeLoad } from '../../examples/load';
import { givenLiveV1, killDuringUpgrade, randomPoint, seededRandom } from '../support/chaos';
import type { Strategy } from '../support/chaos';
import { createFixture } from '../support/local-fixture';
import { startDevServer } from '../support/temporal';
import type { DevServer } from '../support/temporal';

const rounds = Number(process.env['SOAK_ROUNDS'] ?? 30);
const seed = Number(process.env['SOAK_SEED'] ?? Date.now() % 1_000_000);

test(
  `chaos soak: ${rounds} deployments (SOAK_SEED=${seed})`,
  async () => {
    const random = seededRandom(seed);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-soak-'));
    let server: DevServer = await startDevServer({ dbFilename: path.join(dataDir, 'temporal.db') });
    const tally = {
      deployments: 0,
      succeeded: 0,
      kills: {} as Record<string, number>,
      restarts: 0,
      sent: 0,
      failed: 0,
      violations: [] as string[],
    };
    const restart = async () => {
      const port = Number(server.address.split(':').pop());
      const uiPort = Number(new URL(server.uiUrl).port);
      await server.stop({ keepData: true });
      server = await startDevServer({ port, uiPort, dbFilename: server.dbFilename });
      tally.restarts++;
    };
    try {
      for (let round = 1; round <= rounds; round++) {
        const strategy: Strategy = random() < 0.5 ? 'blue-green' : 'rolling';
        const point = randomPoint(random, strategy);
        const withRestart = random() < 0.25;
        const f = await createFixture('soak', ['Catalog', 'Cart'], { temporalAddress: server.address });
        try {
          await givenLiveV1(f, strategy);
          const run = await killDuringUpgrade(f, strategy, point, withRestart ? restart : undefined);
          const verdict = judgeLoad(run.report, {
            versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['2.0.0'] },
          });
          tally.deployments++;
          if (run.result.outcome === 'succeeded') tally.succeeded++;
          else tally.violations.push(`round ${round}: ${run.result.outcome}: ${run.result.reason}`);
          const key = `${strategy} ${point.plan.activity} ${point.plan.when}`;
          tally.kills[key] = (tally.kills[key] ?? 0) + 1;
          tally.sent += run.report.sent;
          tally.failed += run.report.failed;
          tally.violations.push(
            ...[...run.invariants.violations, ...verdict.problems].map((v) => `round ${round}: ${v}`),
          );
          process.stdout.write(
            `round ${round}/${rounds}: ${strategy}, killed ${point.name}${withRestart ? ', server restarted' : ''}: ` +
              `${run.result.outcome}, ${run.report.sent} requests, ${run.report.failed} failed, ` +
              `${run.invariants.violations.length + verdict.problems.length} violations\n`,
          );
        } finally {
          await f.close();
        }
      }
    } finally {
      await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
    process.stdout.write(
      [
        `soak (seed ${seed}): ${tally.deployments} deployments, ${tally.succeeded} succeeded`,
        `kills by point: ${Object.entries(tally.kills)
          .sort()
          .map(([k, n]) => `${k} x${n}`)
          .join('; ')}`,
        `Temporal server restarts: ${tally.restarts}`,
        `requests: ${tally.sent} sent, ${tally.failed} failed`,
        `invariant violations: ${tally.violations.length}`,
        ...tally.violations,
      ].join('\n') + '\n',
    );
    expect(tally.violations).toEqual([]);
    expect(tally.failed).toBe(0);
    expect(tally.deployments).toBe(rounds);
  },
  24 * 3_600_000,
);
