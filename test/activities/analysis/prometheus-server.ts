/**
 * A real Prometheus (the Debian package's /usr/bin/prometheus, or PROMETHEUS_BIN) for the analysis provider's
 * tests: started on a free loopback port with a temporary config and TSDB directory, scraping one target every
 * second, and an exporter the test serves in Prometheus's text format whose counters grow by a fixed step at every
 * scrape (so rate() ratios are exact).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../../support/temporal';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The Prometheus binary, or an error saying how to install it (these tests never skip). */
export function prometheusBin(): string {
  const bin = process.env['PROMETHEUS_BIN'] ?? '/usr/bin/prometheus';
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch {
    throw new Error(
      `Prometheus is not installed (${bin} is not an executable file): install it with ` +
        '`apt-get install -y --no-install-recommends prometheus`, or set PROMETHEUS_BIN to a prometheus binary',
    );
  }
  return bin;
}

/** One counter series: `name{labels} value`, growing by `step` at every scrape. */
export interface CounterSeries {
  name: string;
  labels: Record<string, string>;
  step: number;
}

export interface Exporter {
  url: string;
  /** Scrapes answered so far. */
  scrapes(): number;
  close(): Promise<void>;
}

export async function startExporter(series: CounterSeries[]): Promise<Exporter> {
  const values = series.map(() => 0);
  let scrapes = 0;
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    scrapes++;
    series.forEach((s, i) => (values[i] = (values[i] ?? 0) + s.step));
    const names = [...new Set(series.map((s) => s.name))];
    const lines = names.flatMap((name) => [
      `# TYPE ${name} counter`,
      ...series.flatMap((s, i) => {
        if (s.name !== name) return [];
        const labels = Object.entries(s.labels)
          .map(([k, v]) => `${k}="${v}"`)
          .join(',');
        return [`${name}{${labels}} ${values[i]}`];
      }),
    ]);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`${lines.join('\n')}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    scrapes: () => scrapes,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface PrometheusServer {
  address: string;
  /** An instant query's result list (vector), for waiting on data in a test. */
  vector(query: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  stop(): Promise<void>;
}

/** Starts Prometheus scraping `target` (host:port) every second; resolves once it is ready. */
export async function startPrometheus(target: string): Promise<PrometheusServer> {
  const bin = prometheusBin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-prometheus-'));
  const config = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: exporter',
      '    static_configs:',
      `      - targets: ['${target}']`,
      '',
    ].join('\n'),
  );
  const logFile = path.join(dir, 'prometheus.log');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const log = fs.openSync(logFile, 'a');
    const child: ChildProcess = spawn(
      bin,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', log, log] },
    );
    fs.closeSync(log);
    const address = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    let ready = false;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        const res = await fetch(`${address}/-/ready`, { signal: AbortSignal.timeout(1_000) });
        await res.arrayBuffer();
        if (res.ok) {
          ready = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    if (ready) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      return {
        address,
        vector: async (query) => {
          const res = await fetch(`${address}/api/v1/query?${new URLSearchParams({ query }).toString()}`);
          const body = (await res.json()) as { data?: { result?: [] } };
          return body.data?.result ?? [];
        },
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(timer);
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    child.kill('SIGKILL');
    if (attempt >= 3) {
      throw new Error(`prometheus did not start; log ${logFile}:\n${fs.readFileSync(logFile, 'utf8')}`);
    }
  }
}

/** Polls `check` every 200 ms until it is true; fails naming `what` after `ms`. */
export async function waitFor(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}
