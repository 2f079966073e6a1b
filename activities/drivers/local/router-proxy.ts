/**
 * The traffic side of the local router: picks a target for every request from
 * the rules in force at that moment (router-targets.ts) and forwards it with
 * undici.
 *
 * Zero downtime rests on three things here:
 *  - the target is chosen per request from the current (immutable) rule
 *    snapshot, so a rule switch never touches requests already in flight;
 *  - a failure before any response byte arrived (connection refused, a reused
 *    keep-alive socket reset by a replica that is shutting down, ...) is
 *    retried on another target of the same backend, then on the module's other
 *    live backends; only when nothing can answer does the client get a 502;
 *  - in-flight requests are counted per target, so callers can wait for a
 *    deregistered target to drain before stopping it. A long-lived response
 *    (server-sent events) is counted apart, as a stream: it never ends by
 *    itself, so a drain does not wait for it; the replica ends it when it is
 *    stopped (gracefully, with a last event), and the client's reconnect is
 *    routed by the rules in force then, to the new version.
 *
 * Every answer is counted (router-metrics.ts) under the module of the rule
 * that served it and the backend that answered. With stickiness on, a rule
 * that lists several backends pins each client to one of them by a cookie
 * (STICKY_COOKIE in router-targets.ts, scoped to the module's path): a valid
 * cookie is honoured, a missing or stale one (its backend gone from the rule,
 * at weight 0, or without targets) gets a fresh weighted pick and a new
 * cookie.
 */
import { EventEmitter } from 'node:events';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Agent, Dispatcher } from 'undici';
import { errorCode } from './error-info';
import { DEFAULT_MODULE, NO_BACKEND, RouterMetrics } from './router-metrics';
import type { RouteMetrics } from './router-metrics';
import type { RouterState } from './router-state';
import { TargetPicker, moduleOf, pinnedBackend, stickyCookie } from './router-targets';
import type { Candidate } from './router-targets';

export const PREVIEW_HEADER = 'x-cutover-preview';
export const BACKEND_HEADER = 'x-cutover-backend';

/** At most this many upstream attempts per request. */
const MAX_ATTEMPTS = 4;

/** RFC 9110 idempotent methods: safe to resend even if the first copy may have reached the target. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
/** The connection was never established: nothing was sent, any method may be retried. */
const NOT_CONNECTED = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
]);
/** The connection broke before a response: the request may have been sent (retry idempotent ones only). */
const BROKEN_BEFORE_RESPONSE = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'content-length', // undici sets it from the buffered body
]);

export class ProxyStats {
  requests = 0;
  failed = 0;
  retries = 0;
  readonly inFlight = new Map<string, number>();
  /** Long-lived responses (server-sent events) open per target: not in inFlight. */
  readonly streams = new Map<string, number>();
  /** Answers per module and backend, in-flight requests per backend, retries per module (Prometheus and /stats). */
  readonly metrics = new RouterMetrics();

  begin(target: string, counter: Map<string, number> = this.inFlight): void {
    counter.set(target, (counter.get(target) ?? 0) + 1);
  }

  end(target: string, counter: Map<string, number> = this.inFlight): void {
    const n = (counter.get(target) ?? 1) - 1;
    if (n > 0) counter.set(target, n);
    else counter.delete(target);
  }

  /** A response turned out to be a stream: from now on it counts in `streams`. */
  toStream(target: string): void {
    this.end(target);
    this.begin(target, this.streams);
  }
}

/** A response that stays open as long as the client listens: server-sent events. */
function isStream(headers: Dispatcher.ResponseData['headers']): boolean {
  const type = headers['content-type'];
  return String(Array.isArray(type) ? type[0] : (type ?? ''))
    .toLowerCase()
    .startsWith('text/event-stream');
}

export interface ProxyOptions {
  rules: () => RouterState;
  /** Requests carrying this header (any value) go to the module's preview backend, if it has one. */
  previewHeader?: string;
  defaultTarget: string;
  agent: Agent;
  stats: ProxyStats;
  /** Pin clients to a backend of a rule that lists several, by the STICKY_COOKIE cookie (default off). */
  sticky?: boolean;
}

type Attempt = { sent: true } | { sent: false; error: Error; code: string };

