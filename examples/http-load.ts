/**
 * A load generator that behaves like an ordinary HTTP/1.1 client (undici, as in Node's fetch): each connection is a
 * keep-alive connection that is reused until the server says `Connection: close` or closes it, and a request that
 * fails is counted, never retried.
 *
 * Why not examples/load.ts (autocannon) through nginx: autocannon ignores `Connection: close` and writes its next
 * request on a connection the server announced it would close, then re-sends it on a new one; nginx ends keep-alive
 * connections with `Connection: close` after `keepalive_requests` (1000 by default) and on every reload, so
 * autocannon counts a "dropped" request about once per 1000 requests per connection even with no reload at all.
 * That is a client bug, not something a router can fix; this generator measures what correct clients see.
 * (examples/load.ts stays the generator for the local router, which never ends a keep-alive connection.)
 */
import { Client } from 'undici';
import type { Load, LoadOptions, LoadReport } from './load';

export function startHttpLoad(options: LoadOptions): Load {
  const started = Date.now();
  const report: LoadReport = { sent: 0, ok: 0, failed: 0, byVersion: {}, errors: {}, unfinished: 0, durationMs: 0 };
  const timeout = options.timeoutMs ?? 10_000;
  const stopAt = started + (options.maxDurationMs ?? 600_000);
  let stopped = false;
  const fail = (kind: string) => {
    report.failed++;
    report.sent++;
    report.errors[kind] = (report.errors[kind] ?? 0) + 1;
  };

  const loops = Array.from({ length: options.connections ?? 10 }, async (_, i) => {
    const client = new Client(options.url, {
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
    let n = i;
    try {
      while (!stopped && Date.now() < stopAt) {
        const path = options.paths[n++ % options.paths.length] ?? '/';
        try {
          const response = await client.request({ path, method: 'GET', headers: options.headers });
          await response.body.dump();
          if (response.statusCode >= 200 && response.statusCode < 300) {
            const version = response.headers['x-cutover-version'];
            const key = (Array.isArray(version) ? version[0] : version) ?? '(none)';
            report.byVersion[key] = (report.byVersion[key] ?? 0) + 1;
            report.ok++;
            report.sent++;
          } else {
            fail(`HTTP ${response.statusCode}`);
          }
        } catch (err) {
          const e = err as { code?: string; name?: string; message?: string };
          fail(e.code ?? e.name ?? e.message ?? 'error');
        }
      }
    } finally {
      await client.close().catch(() => undefined);
    }
  });

  return {
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      report.durationMs = Date.now() - started;
      return report;
    },
  };
}
