/**
 * Tiny HTTP backends for the router tests: each answers every request with its own name (and, if asked, a chosen
 * status per request), and counts what it answered. Plus a client that sends many GETs at a fixed concurrency and
 * counts the answers by body, status and cookie.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';

export interface NamedServer {
  name: string;
  url: string;
  /** Requests answered, and how many of them with each status. */
  answered: { total: number; byStatus: Map<number, number> };
  stop(): Promise<void>;
}

/**
 * A server on a free loopback port answering `name` as text/plain. `status(n, path)` picks the status of its n-th
 * request (1-based; default 200); `headers` are added to every answer.
 */
export async function startNamedServer(
  name: string,
  opts: { status?: (n: number, path: string) => number; headers?: Record<string, string | string[]> } = {},
): Promise<NamedServer> {
  const answered = { total: 0, byStatus: new Map<number, number>() };
  const server = http.createServer((req, res) => {
    req.resume();
    const n = ++answered.total;
    const status = opts.status?.(n, req.url ?? '/') ?? 200;
    answered.byStatus.set(status, (answered.byStatus.get(status) ?? 0) + 1);
    res.writeHead(status, { 'content-type': 'text/plain', 'x-server': name, ...opts.headers });
    res.end(name);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    answered,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface Answers {
  /** Answers per body (the name of the server that answered, for a NamedServer). */
  byBody: Map<string, number>;
  byStatus: Map<number, number>;
  /** Every Set-Cookie header received, in order. */
  setCookies: string[];
}

/** Sends `count` GETs to `url`, `concurrency` at a time over keep-alive connections, and counts the answers. */
export async function sendRequests(
  url: string,
  count: number,
  opts: { concurrency?: number; headers?: Record<string, string> } = {},
): Promise<Answers> {
  const concurrency = opts.concurrency ?? 16;
  const agent = new Agent({ connections: concurrency, keepAliveTimeout: 2_000 });
  const answers: Answers = { byBody: new Map(), byStatus: new Map(), setCookies: [] };
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < count) {
      started++;
      const response = await request(url, { dispatcher: agent, headers: opts.headers });
      const body = await response.body.text();
      answers.byBody.set(body, (answers.byBody.get(body) ?? 0) + 1);
      answers.byStatus.set(response.statusCode, (answers.byStatus.get(response.statusCode) ?? 0) + 1);
      const cookie = response.headers['set-cookie'];
      if (cookie !== undefined) answers.setCookies.push(...(Array.isArray(cookie) ? cookie : [cookie]));
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await agent.close();
  }
  return answers;
}
