/**
 * Lanes: a number of connections sending planned requests through one client class, paced, into a LoadRecorder.
 * stop() stops starting requests and waits (bounded) for the ones in flight; a request still open when the bound
 * passes is left without an outcome, so the report counts it as unfinished.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { Client } from 'undici';
import { judgeAnswer } from './report';
import type { Answer, LoadRecorder, RequestRecord } from './report';
import type { PlannedRequest } from './traffic';

export interface LaneOptions {
  url: string;
  connections: number;
  next: () => PlannedRequest;
  recorder: LoadRecorder;
  /** Requests started per second per connection; undefined: back to back (each waits for the previous answer). */
  rate?: number;
  /** Per-request timeout (ms). */
  timeoutMs: number;
  /** Delay before the first request (ms): slow lanes are staggered so they never finish all at once. */
  startAfterMs?: number;
  /** Nothing starts after this (ms from the start), even if stop() is never called. */
  maxDurationMs: number;
}

export interface Lane {
  /** Starts nothing more; resolves once nothing is in flight, or after `graceMs` (what is left stays unfinished). */
  stop(graceMs: number): Promise<void>;
}

/** Whether `work` settles within `ms` (the timer is cleared either way). */
async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  try {
    return await Promise.race([work.then(() => true), sleep(ms, false, { signal: timer.signal }).catch(() => false)]);
  } finally {
    timer.abort();
  }
}

function failureOf(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  return String(e.code ?? e.name ?? e.message ?? err);
}

