/**
 * The embedded "Main Load Balancer and Reverse Proxy": a fastify server that
 * forwards traffic (router-proxy.ts) and a second fastify server on
 * 127.0.0.1 for the admin API (router-admin.ts), sharing one rule table that is
 * persisted in `stateFile`.
 */
import fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { Agent } from 'undici';
import { createAdminServer } from './router-admin';
import { ProxyStats, registerProxy } from './router-proxy';
import { normalizeTarget, RuleTable } from './router-state';

export interface RouterServerOptions {
  /** Traffic port (0 = any free port). */
  port: number;
  /** Admin API port (0 = any free port); always bound to 127.0.0.1. */
  adminPort: number;
  /** Address the traffic port binds to (default 127.0.0.1). */
  host?: string;
  /** Where the rules are persisted (loaded at start). */
  stateFile: string;
  /** Where every path without an explicit rule goes (the platform server). */
  defaultTarget: string;
  /** Header that marks preview requests (default x-cutover-preview). */
  previewHeader?: string;
  /** Largest request body forwarded (buffered so it can be retried); default 10 MiB. */
  bodyLimit?: number;
  /**
   * Pin each client to one backend of a rule that lists several, by a `cutover-backend` cookie scoped to the
   * module's path (default off; see docs/routers.md, "The local router").
   */
  sticky?: boolean;
}

export interface RouterServer {
  port: number;
  adminPort: number;
  /** Stops accepting, lets in-flight requests finish, closes upstream connections. */
  close(): Promise<void>;
}

export async function startRouterServer(options: RouterServerOptions): Promise<RouterServer> {
  const defaultTarget = normalizeTarget(options.defaultTarget);
  const table = await RuleTable.load(options.stateFile);
  const stats = new ProxyStats();
  // keepAliveTimeout below the Node default server timeout (5 s) so we close idle sockets before the target does.
  const agent = new Agent({ keepAliveTimeout: 4_000, connect: { timeout: 5_000 } });

  const proxy = fastify({ logger: false, bodyLimit: options.bodyLimit ?? 10 * 1024 * 1024, requestIdHeader: false });
  registerProxy(proxy, {
    rules: () => table.current,
    defaultTarget,
    agent,
    stats,
    previewHeader: options.previewHeader,
    sticky: options.sticky,
  });
  const admin = createAdminServer({ table, stats, defaultTarget });

  try {
    await proxy.listen({ port: options.port, host: options.host ?? '127.0.0.1' });
    await admin.listen({ port: options.adminPort, host: '127.0.0.1' });
  } catch (err) {
    await Promise.allSettled([proxy.close(), admin.close()]);
    await agent.close();
    throw err;
  }

  const portOf = (app: FastifyInstance): number => {
    const address = app.server.address();
    if (!address || typeof address === 'string') throw new Error('router is not listening on a TCP port');
    return address.port;
  };

  let closing: Promise<void> | undefined;
  return {
    port: portOf(proxy),
    adminPort: portOf(admin),
    close: () => {
      closing ??= (async () => {
        await Promise.allSettled([admin.close(), proxy.close()]);
        await agent.close();
      })();
      return closing;
    },
  };
}
