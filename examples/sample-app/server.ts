/**
 * The bundled sample application: one process is one "container" (replica).
 *
 * Serves every module of the application under `/<Module>/...`:
 *   GET /<Module>/_ping.html  -> 200 "OK" while healthy (the OutSystems health page)
 *   any /<Module>/<anything>  -> 200 JSON {application, module, version, replica, path, method, requestId, bodyBytes}
 *   unknown module            -> 404
 *   GET /_drain               -> marks the replica draining: from then on every answer carries `Connection: close`
 *                                (keep-alive clients such as a router or kube-proxy'd client open a new connection,
 *                                to another replica), idle keep-alive connections are closed and the health pages
 *                                answer 503; it answers 200 {"drained", "inFlight", "waitedMs"} once no other request
 *                                is in flight, or after SAMPLE_DRAIN_MAX_MS. Made for a Kubernetes preStop hook
 *                                (`platform.preStop: {httpGet: {path: /_drain}}`): the kubelet sends SIGTERM only
 *                                after it answered, so the requests in flight finish first.
 *
 * Request headers it honours (what a test's load generator sends):
 *   x-request-id              echoed in the response (header and body) and written to the delivery log
 *   x-sample-delay-ms         latency added to this request only (at most 30 s): a slow request
 *
 * Environment (all optional):
 *   PORT                      port to listen on; 0 (default) picks a free one
 *   HOST                      address to bind (default 127.0.0.1)
 *   CUTOVER_APP               application name
 *   CUTOVER_VERSION           version reported in `x-cutover-version`
 *   CUTOVER_MODULES           comma-separated module names
 *   CUTOVER_REPLICA_ID        replica id reported in `x-cutover-replica`
 *   CUTOVER_READY_FILE        after listening, {"pid","port"} is written here atomically
 *   SAMPLE_HEALTH             ok (default) | fail (health page answers 503) | flaky (every other check fails)
 *   SAMPLE_START_DELAY_MS     delay before listening (a slow start)
 *   SAMPLE_RESPONSE_DELAY_MS  latency added to every request
 *   SAMPLE_HEALTHY_AFTER_MS   the health page fails until this long after start (slow warm-up)
 *   SAMPLE_ERROR_RATE         fraction (0..1) of page requests answered 500 (a bad build; the health page stays
 *                             healthy): every request whose running count crosses the next multiple of 1/rate
 *   SAMPLE_ADVERTISED_VERSION version reported instead of CUTOVER_VERSION (a mislabelled build:
 *                             healthy, yet post-switch verification must catch it)
 *   SAMPLE_DRAIN_MAX_MS       the longest GET /_drain waits for the requests in flight (default 20000; keep it
 *                             below the pod's grace period, which the preStop hook counts against)
 *   SAMPLE_START_LEDGER       a file this process appends "<replica> <pid> <version>" to when it starts (tests count
 *                             the processes a platform started for each replica: a launch that ran twice shows)
 *   SAMPLE_DELIVERY_LOG       a file this replica appends one JSON line to per event: a request carrying
 *                             x-request-id received / answered / aborted, and its own SIGTERM. Every replica of
 *                             a test appends to the same file (O_APPEND: lines never interleave, and their order
 *                             is the order of the events), so a test can prove that no request was delivered
 *                             twice and that a replica was stopped only once nothing was in flight on it.
 *                             "-" writes the lines to standard output instead, among the app's own log lines
 *                             (a pod's container log: test/support/pod-deliveries.ts reads it back).
 *
 * SIGTERM/SIGINT stop it gracefully: no new connections, in-flight requests
 * finish (answered with `Connection: close`), idle keep-alive connections are
 * closed, exit 0; a hard exit follows after 10 s.
 *
 * Deliberately self-contained (node:http and node:fs only): it stands for
 * somebody else's application, not for Cutover code.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';

const HARD_EXIT_AFTER_MS = 10_000;
/** The longest x-sample-delay-ms honoured. */
const MAX_REQUEST_DELAY_MS = 30_000;
/** How often GET /_drain looks whether the requests in flight have finished. */
const DRAIN_POLL_MS = 50;
/** Request bodies are counted, not kept; beyond this size the request is refused. */
const MAX_BODY_BYTES = 1024 * 1024;

