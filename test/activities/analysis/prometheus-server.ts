/**
 * What the analysis provider's tests serve to the real Prometheus (test/support/prometheus.ts starts it): an
 * exporter in Prometheus's text format whose counters grow by a fixed step at every scrape (so rate() ratios are
 * exact), and a poll helper.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

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

/** Polls `check` every 200 ms until it is true; fails naming `what` after `ms`. */
export async function waitFor(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}
