/**
 * Faults between Cutover and one of its back ends (a router's admin API, moto's AWS API, the Kubernetes API server).
 *
 * A *faulty link* puts two proxies between the driver and the back end:
 *
 *   driver -> Toxiproxy (TCP: resets, black holes, latency) -> HTTP fault layer (HTTP answers) -> back end
 *
 * Toxiproxy (toxiproxy.ts) is the well-kept tool for what happens to bytes on the wire, but it cannot answer with an
 * HTTP status; the small HTTP layer here can (503, 429, 403, an AWS error document...), and it sees each request, so
 * it is also where faults are aimed: a fault names the requests it hits (method, path, body) and how many, and the
 * layer either answers in the back end's place, or arms a Toxiproxy toxic for that one request before forwarding it
 * (so "reset the connection after the back end applied this write" hits exactly that write).
 *
 * Faults are a script: only the first unfinished one is armed, so each hits the request it names and not an earlier
 * one of the same shape. A fault with `times: Infinity` never finishes: a permanent fault.
 *
 * The back end may be https (the Kubernetes API server): the layer then speaks TLS upstream with the client
 * certificate it is given, and plain HTTP to the driver (the driver's kubeconfig points at the link).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Toxic, ToxiProxy, Toxiproxy } from './toxiproxy';

export interface SeenRequest {
  method: string;
  /** Path and query, as sent. */
  path: string;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** What a fault does to a request it hits. */
export type FaultEffect =
  /** Answered by the layer: the back end never sees the request. */
  | { answer: { status: number; headers?: Record<string, string>; body?: string } }
  /**
   * Forwarded to the back end with this toxic armed on the link's Toxiproxy, removed once the answer went through
   * (`holdMs` after it, or when the driver's connection closes, e.g. after a reset).
   */
  | { toxic: Toxic; holdMs?: number };

export interface Fault {
  name: string;
  match: (request: SeenRequest) => boolean;
  /** How many matching requests it hits (default 1); Infinity: every one, for good (a permanent fault). */
  times?: number;
  effect: FaultEffect;
}

export interface LoggedRequest extends SeenRequest {
  /** The fault that hit it, if one did. */
  fault?: string;
  /** Status the driver was meant to get (the back end's, or the fault's answer). */
  status?: number;
  /** The start of that answer's body. */
  answer?: string;
}

export interface Upstream {
  /** http://host:port or https://host:port of the back end. */
  url: string;
  /** TLS options for an https back end (CA, client certificate and key). */
  tls?: Pick<https.RequestOptions, 'ca' | 'cert' | 'key' | 'servername'>;
}

export interface HttpFaultLayer {
  url: string;
  /** Appends faults to the script. */
  inject(...faults: Fault[]): void;
  /** Requests each fault hit so far, by name. */
  hits(): Record<string, number>;
  /** Faults of the script that have not hit all their requests yet. */
  pending(): string[];
  /** Every request seen, in order. */
  requests(): LoggedRequest[];
  close(): Promise<void>;
}

// ---- faults, as tests write them ----

/** Requests with this method whose path (without the query) matches; optionally whose body contains `bodyHas`. */
export function request(method: string, pathPattern: RegExp | string, bodyHas?: string): Fault['match'] {
  return (r) => {
    if (r.method !== method) return false;
    const pathOnly = r.path.split('?')[0] ?? r.path;
    const pathOk = typeof pathPattern === 'string' ? pathOnly === pathPattern : pathPattern.test(pathOnly);
    return pathOk && (bodyHas === undefined || r.body.includes(bodyHas));
  };
}

export function answer(status: number, body = '', headers: Record<string, string> = {}): FaultEffect {
  return { answer: { status, body, headers } };
}

/** The back end applies the request, then the driver's connection is reset (RST) instead of the answer arriving. */
export function resetAfterApplied(): FaultEffect {
  return { toxic: { name: 'reset', type: 'reset_peer', stream: 'downstream', attributes: { timeout: 0 } } };
}

/**
 * A black hole for `ms`: the back end applies the request, its answer (and every other answer on the link meanwhile)
 * is dropped; the connection stays open and silent, so the driver must give up on its own deadline.
 */
export function blackHole(ms: number): FaultEffect {
  return {
    toxic: { name: 'black-hole', type: 'timeout', stream: 'downstream', attributes: { timeout: 0 } },
    holdMs: ms,
  };
}

/** Answers delayed by `ms` (± jitter) for `holdMs`. */
export function latency(ms: number, holdMs: number, jitter = 0): FaultEffect {
  return {
    toxic: { name: 'latency', type: 'latency', stream: 'downstream', attributes: { latency: ms, jitter } },
    holdMs,
  };
}

// ---- the layer ----

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'te',
  'trailer',
  'content-length',
]);