/** undici's Client, one per connection: keep-alive reuse, `Connection: close` honoured, no retries. */
export function startUndiciLane(options: LaneOptions): Lane {
  const stopping = new AbortController();
  const stopAt = Date.now() + options.maxDurationMs;
  const interval = options.rate ? 1000 / options.rate : 0;
  let abandoned = false;
  const clients: Client[] = [];

  const loop = async (index: number): Promise<void> => {
    const client = new Client(options.url, {
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
    clients.push(client);
    const wait = (ms: number): Promise<void> =>
      ms > 0 ? sleep(ms, undefined, { signal: stopping.signal }).catch(() => undefined) : Promise.resolve();
    // Connections of a lane start spread over one interval, not in step.
    await wait((options.startAfterMs ?? 0) + (interval * index) / options.connections);
    let nextAt = performance.now();
    try {
      while (!stopping.signal.aborted && Date.now() < stopAt) {
        const plan = options.next();
        const record = options.recorder.start(plan, 'undici');
        try {
          const response = await client.request({
            path: plan.path,
            method: plan.method,
            headers: plan.headers,
            body: plan.body,
          });
          const body = await response.body.text();
          const header = (name: string): string | undefined => {
            const value = response.headers[name];
            return Array.isArray(value) ? value[0] : value;
          };
          options.recorder.finish(record, judgeAnswer(plan, { status: response.statusCode, header, body }));
        } catch (err) {
          if (!abandoned) options.recorder.finish(record, { ok: false, failure: failureOf(err) });
        }
        nextAt = Math.max(nextAt + interval, performance.now());
        await wait(nextAt - performance.now());
      }
    } finally {
      await client.close().catch(() => undefined);
    }
  };
  const loops = Promise.all(Array.from({ length: options.connections }, (_, i) => loop(i)));

  return {
    async stop(graceMs) {
      stopping.abort();
      if (await settlesWithin(loops, graceMs)) return;
      abandoned = true;
      await Promise.all(clients.map((c) => c.destroy().catch(() => undefined)));
      await loops;
    },
  };
}

/** What this module needs of autocannon's per-connection client (its typings list only some of it). */
interface AutocannonConnection extends NodeJS.EventEmitter {
  /** autocannon's own cap on requests for this connection (`maxConnectionRequests`); it stops itself once reached. */
  responseMax?: number;
  /** Requests this connection has written. */
  reqsMade: number;
}

interface ConnectionState {
  connection: AutocannonConnection;
  /** The request this connection built last and has not settled (autocannon's pipelining is 1). */
  outstanding?: RequestRecord;
  /** Whether `outstanding` has been written (the first request is built before its connection exists). */
  written: boolean;
}

/**
 * autocannon: every connection writes its next request as soon as the previous answer arrived, on the same socket,
 * whatever the answer said about the connection (it ignores `Connection: close`). If the server closes the socket,
 * autocannon reconnects and moves on to its next request; the unanswered one is counted here as "no answer".
 *
 * Accounting per connection: autocannon emits 'request' on a connection and then builds that request
 * (setupRequest) synchronously — except a connection's very first request, which it builds in the connection's
 * constructor before setupClient runs, and writes on its first 'request'.
 */
export function startAutocannonLane(options: LaneOptions): Lane {
  let building: ConnectionState | undefined;
  let prebuilt: RequestRecord | undefined;
  let lastAnswer: Answer | undefined;
  const connections: ConnectionState[] = [];
  let stopped = false;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));

  const setupRequest = (request: autocannon.Request): autocannon.Request => {
    const plan = options.next();
    const record = options.recorder.start(plan, 'autocannon');
    if (building) {
      building.outstanding = record;
      building.written = true;
      building = undefined;
    } else {
      prebuilt = record;
    }
    return { ...request, method: plan.method, path: plan.path, headers: plan.headers, body: plan.body };
  };

  // Called (for the connection that then emits 'response') with the answer as it arrived.
  const onResponse = (status: number, body: string, _context: object, headers?: IncomingHttpHeaders): void => {
    lastAnswer = {
      status,
      body,
      header: (name) => {
        for (const [key, value] of Object.entries(headers ?? {})) {
          if (key.toLowerCase() === name) return Array.isArray(value) ? value[0] : value;
        }
        return undefined;
      },
    };
  };

  const settle = (state: ConnectionState, failure?: string): void => {
    const record = state.outstanding;
    const answer = lastAnswer;
    state.outstanding = undefined;
    lastAnswer = undefined;
    if (!record) return;
    if (failure !== undefined) options.recorder.finish(record, { ok: false, failure });
    else if (answer) options.recorder.finish(record, judgeAnswer(record.plan, answer));
  };

  const setupClient = (client: autocannon.Client): void => {
    const state: ConnectionState = { connection: client as unknown as AutocannonConnection, written: false };
    state.outstanding = prebuilt;
    prebuilt = undefined;
    connections.push(state);
    state.connection.on('request', () => {
      if (state.outstanding && !state.written) {
        state.written = true; // the prebuilt first request goes out now
        return;
      }
      // A new request while the previous one is outstanding: autocannon gave up on it (the server closed the
      // connection, or it timed out) and moves on without saying so.
      if (state.outstanding) settle(state, 'no answer');
      building = state;
    });
    state.connection.on('response', () => settle(state));
    state.connection.on('connError', (err: NodeJS.ErrnoException) => settle(state, err.code ?? err.message));
    // Stopped by its own cap (see stop()) while its last request was unanswered on a connection the server closed.
    state.connection.on('done', () => settle(state, 'no answer'));
  };

  let instance: autocannon.Instance | undefined;
  const timer = setTimeout(() => {
    instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        pipelining: 1,
        ...(options.rate ? { connectionRate: options.rate } : {}),
        duration: Math.max(1, Math.round(options.maxDurationMs / 1000)),
        timeout: Math.max(1, Math.round(options.timeoutMs / 1000)),
        requests: [{ setupRequest, onResponse }],
        setupClient,
      },
      () => resolveDone(),
    );
    instance.on('error', () => undefined);
  }, options.startAfterMs ?? 0);

  return {
    async stop(graceMs) {
      if (stopped) return done;
      stopped = true;
      clearTimeout(timer);
      if (!instance) {
        resolveDone();
        return done;
      }
      // Each connection stops itself after the answer it is waiting for (autocannon's own per-connection cap).
      for (const { connection } of connections) connection.responseMax = Math.max(1, connection.reqsMade);
      if (!(await settlesWithin(done, graceMs))) {
        for (const state of connections) state.outstanding = undefined; // left without an outcome: unfinished
        instance.stop();
        await done;
      }
    },
  };
}