interface AppConfig {
  port: number;
  host: string;
  application: string;
  version: string;
  modules: Set<string>;
  replica: string;
  readyFile: string | undefined;
  health: 'ok' | 'fail' | 'flaky';
  startDelayMs: number;
  responseDelayMs: number;
  healthyAfterMs: number;
  errorRate: number;
  drainMaxMs: number;
  startLedger: string | undefined;
  deliveryLog: string | undefined;
}

function nonNegativeInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

function fraction(name: string): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return 0;
  const value = Number(raw);
  if (!(value >= 0 && value <= 1)) throw new Error(`${name} must be a number from 0 to 1, got "${raw}"`);
  return value;
}

function readConfig(): AppConfig {
  const health = process.env.SAMPLE_HEALTH ?? 'ok';
  if (health !== 'ok' && health !== 'fail' && health !== 'flaky') {
    throw new Error(`SAMPLE_HEALTH must be ok, fail or flaky, got "${health}"`);
  }
  return {
    port: nonNegativeInt('PORT', 0),
    host: process.env.HOST || '127.0.0.1',
    application: process.env.CUTOVER_APP ?? 'sample',
    version: process.env.SAMPLE_ADVERTISED_VERSION || (process.env.CUTOVER_VERSION ?? '0.0.0'),
    modules: new Set(
      (process.env.CUTOVER_MODULES ?? '')
        .split(',')
        .map((m) => m.trim())
        .filter(Boolean),
    ),
    replica: process.env.CUTOVER_REPLICA_ID ?? `pid-${process.pid}`,
    readyFile: process.env.CUTOVER_READY_FILE || undefined,
    health,
    startDelayMs: nonNegativeInt('SAMPLE_START_DELAY_MS', 0),
    responseDelayMs: nonNegativeInt('SAMPLE_RESPONSE_DELAY_MS', 0),
    healthyAfterMs: nonNegativeInt('SAMPLE_HEALTHY_AFTER_MS', 0),
    errorRate: fraction('SAMPLE_ERROR_RATE'),
    drainMaxMs: nonNegativeInt('SAMPLE_DRAIN_MAX_MS', 20_000),
    startLedger: process.env.SAMPLE_START_LEDGER || undefined,
    deliveryLog: process.env.SAMPLE_DELIVERY_LOG || undefined,
  };
}

function log(message: string): void {
  process.stdout.write(`${new Date().toISOString()} ${message}\n`);
}

/** temp + rename, so a reader never sees a half-written file. */
function writeReadyFile(file: string, port: number): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify({ pid: process.pid, port }));
  fs.renameSync(tmp, file);
}

/**
 * Appends events to SAMPLE_DELIVERY_LOG (one write per line on an O_APPEND descriptor), or to standard output for
 * "-" (synchronous for files and pipes on Linux, like log()); a no-op without it.
 */
function openDeliveryLog(config: AppConfig): (event: Record<string, unknown>) => void {
  if (!config.deliveryLog) return () => undefined;
  const line = (event: Record<string, unknown>) =>
    `${JSON.stringify({ ...event, version: config.version, replica: config.replica })}\n`;
  if (config.deliveryLog === '-') {
    return (event) => {
      process.stdout.write(line(event));
    };
  }
  const fd = fs.openSync(config.deliveryLog, 'a');
  return (event) => {
    fs.writeSync(fd, line(event));
  };
}

