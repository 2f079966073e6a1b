/**
 * Long-lived connections for the tests, as a browser's EventSource keeps them: each lane holds one server-sent
 * events stream open (GET /<Module>/events), and when the stream ends it reconnects at once, through the same load
 * balancer, like EventSource does. Every stream is recorded: the version and replica that answered, its ticks, and
 * how it ended — with the application's "bye" event and a clean end (graceful: its replica is stopping), without
 * one ("eof": cut off), or with an error.
 *
 * With the application's delivery log this proves what issue 15 asks: a stream open on the old version stays open
 * across the switch (new requests already reach the new version meanwhile), ends gracefully when the old version
 * is retired, and its reconnect lands on the new version.
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'undici';
import type { DeliveryEvent } from './delivery-log';

export interface StreamRecord {
  id: string;
  lane: number;
  module: string;
  /** Phase of the load current when the stream opened (the caller's phase function). */
  phase: string;
  status?: number;
  version?: string;
  replica?: string;
  ticks: number;
  /** How it ended: "bye" (graceful), "eof" (ended without a bye), "error <code>", or "stopped" (by stop()). */
  ended?: string;
}

export interface Streams {
  /** Every stream so far, in the order they opened. */
  records(): StreamRecord[];
  /** Ends every stream (recorded as "stopped") and stops reconnecting. */
  stop(): Promise<StreamRecord[]>;
}

export function startStreams(options: {
  url: string;
  modules: string[];
  /** Streams held open at once (default: one per module given). */
  lanes?: number;
  phase: () => string;
}): Streams {
  const records: StreamRecord[] = [];
  const stopping = new AbortController();
  const lanes = options.lanes ?? options.modules.length;
  const run = async (lane: number): Promise<void> => {
    const client = new Client(options.url, { bodyTimeout: 30_000, headersTimeout: 30_000 });
    const module = options.modules[lane % options.modules.length] as string;
    try {
      while (!stopping.signal.aborted) {
        const record: StreamRecord = { id: randomUUID(), lane, module, phase: options.phase(), ticks: 0 };
        records.push(record);
        let gotBye = false;
        try {
          const response = await client.request({
            path: `/${module}/events`,
            method: 'GET',
            headers: { accept: 'text/event-stream', 'x-stream-id': record.id },
            signal: stopping.signal,
          });
          record.status = response.statusCode;
          const version = response.headers['x-cutover-version'];
          record.version = typeof version === 'string' ? version : undefined;
          const replica = response.headers['x-cutover-replica'];
          record.replica = typeof replica === 'string' ? replica : undefined;
          let buffer = '';
          for await (const chunk of response.body) {
            buffer += (chunk as Buffer).toString('utf8');
            let end: number;
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              const event = /^event: (\w+)/m.exec(buffer.slice(0, end))?.[1];
              buffer = buffer.slice(end + 2);
              if (event === 'tick') record.ticks++;
              if (event === 'bye') gotBye = true;
            }
          }
          record.ended = response.statusCode !== 200 ? `HTTP ${response.statusCode}` : gotBye ? 'bye' : 'eof';
        } catch (err) {
          const e = err as { code?: string; name?: string };
          record.ended = stopping.signal.aborted ? 'stopped' : `error ${e.code ?? e.name ?? String(err)}`;
        }
        // EventSource reconnects after its retry delay; a short one keeps the test quick.
        if (!stopping.signal.aborted) await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await client.close().catch(() => undefined);
    }
  };
  const running = Promise.all(Array.from({ length: lanes }, (_, i) => run(i)));
  return {
    records: () => records,
    async stop() {
      stopping.abort();
      await running;
      return records;
    },
  };
}

export interface StreamExpectation {
  from: string;
  to: string;
  /** The application's delivery log (stream-opened / stream-ended lines, requests received, stops). */
  deliveries: DeliveryEvent[];
}

/**
 * What was wrong with the streams, if anything:
 *  - every stream answered 200 and ended gracefully (with "bye") or was ended by stop(): none cut off, none failed;
 *  - in every lane a stream opened on `from` stayed open while `to` was already receiving requests (the delivery
 *    log's order: a request received by `to`, then that stream's graceful end by its `from` replica), ended with
 *    "bye" after its replica was told to stop, and the lane's next stream was answered by `to`;
 *  - each lane's last stream is on `to`.
 */
export function streamProblems(records: StreamRecord[], expectation: StreamExpectation): string[] {
  const problems: string[] = [];
  const { from, to, deliveries } = expectation;
  for (const r of records) {
    if (r.ended !== 'bye' && r.ended !== 'stopped') {
      problems.push(`stream ${r.id} (lane ${r.lane}, ${r.version ?? 'no version'}) ended "${r.ended ?? 'never'}"`);
    }
  }
  const lanes = [...new Set(records.map((r) => r.lane))];
  for (const lane of lanes) {
    const own = records.filter((r) => r.lane === lane);
    const crossing = own.findIndex((r, i) => r.version === from && r.ended === 'bye' && own[i + 1]?.version === to);
    if (crossing < 0) {
      problems.push(
        `lane ${lane}: no stream on ${from} ended gracefully and reconnected to ${to} (${own.map((r) => `${r.version}:${r.ended}`).join(' -> ')})`,
      );
      continue;
    }
    const stream = own[crossing] as StreamRecord;
    const order = deliveries;
    const endAt = order.findIndex((e) => e.event === 'stream-ended' && e.id === stream.id);
    const openAt = order.findIndex((e) => e.event === 'stream-opened' && e.id === stream.id);
    const stopAt = order.findIndex((e, i) => i < endAt && e.event === 'stopping' && e.replica === stream.replica);
    const toServed = order.findIndex((e, i) => i > openAt && i < endAt && e.event === 'received' && e.version === to);
    if (openAt < 0 || endAt < 0) problems.push(`lane ${lane}: stream ${stream.id} is missing from the delivery log`);
    else if (toServed < 0) problems.push(`lane ${lane}: stream ${stream.id} ended before ${to} received any request`);
    else if (stopAt < 0) problems.push(`lane ${lane}: stream ${stream.id} ended before its replica was stopped`);
    if ((own.at(-1) as StreamRecord).version !== to) problems.push(`lane ${lane}: the last stream is not on ${to}`);
  }
  return problems;
}