/**
 * The abort signal of one upstream attempt. undici takes an EventEmitter with `aborted` and an 'abort' event as
 * well as an AbortSignal; this costs a fraction of an AbortController + AbortSignal (an EventTarget), per request.
 */
class ClientGone extends EventEmitter {
  aborted = false;
  reason: Error | undefined;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = new Error('the client went away');
    this.reason.name = 'AbortError';
    this.emit('abort');
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The header names a Connection header lists (hop-by-hop for this message); none for most requests. */
function connectionNamed(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const text = (Array.isArray(value) ? value.join(',') : value).toLowerCase();
  // "keep-alive" and "close" are hop-by-hop already: nothing more to drop.
  if (text === 'keep-alive' || text === 'close') return undefined;
  return text.split(',').map((s) => s.trim());
}

// Plain loops over the header objects (no Object.entries, no split of an absent Connection header): these run for
// every request and every response.
function upstreamHeaders(request: FastifyRequest): Record<string, string | string[]> {
  const source = request.headers;
  const named = connectionNamed(source.connection);
  const headers: Record<string, string | string[]> = {};
  for (const name in source) {
    const value = source[name];
    if (value === undefined || HOP_BY_HOP.has(name) || (named !== undefined && named.includes(name))) continue;
    headers[name] = value;
  }
  const forwardedFor = source['x-forwarded-for'];
  headers['x-forwarded-for'] = forwardedFor ? `${String(forwardedFor)}, ${request.ip}` : request.ip;
  headers['x-forwarded-proto'] ??= request.protocol;
  if (source.host) headers['x-forwarded-host'] ??= source.host;
  return headers;
}

function downstreamHeaders(headers: Dispatcher.ResponseData['headers']): Record<string, string | string[]> {
  const named = connectionNamed(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    // content-length is kept on the way back: it describes the body we pass through unchanged.
    if (value === undefined || (HOP_BY_HOP.has(name) && name !== 'content-length')) continue;
    if (named !== undefined && named.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

/** The module label of a request: its module when its rule or preview route serves it, else the default rule's. */
function moduleLabel(state: RouterState, module: string, previewRouted: boolean): string {
  return previewRouted || state.rules.has(module) ? module : DEFAULT_MODULE;
}

const secondsSince = (started: number): number => (performance.now() - started) / 1000;

/** What an attempt needs to know about its request besides the candidate. */
interface AttemptContext {
  /** When the request arrived (performance.now()). */
  started: number;
  route: RouteMetrics;
  /** Set when the answer must carry a sticky cookie naming its backend: the module, whose path scopes it. */
  pinModule?: string;
}

export function registerProxy(app: FastifyInstance, options: ProxyOptions): void {
  const { agent, stats } = options;
  const { metrics } = stats;
  const previewHeader = (options.previewHeader ?? PREVIEW_HEADER).toLowerCase();
  const sticky = options.sticky ?? false;
  const picker = new TargetPicker(options.defaultTarget);

  /** One upstream attempt; { sent: true } once the response has been handed to the client. */
  async function attempt(
    request: FastifyRequest,
    reply: FastifyReply,
    candidate: Candidate,
    context: AttemptContext,
  ): Promise<Attempt> {
    const { target } = candidate;
    const { route } = context;
    stats.begin(target);
    route.beginInFlight();
    let counter: Map<string, number> | undefined = stats.inFlight;
    const release = (): void => {
      if (counter === stats.inFlight) route.endInFlight();
      if (counter) stats.end(target, counter);
      counter = undefined;
    };
    // If the client goes away while we wait for the upstream, stop waiting.
    const abort = new ClientGone();
    const onClientGone = (): void => {
      if (!reply.raw.writableFinished) abort.abort();
    };
    reply.raw.once('close', onClientGone);
    let upstream: Dispatcher.ResponseData;
    try {
      upstream = await agent.request({
        origin: target,
        path: request.url,
        method: request.method,
        headers: upstreamHeaders(request),
        body: Buffer.isBuffer(request.body) && request.body.length > 0 ? request.body : undefined,
        signal: abort,
      });
    } catch (err) {
      release();
      reply.raw.off('close', onClientGone);
      const code = errorCode(err);
      if (NOT_CONNECTED.has(code)) picker.markSuspect(target);
      return { sent: false, error: err as Error, code };
    }
    picker.markHealthy(target);
    const stream = isStream(upstream.headers);
    if (stream) {
      stats.toStream(target);
      route.endInFlight();
      counter = stats.streams;
    }
    route.answered(upstream.statusCode);
    // From here on the response belongs to this target: no retry is possible any more.
    reply.raw.once('close', () => {
      release();
      // A stream's duration is how long the client listened, not a latency: it stays out of the histogram.
      if (!stream) route.finished(secondsSince(context.started));
    });
    upstream.body.once('error', () => {
      // The target broke off mid-response (fastify then drops the client connection); not when the client left first.
      if (!reply.raw.destroyed) stats.failed++;
    });
    reply
      .code(upstream.statusCode)
      .headers(downstreamHeaders(upstream.headers))
      .header(BACKEND_HEADER, candidate.backend);
    // Appended to the upstream's own Set-Cookie headers, if any (fastify keeps every set-cookie).
    if (context.pinModule !== undefined) reply.header('set-cookie', stickyCookie(context.pinModule, candidate.backend));
    reply.send(upstream.body);
    return { sent: true };
  }

  async function proxy(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const started = performance.now();
    stats.requests++;
    const module = moduleOf(request.url);
    const preview = request.headers[previewHeader] !== undefined;
    const pinned = sticky ? pinnedBackend(request) : undefined;
    const idempotent = IDEMPOTENT.has(request.method);
    const tried = new Set<string>();
    let last: { error: Error; code: string; backend: string } | undefined;
    let label = DEFAULT_MODULE;

    for (let n = 0; n < MAX_ATTEMPTS; n++) {
      // Re-read the rules on each attempt: a switch or deregistration may have happened meanwhile.
      const state = options.rules();
      const previewRouted = preview && state.previews.has(module);
      label = moduleLabel(state, module, previewRouted);
      const candidates = picker.candidates(state, module, preview, pinned);
      let next = candidates.find((c) => !tried.has(c.target));
      if (!next && candidates[0]) {
        // Every target tried once (e.g. the default rule's single target): a fresh connection may
        // succeed where a stale keep-alive one failed, or the replica may be back: brief pause, retry.
        next = candidates[0];
        await sleep(50 * n);
      }
      if (!next) break;
      tried.add(next.target);
      // Stickiness applies to a rule that lists several backends (a split, or one at weight 0 after a shift).
      const pin = sticky && !previewRouted && (state.rules.get(module)?.length ?? 0) > 1 && next.backend !== pinned;
      const route = metrics.route(label, next.backend);
      const outcome = await attempt(request, reply, next, { started, route, pinModule: pin ? module : undefined });
      if (outcome.sent) return reply;
      last = { error: outcome.error, code: outcome.code, backend: next.backend };
      const retryable = NOT_CONNECTED.has(outcome.code) || (idempotent && BROKEN_BEFORE_RESPONSE.has(outcome.code));
      if (!retryable || reply.raw.destroyed) break;
      stats.retries++;
      metrics.retried(label);
    }

    if (reply.raw.destroyed) return reply; // the client left: nobody to answer
    stats.failed++;
    const timedOut = last?.code === 'UND_ERR_HEADERS_TIMEOUT';
    const status = timedOut ? 504 : 502;
    const route = metrics.route(label, NO_BACKEND);
    route.answered(status);
    reply.raw.once('close', () => route.finished(secondsSince(started)));
    const what = module && options.rules().rules.has(module) ? `module "${module}"` : 'the default rule';
    return reply
      .code(status)
      .header(BACKEND_HEADER, last?.backend ?? 'none')
      .send({
        error: timedOut ? 'Gateway Timeout' : 'Bad Gateway',
        message: last
          ? `no target of ${what} could answer (last error: ${last.code}, tried ${tried.size} target(s))`
          : `no target is registered for ${what}`,
      });
  }

  app.removeAllContentTypeParsers();
  // Bodies are buffered (bounded by bodyLimit) so a refused attempt can be resent elsewhere.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];
  app.route({ method: methods, url: '/', handler: proxy });
  app.route({ method: methods, url: '/*', handler: proxy });
}