function headerOf(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function main(): void {
  const config = readConfig();
  const deliveryLog = openDeliveryLog(config);
  let shuttingDown = false;
  /** GET /_drain was called: answers close their connection, health pages fail. */
  let draining = false;
  /** Requests received and not answered yet (GET /_drain itself not counted). */
  let inFlight = 0;
  let healthChecks = 0;
  let pages = 0;

  const startedAt = Date.now();
  const healthy = (): boolean => {
    if (config.health === 'fail' || draining) return false;
    if (Date.now() - startedAt < config.healthyAfterMs) return false;
    if (config.health === 'flaky') return healthChecks++ % 2 === 0;
    return true;
  };

  const respond = (req: http.IncomingMessage, res: http.ServerResponse, bodyBytes: number): void => {
    // After shutdown or a drain starts, tell keep-alive clients (the router) not to reuse this connection.
    if (shuttingDown || draining) res.setHeader('connection', 'close');
    res.setHeader('x-cutover-version', config.version);
    res.setHeader('x-cutover-replica', config.replica);
    const requestId = headerOf(req, 'x-request-id');
    if (requestId !== undefined) res.setHeader('x-request-id', requestId);

    let url: URL;
    let module: string;
    try {
      url = new URL(req.url ?? '/', 'http://app.invalid');
      module = decodeURIComponent(url.pathname.split('/')[1] ?? '');
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('malformed URL');
      return;
    }
    if (!config.modules.has(module)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: `unknown module "${module}"`, modules: [...config.modules] }));
      return;
    }
    if (url.pathname === `/${module}/_ping.html`) {
      const ok = healthy();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/html' });
      res.end(ok ? 'OK' : 'UNHEALTHY');
      return;
    }
    pages++;
    if (config.errorRate > 0 && Math.floor(pages * config.errorRate) > Math.floor((pages - 1) * config.errorRate)) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'injected error (SAMPLE_ERROR_RATE)', version: config.version }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        application: config.application,
        module,
        version: config.version,
        replica: config.replica,
        path: url.pathname,
        method: req.method,
        requestId: requestId ?? null,
        bodyBytes,
      }),
    );
  };

  /** GET /_drain: see the header. */
  const drain = (res: http.ServerResponse): void => {
    const first = !draining;
    draining = true;
    if (first) {
      deliveryLog({ event: 'draining', inFlight });
      log(`draining: ${inFlight} request(s) in flight`);
    }
    server.closeIdleConnections();
    const started = Date.now();
    const answer = (): void => {
      const waitedMs = Date.now() - started;
      if (inFlight > 0 && waitedMs < config.drainMaxMs) {
        setTimeout(answer, DRAIN_POLL_MS);
        return;
      }
      log(`drained: ${inFlight} request(s) still in flight after ${waitedMs} ms`);
      res.writeHead(200, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ drained: inFlight === 0, inFlight, waitedMs }));
    };
    answer();
  };

  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && (req.url ?? '').split('?')[0] === '/_drain') {
      req.resume();
      drain(res);
      return;
    }
    inFlight++;
    res.once('close', () => inFlight--);
    const requestId = headerOf(req, 'x-request-id');
    if (requestId !== undefined) {
      deliveryLog({ event: 'received', id: requestId, method: req.method });
      res.once('close', () => {
        deliveryLog({ event: res.writableFinished ? 'answered' : 'aborted', id: requestId, status: res.statusCode });
      });
    }
    const requested = Number(headerOf(req, 'x-sample-delay-ms') ?? 0);
    const delayMs =
      config.responseDelayMs +
      (Number.isFinite(requested) ? Math.min(Math.max(0, requested), MAX_REQUEST_DELAY_MS) : 0);
    // Read the whole body (counting it) so the connection stays reusable and the answer can say what arrived.
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => {
      bodyBytes += chunk.length;
      if (bodyBytes > MAX_BODY_BYTES && !res.headersSent) {
        res.writeHead(413, { 'content-type': 'text/plain', connection: 'close' });
        res.end('request body too large');
        req.destroy();
      }
    });
    req.once('end', () => {
      if (res.headersSent) return;
      if (delayMs > 0) setTimeout(() => respond(req, res, bodyBytes), delayMs);
      else respond(req, res, bodyBytes);
    });
  });

  const shutdown = (signal: string): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    deliveryLog({ event: 'stopping', signal });
    log(`${signal}: shutting down gracefully`);
    setTimeout(() => {
      log(`still busy after ${HARD_EXIT_AFTER_MS} ms: exiting hard`);
      process.exit(1);
    }, HARD_EXIT_AFTER_MS).unref();
    // close() stops accepting and resolves once every connection has ended;
    // closeIdleConnections() ends the idle keep-alive ones now, busy ones end
    // after their response because of `Connection: close`.
    server.close(() => {
      log('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  // One line per process, appended in one write (O_APPEND): lines of processes starting at once never interleave.
  if (config.startLedger) fs.appendFileSync(config.startLedger, `${config.replica} ${process.pid} ${config.version}\n`);

  const listen = (): void => {
    if (shuttingDown) return;
    server.listen(config.port, config.host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      log(
        `${config.application} ${config.version} replica ${config.replica} listening on http://${config.host}:${port} ` +
          `(modules: ${[...config.modules].join(', ') || 'none'}; health: ${config.health})`,
      );
      if (config.readyFile) writeReadyFile(config.readyFile, port);
    });
  };
  if (config.startDelayMs > 0) {
    log(`starting in ${config.startDelayMs} ms`);
    setTimeout(listen, config.startDelayMs);
  } else {
    listen();
  }
}

main();