function readBody(stream: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The HTTP fault layer in front of `upstream`; `tcp` is the Toxiproxy proxy in front of it (for toxic effects). */
export async function startHttpFaultLayer(upstream: Upstream, tcp?: () => ToxiProxy): Promise<HttpFaultLayer> {
  const target = new URL(upstream.url);
  const secure = target.protocol === 'https:';
  const agent = secure ? new https.Agent({ keepAlive: true, ...upstream.tls }) : new http.Agent({ keepAlive: true });
  const script: (Fault & { hit: number })[] = [];
  const hits: Record<string, number> = {};
  const log: LoggedRequest[] = [];
  let armings = 0;

  const armed = (): (Fault & { hit: number }) | undefined => {
    while (script[0] && script[0].hit >= (script[0].times ?? 1)) script.shift();
    return script[0];
  };

  const forward = (
    req: http.IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: http.OutgoingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: target.host };
      delete headers['connection'];
      const send = secure ? https.request : http.request;
      const out = send(
        {
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...headers, 'content-length': String(body.length) },
          agent,
        },
        (res) => {
          readBody(res).then((data) => {
            const kept: http.OutgoingHttpHeaders = {};
            for (const [k, v] of Object.entries(res.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) kept[k] = v;
            resolve({ status: res.statusCode ?? 502, headers: kept, body: data });
          }, reject);
        },
      );
      out.on('error', reject);
      out.end(body);
    });

  const server = http.createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const seen: LoggedRequest = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        body: body.toString('utf8'),
        headers: req.headers,
      };
      log.push(seen);
      const fault = armed();
      const hit = fault?.match(seen) ? fault : undefined;
      if (hit) {
        hit.hit++;
        hits[hit.name] = (hits[hit.name] ?? 0) + 1;
        seen.fault = hit.name;
      }
      if (hit && 'answer' in hit.effect) {
        const { status, headers = {}, body: text = '' } = hit.effect.answer;
        seen.status = status;
        seen.answer = text.slice(0, 500);
        res.writeHead(status, { 'content-length': Buffer.byteLength(text), ...headers }).end(text);
        return;
      }
      const toxic = hit && 'toxic' in hit.effect ? hit.effect : undefined;
      const proxy = toxic ? tcp?.() : undefined;
      if (toxic && !proxy) throw new Error(`fault ${hit?.name}: a toxic needs the link's Toxiproxy`);
      // Its own name: a toxic the test added to the whole link (e.g. steady latency) may have the same type.
      const armedName = toxic ? `${toxic.toxic.name}-armed-${++armings}` : '';
      if (toxic && proxy) await proxy.addToxic({ ...toxic.toxic, name: armedName });
      try {
        const answered = await forward(req, body);
        seen.status = answered.status;
        seen.answer = answered.body.subarray(0, 500).toString('utf8');
        const closed = toxic
          ? new Promise<void>((resolve) => req.socket.once('close', () => resolve()))
          : Promise.resolve();
        res.writeHead(answered.status, { ...answered.headers, 'content-length': answered.body.length });
        res.end(answered.body);
        if (toxic && proxy) {
          // Written, or cut off by the toxic (a reset can close the socket before the answer is flushed).
          await new Promise<void>((resolve) => {
            res.once('finish', () => resolve());
            res.once('close', () => resolve());
          });
          await (toxic.holdMs === undefined ? Promise.race([closed, sleep(2_000)]) : sleep(toxic.holdMs));
        }
      } finally {
        if (toxic && proxy) await proxy.removeToxic(armedName);
      }
    })().catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' }).end(`fault layer: ${String(err)}`);
      } else {
        res.destroy();
      }
    });
  });
  // Node closes an idle keep-alive connection after 5 s; behind a black hole that close would travel back to the
  // driver and end the hole early. The layer keeps connections as long as the driver does.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 130_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    inject: (...faults) => {
      for (const f of faults) script.push({ ...f, hit: 0 });
    },
    hits: () => ({ ...hits }),
    pending: () => script.filter((f) => f.hit < (f.times ?? 1)).map((f) => f.name),
    requests: () => [...log],
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

/** Toxiproxy in front of the HTTP fault layer in front of the back end. */
export interface FaultyLink {
  /** Where the driver connects (Toxiproxy's port), as http://host:port. */
  url: string;
  http: HttpFaultLayer;
  tcp: ToxiProxy;
  close(): Promise<void>;
}

let links = 0;

export async function faultyLink(toxiproxy: Toxiproxy, name: string, upstream: Upstream): Promise<FaultyLink> {
  const front: { proxy?: ToxiProxy } = {};
  const layer = await startHttpFaultLayer(upstream, () => {
    if (!front.proxy) throw new Error('the link has no Toxiproxy proxy yet');
    return front.proxy;
  });
  const proxy = await toxiproxy.proxy(`${name}-${process.pid}-${++links}`, new URL(layer.url).host);
  front.proxy = proxy;
  return {
    url: `http://${proxy.listen}`,
    http: layer,
    tcp: proxy,
    close: async () => {
      await proxy.delete();
      await layer.close();
    },
  };
}
