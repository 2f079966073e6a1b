/**
 * The sample app's delivery log (SAMPLE_DELIVERY_LOG): every replica of a test, and its platform server, append one
 * JSON line per event to the same file, in the order the events happened (O_APPEND). With the load report it proves
 * what the client alone cannot see:
 *  - no POST reached the application twice (a router that replayed it on another replica would show here);
 *  - every answer the load counted as ok was really delivered by the replica that claimed it;
 *  - a replica was stopped (SIGTERM) only once nothing was in flight on it, and got nothing after: it was drained;
 *  - a slow request that reached the old version was still running when the new version got traffic, and finished
 *    there with a 2xx: it was in flight across the switch.
 */
import * as fs from 'node:fs';
import type { LoadReport } from '../../examples/load';

export const DELIVERY_LOG_ENV = 'SAMPLE_DELIVERY_LOG';

export interface DeliveryEvent {
  /** stream-opened / stream-ended: a long-lived connection (the Python application's server-sent events). */
  event: 'received' | 'answered' | 'aborted' | 'stopping' | 'draining' | 'stream-opened' | 'stream-ended';
  /** The request's x-request-id, or the stream's x-stream-id (not on "stopping"). */
  id?: string;
  /** stream-ended: "bye" (ended by the application as it stopped) or "client-gone". */
  how?: string;
  method?: string;
  status?: number;
  /** draining (GET /_drain): the requests in flight when it began. */
  inFlight?: number;
  version: string;
  replica: string;
  /** The process (the Python application says): a replica id comes back when a version is deployed again. */
  pid?: number;
}

/** The process an event came from: its replica id, and its pid when the application gives it. */
function processOf(e: DeliveryEvent): string {
  return e.pid === undefined ? e.replica : `${e.replica} (pid ${e.pid})`;
}

export function readDeliveryLog(file: string): DeliveryEvent[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as DeliveryEvent);
}

export interface SwitchCrossing {
  from: string;
  to: string;
}

export interface DeliveryExpectation {
  /** Replicas must have been drained before they were stopped (default true). */
  drained?: boolean;
  /**
   * For each switch: some slow request received by a `from` replica, then a request received by a `to` replica,
   * then that slow request answered — and the load counted it ok from `from`. In the log's order, which is the
   * order things happened, so it proves the slow request ran on the old version across the switch.
   */
  slowAcross?: SwitchCrossing[];
}

/** Ids of the slow requests that crossed a switch from `from` to `to` (see DeliveryExpectation.slowAcross). */
export function slowRequestsAcross(log: DeliveryEvent[], report: LoadReport, { from, to }: SwitchCrossing): string[] {
  const okFrom = new Set(report.requests.filter((r) => r.kind === 'slow' && r.version === from).map((r) => r.id));
  const running = new Set<string>();
  const overtaken = new Set<string>();
  const crossed: string[] = [];
  for (const e of log) {
    if (e.id === undefined) continue;
    if (e.event === 'received' && e.version === from && okFrom.has(e.id)) {
      running.add(e.id);
    } else if (e.event === 'received' && e.version === to) {
      for (const id of running) overtaken.add(id);
    } else if (e.event === 'answered' && e.version === from && running.delete(e.id) && overtaken.has(e.id)) {
      crossed.push(e.id);
    }
  }
  return crossed;
}

/** Requests a replica answered after it had been told to stop (SIGTERM): in flight at its stop, finished anyway. */
export function answeredAfterStopping(log: DeliveryEvent[]): DeliveryEvent[] {
  const stopped = new Set<string>();
  const out: DeliveryEvent[] = [];
  for (const e of log) {
    if (e.event === 'stopping') stopped.add(processOf(e));
    else if (e.event === 'answered' && stopped.has(processOf(e))) out.push(e);
  }
  return out;
}

export function deliveryProblems(
  log: DeliveryEvent[],
  report: LoadReport,
  expectation: DeliveryExpectation = {},
): string[] {
  const problems: string[] = [];
  const received = new Map<string, DeliveryEvent[]>();
  for (const e of log) {
    if (e.event === 'received' && e.id !== undefined) received.set(e.id, [...(received.get(e.id) ?? []), e]);
  }

  const duplicated = report.requests.filter((r) => r.method === 'POST' && (received.get(r.id)?.length ?? 0) > 1);
  for (const r of duplicated.slice(0, 5)) {
    const where = (received.get(r.id) ?? []).map((e) => `${e.replica} (${e.version})`).join(', ');
    problems.push(`POST ${r.id} was delivered ${received.get(r.id)?.length} times: ${where}`);
  }
  if (duplicated.length > 5) problems.push(`... ${duplicated.length} POSTs delivered more than once in all`);

  const unlogged = report.requests.filter(
    (r) => r.version !== undefined && !(received.get(r.id) ?? []).some((e) => e.version === r.version),
  );
  if (unlogged.length) {
    problems.push(
      `${unlogged.length} ok answers have no delivery by the version that answered (e.g. ${unlogged[0]?.id}): ` +
        'the delivery log is incomplete, or an answer was not what it claimed',
    );
  }

  if (expectation.drained ?? true) problems.push(...undrainedStops(log));
  for (const crossing of expectation.slowAcross ?? []) {
    if (slowRequestsAcross(log, report, crossing).length === 0) {
      problems.push(
        `no slow request running on ${crossing.from} while ${crossing.to} got traffic finished there: ` +
          'nothing proves requests in flight across that switch finish on the old version',
      );
    }
  }
  return problems;
}

/** Each SIGTERM of a replica that still had requests in flight, or that received requests after it. */
function undrainedStops(log: DeliveryEvent[]): string[] {
  const problems: string[] = [];
  const inFlight = new Map<string, Set<string>>();
  const stopped = new Set<string>();
  for (const e of log) {
    const proc = processOf(e);
    const open = inFlight.get(proc) ?? new Set<string>();
    inFlight.set(proc, open);
    if (e.event === 'stopping') {
      stopped.add(proc);
      if (open.size) {
        problems.push(
          `replica ${proc} (${e.version}) was stopped with ${open.size} request(s) in flight: ${[...open].join(', ')}`,
        );
      }
    } else if (e.event === 'received' && e.id !== undefined) {
      if (stopped.has(proc)) problems.push(`request ${e.id} reached replica ${proc} after it was stopped`);
      open.add(e.id);
    } else if (e.id !== undefined && (e.event === 'answered' || e.event === 'aborted')) {
      open.delete(e.id);
    }
  }
  return problems;
}
