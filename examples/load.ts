/**
 * A load generator for tests and the demo, on autocannon: GETs `paths` in turn
 * over `connections` keep-alive connections until stopped (or `maxDurationMs`
 * passes), and counts every outcome, including the ones autocannon itself does
 * not report as errors (a connection closed before its response arrived).
 */
import type { IncomingHttpHeaders } from 'node:http';
import autocannon from 'autocannon';

export interface LoadOptions {
  /** Base URL, e.g. the router's public URL. */
  url: string;
  /** Request paths, sent in turn by every connection. */
  paths: string[];
  connections?: number;
  headers?: Record<string, string>;
  /** Hard stop even if stop() is never called (default 10 min). */
  maxDurationMs?: number;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
}

export interface LoadReport {
  /** Requests with an outcome: ok + failed. */
  sent: number;
  /** 2xx answers. */
  ok: number;
  /** Connection errors + timeouts + non-2xx + requests dropped without an answer. */
  failed: number;
  /** 2xx answers by their `x-cutover-version` header ("(none)" when absent). */
  byVersion: Record<string, number>;
  /** Failures by kind: "HTTP 502", "ECONNREFUSED", "timeout", "dropped"... */
  errors: Record<string, number>;
  /** Requests still waiting for an answer when the load stopped (neither ok nor failed). */
  unfinished: number;
  durationMs: number;
}

export interface Load {
  stop(): Promise<LoadReport>;
}

function headerValue(headers: IncomingHttpHeaders | undefined, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (key.toLowerCase() === name && value !== undefined) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

export function startLoad(options: LoadOptions): Load {
  const started = Date.now();
  const report: LoadReport = { sent: 0, ok: 0, failed: 0, byVersion: {}, errors: {}, unfinished: 0, durationMs: 0 };
  const fail = (kind: string, n = 1): void => {
    if (n <= 0) return;
    report.failed += n;
    report.sent += n;
    report.errors[kind] = (report.errors[kind] ?? 0) + n;
  };
  /** Requests written and not yet answered, per client (autocannon pipelining is 1). */
  const pending = new Map<object, number>();

  const onResponse = (
    status: number,
    _body: string,
    _context: object,
    headers: IncomingHttpHeaders | undefined,
  ): void => {
    if (status >= 200 && status < 300) {
      const version = headerValue(headers, 'x-cutover-version') ?? '(none)';
      report.byVersion[version] = (report.byVersion[version] ?? 0) + 1;
      report.ok++;
      report.sent++;
    } else {
      fail(`HTTP ${status}`);
    }
  };

  const instance = autocannon(
    {
      url: options.url,
      connections: options.connections ?? 10,
      pipelining: 1,
      duration: Math.max(1, Math.round((options.maxDurationMs ?? 600_000) / 1000)),
      timeout: Math.max(1, Math.round((options.timeoutMs ?? 10_000) / 1000)),
      headers: options.headers,
      requests: options.paths.map((path) => ({ method: 'GET' as const, path, onResponse })),
      setupClient: (autocannonClient) => {
        // The typings list only some of the client's events; 'request', 'connError' and 'timeout' exist too.
        const client = autocannonClient as NodeJS.EventEmitter;
        pending.set(client, 0);
        // autocannon silently re-sends on a new connection when the server closes one with a
        // request outstanding; such a request got no answer: count it as dropped.
        client.on('request', () => pending.set(client, (pending.get(client) ?? 0) + 1));
        client.on('response', () => {
          fail('dropped', (pending.get(client) ?? 1) - 1);
          pending.set(client, 0);
        });
        client.on('connError', (err: NodeJS.ErrnoException) => {
          fail('dropped', (pending.get(client) ?? 1) - 1);
          pending.set(client, 0);
          fail(err.code ?? err.message);
        });
        // A timeout is reported after the replacement request was written: it accounts for one earlier request.
        client.on('timeout', () => {
          pending.set(client, Math.max(0, (pending.get(client) ?? 1) - 1));
          fail('timeout');
        });
      },
    },
    () => undefined,
  );
  instance.on('error', () => undefined);

  const done = new Promise<LoadReport>((resolve) => {
    instance.once('done', () => {
      report.unfinished = [...pending.values()].reduce((sum, n) => sum + n, 0);
      report.durationMs = Date.now() - started;
      resolve(report);
    });
  });

  return {
    stop: () => {
      instance.stop();
      return done;
    },
  };
}
