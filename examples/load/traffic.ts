/**
 * The traffic a load generator sends, like real users of a web application: GETs, POSTs with a body (each one a
 * non-idempotent action that must reach the application at most once), and slow requests that stay in flight for
 * seconds, so they are still running when the traffic switches and when the old replicas drain and stop.
 *
 * Every request carries a unique `x-request-id`; the sample application echoes it, answers a POST with the number
 * of body bytes it received, and (with SAMPLE_DELIVERY_LOG) writes each delivery down, which is how a test proves
 * that an answer belongs to its own request and that no POST was delivered twice.
 */
import { randomUUID } from 'node:crypto';

export const REQUEST_ID_HEADER = 'x-request-id';
/** The sample application adds this many milliseconds to a request carrying the header. */
export const DELAY_HEADER = 'x-sample-delay-ms';

/** get and post are the ordinary traffic; slow ones alternate GET and POST and each last `slowMs`. */
export type RequestKind = 'get' | 'post' | 'slow';
export const REQUEST_KINDS: readonly RequestKind[] = ['get', 'post', 'slow'];

export interface PlannedRequest {
  id: string;
  kind: RequestKind;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  /** POSTs only: a JSON document naming the request. */
  body?: string;
}

export interface TrafficMix {
  /** Request paths, taken in turn (e.g. one per module). */
  paths: string[];
  /** Every n-th ordinary request is a POST (default 3); 0: no POSTs at all (slow requests are then GETs too). */
  postEvery?: number;
  /** How long a slow request lasts (default 2500 ms). */
  slowMs?: number;
  /** Headers sent with every request (e.g. a preview header). */
  headers?: Record<string, string>;
}

/** Hands out the next request of each kind; ids are unique per generator (a random run id + a sequence number). */
export class TrafficPlanner {
  private readonly run = randomUUID().slice(0, 8);
  private sequence = 0;
  private ordinary = 0;
  private slow = 0;
  private readonly postEvery: number;
  readonly slowMs: number;

  constructor(private readonly mix: TrafficMix) {
    if (mix.paths.length === 0) throw new Error('a load needs at least one path');
    this.postEvery = Math.max(0, mix.postEvery ?? 3);
    this.slowMs = mix.slowMs ?? 2_500;
  }

  /** Whether the mix has POSTs. */
  get posts(): boolean {
    return this.postEvery > 0;
  }

  /** The next GET or POST. */
  nextOrdinary(): PlannedRequest {
    const n = this.ordinary++;
    return this.plan(this.postEvery > 0 && n % this.postEvery === this.postEvery - 1 ? 'post' : 'get', n);
  }

  /** The next slow request (GET and POST in turn, unless there are no POSTs). */
  nextSlow(): PlannedRequest {
    return this.plan('slow', this.slow++);
  }

  private plan(kind: RequestKind, n: number): PlannedRequest {
    const id = `${this.run}-${++this.sequence}`;
    const path = this.mix.paths[n % this.mix.paths.length] as string;
    const method = kind === 'post' || (kind === 'slow' && this.postEvery > 0 && n % 2 === 1) ? 'POST' : 'GET';
    const headers: Record<string, string> = { ...this.mix.headers, [REQUEST_ID_HEADER]: id };
    if (kind === 'slow') headers[DELAY_HEADER] = String(this.slowMs);
    if (method === 'GET') return { id, kind, method, path, headers };
    headers['content-type'] = 'application/json';
    // A body of a realistic form size, so a router that lost or cut it would be noticed.
    const body = JSON.stringify({ requestId: id, order: { item: path, quantity: 1 + (n % 5) }, note: 'x'.repeat(400) });
    return { id, kind, method, path, headers, body };
  }
}
