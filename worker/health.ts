/**
 * The worker's one HTTP endpoint for operators (CUTOVER_METRICS_PORT, default 9464; docs/operations.md):
 *
 *   GET /metrics   Cutover's own metrics (Prometheus text format; the SDK's are on their own port)
 *   GET /healthz   200 while the process is up (liveness)
 *   GET /readyz    200 when connected to Temporal and the worker is polling; 503 with the reason otherwise
 *
 * No authentication: it answers counts and states, no deployment data; bind it to an address only the scraper
 * reaches (CUTOVER_METRICS_HOST, default 0.0.0.0 so a container's port can be published).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface Readiness {
  ready: boolean;
  reason: string;
}

export interface OpsServerOptions {
  registry: Registry;
  readiness: () => Promise<Readiness>;
  port: number;
  host?: string;
}

export interface OpsServer {
  /** host:port it listens on (the port is the real one when 0 was asked). */
  address: string;
  close(): Promise<void>;
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return send(res, 405, 'text/plain', 'method not allowed\n');
    if (path === '/healthz') return send(res, 200, 'application/json', '{"status":"ok"}\n');
    if (path === '/readyz') {
      options.readiness().then(
        (r) =>
          send(
            res,
            r.ready ? 200 : 503,
            'application/json',
            `${JSON.stringify({ status: r.ready ? 'ready' : 'not ready', reason: r.reason })}\n`,
          ),
        (err: unknown) =>
          send(res, 503, 'application/json', `${JSON.stringify({ status: 'not ready', reason: String(err) })}\n`),
      );
      return;
    }
    if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => send(res, 200, options.registry.contentType, text),
        (err: unknown) => send(res, 500, 'text/plain', `${String(err)}\n`),
      );
      return;
    }
    send(res, 404, 'text/plain', 'not found: GET /metrics, /healthz or /readyz\n');
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    address: `${address.includes(':') ? `[${address}]` : address}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A port number from an environment variable, or the default; a bad value is an error naming the variable. */
export function portFromEnv(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} must be a port number 0-65535 (got "${raw}")`);
  }
  return port;
}
