/**
 * The bundled sample application: one process is one "container" (replica).
 *
 * Serves every module of the application under `/<Module>/...`:
 *   GET /<Module>/_ping.html  -> 200 "OK" while healthy (the OutSystems health page)
 *   GET /<Module>/<anything>  -> 200 JSON {application, module, version, replica, path}
 *   unknown module            -> 404
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
 *   SAMPLE_ADVERTISED_VERSION version reported instead of CUTOVER_VERSION (a mislabelled build:
 *                             healthy, yet post-switch verification must catch it)
 *   SAMPLE_START_LEDGER       a file this process appends "<replica> <pid> <version>" to when it starts (tests count
 *                             the processes a platform started for each replica: a launch that ran twice shows)
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
  startLedger: string | undefined;
}

function nonNegativeInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
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
    startLedger: process.env.SAMPLE_START_LEDGER || undefined,
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

function main(): void {
  const config = readConfig();
  let shuttingDown = false;
  let healthChecks = 0;

  const startedAt = Date.now();
  const healthy = (): boolean => {
    if (config.health === 'fail') return false;
    if (Date.now() - startedAt < config.healthyAfterMs) return false;
    if (config.health === 'flaky') return healthChecks++ % 2 === 0;
    return true;
  };

  const respond = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    // After shutdown starts, tell keep-alive clients (the router) not to reuse this connection.
    if (shuttingDown) res.setHeader('connection', 'close');
    res.setHeader('x-cutover-version', config.version);
    res.setHeader('x-cutover-replica', config.replica);

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
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        application: config.application,
        module,
        version: config.version,
        replica: config.replica,
        path: url.pathname,
      }),
    );
  };

  const server = http.createServer((req, res) => {
    // Drain any request body so the connection stays reusable.
    req.resume();
    if (config.responseDelayMs > 0) setTimeout(() => respond(req, res), config.responseDelayMs);
    else respond(req, res);
  });

  const shutdown = (signal: string): void => {
    if (shuttingDown) return;
    shuttingDown = true;
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
