/**
 * The load generator of the demo, the benchmarks and every zero-downtime test: traffic like real users (GETs,
 * POSTs with a body, slow requests lasting seconds; traffic.ts) from one or both client classes (load/lanes.ts), paced
 * so that a 2-core machine is not starved, counted per phase (load/report.ts).
 *
 *   const load = startLoad({ url, paths: ['/Catalog/', '/Cart/'], clients: ['undici', 'autocannon'] });
 *   await load.next('during');      // once "before" has its minimum; then the deployment starts
 *   ...
 *   await load.next('after');       // the workflow has reported the switch
 *   await load.waitForRequests();   // "after" has its minimum
 *   const report = await load.stop();   // waits (bounded) for requests in flight
 *
 * Judge the report with judgeLoad() (load/verdict.ts): requests in every phase, none unfinished, every answer a 2xx to
 * its own request from a version expected in the phase the request started in.
 */
import type { Lane, LaneOptions } from './load/lanes';
import { startAutocannonLane, startUndiciLane } from './load/lanes';
import { LoadRecorder } from './load/report';
import type { LoadClient, LoadReport } from './load/report';
import { TrafficPlanner } from './load/traffic';
import type { RequestKind, TrafficMix } from './load/traffic';

export type { LoadClient, LoadReport, PhaseReport, RequestResult } from './load/report';
export type { RequestKind, TrafficMix } from './load/traffic';
export { formatLoadReport, judgeLoad } from './load/verdict';
export type { LoadExpectation } from './load/verdict';

/** The smallest number of answered requests each phase should have (waitForRequests' default). */
export const MIN_REQUESTS_PER_PHASE = 20;

export interface LoadOptions extends TrafficMix {
  /** Base URL, e.g. the router's public URL. */
  url: string;
  /** Client classes sending traffic side by side (default: undici only). */
  clients?: LoadClient[];
  /** Connections per client class sending GETs and POSTs (default 2). */
  connections?: number;
  /** GETs and POSTs started per second per connection (default 10; 0: back to back, unpaced). */
  ratePerConnection?: number;
  /** Connections sending slow requests back to back, staggered, spread over the client classes (default 3). */
  slowConnections?: number;
  /** Name of the first phase (default "before"). */
  phase?: string;
  /** Nothing starts after this, even if stop() is never called (default 10 min). */
  maxDurationMs?: number;
  /** Per-request timeout (default 10 s); stop() waits this long at most for requests in flight. */
  timeoutMs?: number;
}

export interface Load {
  /** The phase new requests are counted in. */
  readonly currentPhase: string;
  /** Starts phase `name`: requests started from now on belong to it. */
  phase(name: string): void;
  /**
   * Resolves once the current phase has `minimum` answered requests and has started a request of every kind in
   * the mix; rejects after `timeoutMs` (default 60 s) saying what is missing.
   */
  waitForRequests(minimum?: number, timeoutMs?: number): Promise<void>;
  /** waitForRequests() for the current phase, then phase(name). */
  next(name: string): Promise<void>;
  /** Starts nothing more, waits for the requests in flight (at most the request timeout), reports. Idempotent. */
  stop(): Promise<LoadReport>;
}

export function startLoad(options: LoadOptions): Load {
  const clients = options.clients ?? ['undici'];
  if (clients.length === 0) throw new Error('a load needs at least one client class');
  const planner = new TrafficPlanner(options);
  const recorder = new LoadRecorder(options.phase ?? 'before');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const rate = options.ratePerConnection ?? 10;
  const slowConnections = options.slowConnections ?? 3;
  const kinds: RequestKind[] = [
    'get',
    ...(planner.posts ? ['post' as const] : []),
    ...(slowConnections > 0 ? ['slow' as const] : []),
  ];
  const base = { url: options.url, recorder, timeoutMs, maxDurationMs: options.maxDurationMs ?? 600_000 };
  const laneOf = (client: LoadClient, lane: Omit<LaneOptions, keyof typeof base>): Lane =>
    (client === 'undici' ? startUndiciLane : startAutocannonLane)({ ...base, ...lane });

  const lanes: Lane[] = clients.map((client) =>
    laneOf(client, {
      connections: options.connections ?? 2,
      next: () => planner.nextOrdinary(),
      ...(rate > 0 ? { rate } : {}),
    }),
  );
  // Slow lanes start staggered over one slow request's duration: at any moment one of them is early in its request.
  for (let i = 0; i < slowConnections; i++) {
    lanes.push(
      laneOf(clients[i % clients.length] as LoadClient, {
        connections: 1,
        next: () => planner.nextSlow(),
        startAfterMs: (planner.slowMs * i) / slowConnections,
      }),
    );
  }

  let stopped: Promise<LoadReport> | undefined;
  const waitForRequests = (minimum = MIN_REQUESTS_PER_PHASE, waitMs = 60_000): Promise<void> =>
    recorder.waitForRequests(minimum, kinds, waitMs, clients);
  return {
    get currentPhase() {
      return recorder.phase;
    },
    phase: (name) => recorder.startPhase(name),
    waitForRequests,
    async next(name) {
      await waitForRequests();
      recorder.startPhase(name);
    },
    stop: () =>
      (stopped ??= (async () => {
        await Promise.all(lanes.map((lane) => lane.stop(timeoutMs + 1_000)));
        return recorder.report(clients);
      })()),
  };
}
