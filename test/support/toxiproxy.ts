/**
 * Toxiproxy (Shopify's TCP fault proxy, provisioned by `scripts/provision.sh --with toxiproxy`) for the fault tests:
 * one server per test file on a free loopback port, driven through its REST API. A proxy listens on a port of its own
 * and forwards bytes to an upstream; toxics added to it act at the TCP level on every connection, open or new:
 *
 *   reset_peer  the connection is reset (RST) when data next flows in the toxic's direction
 *   timeout     a black hole: data in that direction is dropped (with timeout 0 the connection stays open, silent)
 *   latency     each chunk is delayed
 *
 * It sees bytes only, so it passes TLS through untouched, and it cannot answer with an HTTP status (http-faults.ts
 * does that).
 */
import { startPortServer } from '../../scripts/port-server';
import { toolPath } from '../../scripts/tools';

export type ToxicType = 'reset_peer' | 'timeout' | 'latency' | 'bandwidth' | 'limit_data' | 'slow_close';

export interface Toxic {
  name: string;
  type: ToxicType;
  /** upstream: client to server; downstream: server to client (the answers). */
  stream: 'upstream' | 'downstream';
  /** Share of connections it applies to (default 1). */
  toxicity?: number;
  attributes: Record<string, number>;
}

/** One Toxiproxy proxy: where clients connect, and its toxics. */
export interface ToxiProxy {
  name: string;
  /** host:port clients connect to. */
  listen: string;
  addToxic(toxic: Toxic): Promise<void>;
  /** No-op when the toxic is not there. */
  removeToxic(name: string): Promise<void>;
  delete(): Promise<void>;
}

export interface Toxiproxy {
  apiUrl: string;
  /** A proxy to `upstream` (host:port) on a free port. */
  proxy(name: string, upstream: string): Promise<ToxiProxy>;
  stop(): Promise<void>;
}

async function api(apiUrl: string, method: string, urlPath: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${apiUrl}${urlPath}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`Toxiproxy ${method} ${urlPath} answered ${res.status}: ${text}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

export async function startToxiproxy(): Promise<Toxiproxy> {
  const server = await startPortServer({
    name: 'toxiproxy-server',
    bin: toolPath('toxiproxy-server'),
    args: (port) => ['-host', '127.0.0.1', '-port', String(port)],
    env: { ...process.env, LOG_LEVEL: 'warn' },
    ready: async (url) => {
      await api(url, 'GET', '/version');
      return true;
    },
    timeoutMs: 10_000,
  });
  const apiUrl = server.url;
  return {
    apiUrl,
    async proxy(name, upstream) {
      const created = (await api(apiUrl, 'POST', '/proxies', { name, listen: '127.0.0.1:0', upstream })) as {
        listen: string;
      };
      const base = `/proxies/${encodeURIComponent(name)}`;
      return {
        name,
        listen: created.listen,
        addToxic: async (toxic) => {
          await api(apiUrl, 'POST', `${base}/toxics`, { toxicity: 1, ...toxic });
        },
        removeToxic: async (toxic) => {
          const res = await fetch(`${apiUrl}${base}/toxics/${encodeURIComponent(toxic)}`, { method: 'DELETE' });
          await res.arrayBuffer();
          if (!res.ok && res.status !== 404) throw new Error(`Toxiproxy: removing ${toxic} answered ${res.status}`);
        },
        delete: async () => {
          await api(apiUrl, 'DELETE', base);
        },
      };
    },
    stop: () => server.stop(),
  };
}

/** One Toxiproxy for the calling test file: started in beforeAll, stopped in afterAll. */
export function useToxiproxy(): () => Toxiproxy {
  let server: Toxiproxy | undefined;
  beforeAll(async () => {
    server = await startToxiproxy();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (!server) throw new Error('Toxiproxy is not running: call useToxiproxy() at the top of the test file');
    return server;
  };
}
