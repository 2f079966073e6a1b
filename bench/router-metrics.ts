/**
 * Benchmark: what the local router's Prometheus metrics cost per request (the figure docs/routers.md quotes).
 *
 * One request's metric work on the router's hot path is: look up the (module, backend) label children (cached),
 * begin and end the in-flight count, count the answer by status class, observe the duration in the histogram
 * (activities/drivers/local/router-metrics.ts). This times exactly those calls, in-process, for many requests spread
 * over a few modules and backends as a 90/10 canary would be, against a baseline loop in the same run that does the
 * same bookkeeping around no metric call (the loop, the route choice, the random duration). Reported: ns per request
 * above the baseline, median of the rounds.
 *
 * Run: `make build && node dist/bench/router-metrics.js` (BENCH_REQUESTS per round, default 2,000,000; BENCH_ROUNDS,
 * default 7; quick: BENCH_QUICK=1, 300,000 × 5).
 */
import { RouterMetrics } from '../activities/drivers/local/router-metrics';
import { percentile, printTable, round, writeResult } from './support/results';

const quick = process.env.BENCH_QUICK === '1';
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? (quick ? 300_000 : 2_000_000));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (quick ? 5 : 7));
const MODULES = ['Catalog', 'Cart', 'Checkout'];
const BACKENDS = ['shop-1-blue', 'shop-2-green'];
const STATUSES = [200, 200, 200, 200, 200, 200, 200, 200, 304, 503];

/** A deterministic stream of (module, backend, status, seconds): the same for both loops. */
function* requests(n: number): Generator<[string, string, number, number]> {
  let seed = 42;
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const backend = BACKENDS[seed % 10 === 0 ? 1 : 0] as string;
    yield [
      MODULES[i % MODULES.length] as string,
      backend,
      STATUSES[i % STATUSES.length] as number,
      (seed % 5000) / 1e5,
    ];
  }
}

function baseline(n: number): number {
  let sink = 0;
  const started = process.hrtime.bigint();
  for (const [module, backend, status, seconds] of requests(n))
    sink += module.length + backend.length + status + seconds;
  const ns = Number(process.hrtime.bigint() - started);
  if (sink < 0) process.stdout.write('');
  return ns / n;
}

function withMetrics(metrics: RouterMetrics, n: number): number {
  const started = process.hrtime.bigint();
  for (const [module, backend, status, seconds] of requests(n)) {
    const route = metrics.route(module, backend);
    route.beginInFlight();
    route.answered(status);
    route.finished(seconds);
    route.endInFlight();
  }
  return Number(process.hrtime.bigint() - started) / n;
}

async function main(): Promise<void> {
  const metrics = new RouterMetrics();
  withMetrics(metrics, 50_000); // warm-up: JIT, and every label child created
  baseline(50_000);
  const rounds: { baselineNs: number; metricsNs: number }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate the order so that neither loop always runs on a warmer machine.
    const a = r % 2 === 0 ? baseline(REQUESTS) : withMetrics(metrics, REQUESTS);
    const b = r % 2 === 0 ? withMetrics(metrics, REQUESTS) : baseline(REQUESTS);
    rounds.push(r % 2 === 0 ? { baselineNs: a, metricsNs: b } : { baselineNs: b, metricsNs: a });
  }
  const exposition = await metrics.exposition();
  const median = (xs: number[]) => percentile(xs, 0.5);
  const base = median(rounds.map((x) => x.baselineNs));
  const subject = median(rounds.map((x) => x.metricsNs));
  const costs = rounds.map((x) => x.metricsNs - x.baselineNs);
  printTable(
    ['loop', 'ns per request (median of rounds)', 'min', 'max'],
    [
      [
        'baseline (no metric call)',
        round(base),
        round(Math.min(...rounds.map((x) => x.baselineNs))),
        round(Math.max(...rounds.map((x) => x.baselineNs))),
      ],
      [
        'router metrics',
        round(subject),
        round(Math.min(...rounds.map((x) => x.metricsNs))),
        round(Math.max(...rounds.map((x) => x.metricsNs))),
      ],
      ['cost of the metrics', round(median(costs)), round(Math.min(...costs)), round(Math.max(...costs))],
    ],
  );
  process.stdout.write(
    `${ROUNDS} rounds of ${REQUESTS.toLocaleString('en')} requests over ${MODULES.length} modules × ${BACKENDS.length} backends; ` +
      `exposition ${exposition.body.length.toLocaleString('en')} bytes\n`,
  );
  writeResult('router-metrics', `node dist/bench/router-metrics.js${quick ? ' (BENCH_QUICK=1)' : ''}`, {
    requestsPerRound: REQUESTS,
    rounds,
    baselineNsPerRequest: round(base),
    metricsNsPerRequest: round(subject),
    costNsPerRequest: round(median(costs)),
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
