/**
 * A real Prometheus for the tests (Debian package, installed by `scripts/provision.sh --with prometheus`): a
 * temporary config that scrapes the given targets every second, its own TSDB in a temp dir, a free loopback port.
 * `query()` is Prometheus' HTTP API (`/api/v1/query`), answered as instant-vector samples.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnServer } from './server-process';
import { freePort } from './temporal';

const INSTALL_HINT = 'run `bash scripts/provision.sh --with prometheus`, or set PROMETHEUS_BIN';

/** The prometheus binary: PROMETHEUS_BIN, else the Debian path, else `prometheus` on PATH; a clear error if none. */
export function prometheusBin(): string {
  const candidates = [
    ...(process.env.PROMETHEUS_BIN ? [process.env.PROMETHEUS_BIN] : []),
    '/usr/bin/prometheus',
    ...(process.env.PATH ?? '').split(':').map((d) => path.join(d, 'prometheus')),
  ];
  const found = candidates.find((file) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!found) throw new Error(`prometheus is not installed: ${INSTALL_HINT}`);
  return found;
}

/** One sample of an instant vector. */
export interface Sample {
  metric: Record<string, string>;
  value: number;
}

export interface PrometheusServer {
  url: string;
  dir: string;
  child: ChildProcess;
  /** An instant query; throws with Prometheus' own error for a bad query. */
  query(promql: string): Promise<Sample[]>;
  /** Resolves once every target has been scraped successfully after this call was made (`up` advanced). */
  waitForScrape(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface ApiAnswer {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

/**
 * Starts Prometheus scraping `targets` ("host:port", path /metrics) every second, and waits for /-/ready.
 * `dir` (default: a new temp dir) holds the config, the TSDB and prometheus.log; stop() removes it if it made it.
 */
export async function startPrometheus(opts: { targets: string[]; dir?: string }): Promise<PrometheusServer> {
  const bin = prometheusBin();
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-prometheus-'));
  fs.mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'prometheus.yml');
  const logFile = path.join(dir, 'prometheus.log');
  // JSON is YAML: no formatter needed.
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    scrape_configs: [{ job_name: 'cutover', metrics_path: '/metrics', static_configs: [{ targets: opts.targets }] }],
  };
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { child, stop } = spawnServer(
    bin,
    [
      `--config.file=${configFile}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      '--log.level=warn',
    ],
    logFile,
    () => ownDir && fs.rmSync(dir, { recursive: true, force: true }),
  );

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      const why = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-2_000) : '';
      await stop();
      throw new Error(`prometheus (${bin}) did not become ready at ${url}/-/ready:\n${why}`);
    }
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }

  const query = async (promql: string): Promise<Sample[]> => {
    const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: promql }).toString()}`, {
      signal: AbortSignal.timeout(10_000),
    });
    const answer = (await res.json()) as ApiAnswer;
    if (answer.status !== 'success' || !answer.data) {
      throw new Error(`prometheus refused the query ${promql}: ${answer.error ?? res.status}`);
    }
    if (answer.data.resultType !== 'vector') {
      throw new Error(`expected an instant vector from ${promql}, got a ${answer.data.resultType}`);
    }
    return answer.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  };

  /**
   * The newest successful scrape time of every target. `timestamp()` must be given the selector itself: of any other
   * expression (`up == 1`) it answers the evaluation time, not the sample's.
   */
  const scrapedAt = async (): Promise<number[]> => {
    const up = new Set((await query('up == 1')).map((s) => s.metric.instance));
    return (await query('timestamp(up)')).filter((s) => up.has(s.metric.instance)).map((s) => s.value);
  };

  return {
    url,
    dir,
    child,
    query,
    waitForScrape: async (timeoutMs = 15_000) => {
      const since = Date.now() / 1000;
      const until = Date.now() + timeoutMs;
      for (;;) {
        const times = await scrapedAt();
        if (times.length === opts.targets.length && times.every((t) => t > since)) return;
        if (Date.now() > until) {
          const targets = await (await fetch(`${url}/api/v1/targets`)).json();
          throw new Error(`prometheus did not scrape ${opts.targets.join(', ')} in time: ${JSON.stringify(targets)}`);
        }
        await sleep(200);
      }
    },
    stop,
  };
}
