/**
 * The worker as a process that operators run (`cutover worker`, `node dist/worker/main.js`): JSON logs through pino,
 * the Temporal SDK's metrics on their own Prometheus port, Cutover's metrics with /healthz and /readyz on another,
 * and a graceful SIGTERM. docs/operations.md ("Metrics and logs") is the operator's view of all this.
 *
 * Environment (each bad value is an error naming the variable):
 *   CUTOVER_METRICS_PORT            Cutover's /metrics, /healthz, /readyz (default 9464; 0 = any free port)
 *   CUTOVER_METRICS_HOST            its bind address (default 0.0.0.0)
 *   CUTOVER_SDK_METRICS_ADDRESS     the SDK's Prometheus exporter, host:port (default 0.0.0.0:9465; "off" = none)
 *   CUTOVER_SHUTDOWN_GRACE          how long in-flight activities may run on after SIGTERM (default 30s)
 *   CUTOVER_APPROVALS_POLL_INTERVAL how often the approvals gauges are refreshed (default 15s)
 *   CUTOVER_LOG_LEVEL               trace | debug | info | warn | error (default info)
 *   CUTOVER_MAX_CACHED_WORKFLOWS, CUTOVER_MAX_CONCURRENT_WORKFLOW_TASKS, CUTOVER_MAX_CONCURRENT_ACTIVITIES:
 *                                   the cache and concurrency (worker/tuning.ts)
 */
import { Client } from '@temporalio/client';
import { Runtime } from '@temporalio/worker';
import type { NativeConnection, RuntimeOptions, Worker, WorkerOptions } from '@temporalio/worker';
import type { Logger as PinoLogger } from 'pino';
import { connectionOptions, temporalConfigFromEnv } from '../client/connection';
import { portFromEnv, startOpsServer } from './health';
import type { Readiness } from './health';
import { createLogger, logLevelFromEnv, TemporalPinoLogger } from './logging';
import { createWorkerMetrics } from './metrics';
import { tuningFromEnv } from './tuning';
import type { CutoverWorkerOptions } from '.';

export const DEFAULT_METRICS_PORT = 9464;
export const DEFAULT_SDK_METRICS_ADDRESS = '0.0.0.0:9465';
export const DEFAULT_SHUTDOWN_GRACE_MS = 30_000;
export const DEFAULT_APPROVALS_POLL_MS = 15_000;

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000 };

/** A duration like "30s", "1500ms", "2m" or a plain number of milliseconds; a bad value names the variable. */
export function durationFromEnv(name: string, fallbackMs: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallbackMs;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(raw.trim());
  if (!m) throw new Error(`${name} must be a duration such as 30s, 1500ms or 2m (got "${raw}")`);
  return Math.round(Number(m[1]) * (UNITS[m[2] ?? 'ms'] ?? 1));
}

/** host:port, or undefined for "off". */
export function sdkMetricsAddressFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const raw = env.CUTOVER_SDK_METRICS_ADDRESS ?? DEFAULT_SDK_METRICS_ADDRESS;
  if (raw === 'off') return undefined;
  if (!/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/.test(raw)) {
    throw new Error(`CUTOVER_SDK_METRICS_ADDRESS must be host:port or "off" (got "${raw}")`);
  }
  return raw;
}

/** Installs the SDK runtime: its logger through pino, its metrics on a Prometheus port. Once per process. */
function installRuntime(log: PinoLogger, sdkMetrics: string | undefined): void {
  const options: RuntimeOptions = {
    logger: new TemporalPinoLogger(log),
    telemetryOptions: {
      logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
      ...(sdkMetrics ? { metrics: { prometheus: { bindAddress: sdkMetrics, useSecondsForDurations: true } } } : {}),
    },
  };
  Runtime.install(options);
}

async function readiness(worker: Worker, connection: NativeConnection): Promise<Readiness> {
  const state = worker.getState();
  if (state !== 'RUNNING') return { ready: false, reason: `worker is ${state.toLowerCase()}` };
  try {
    const answer = await Promise.race([
      connection.healthService.check({}),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 2 s')), 2_000).unref()),
    ]);
    // grpc.health.v1 ServingStatus (@temporalio/proto is only a dev dependency): 1 = SERVING.
    if (Number(answer.status) !== 1)
      return { ready: false, reason: `Temporal health check answered ${String(answer.status)}` };
  } catch (err) {
    return { ready: false, reason: `Temporal is not reachable: ${(err as Error).message}` };
  }
  return { ready: true, reason: 'polling' };
}

type CreateWorker = (
  opts: CutoverWorkerOptions,
) => Promise<{ worker: Worker; connection: NativeConnection; close: () => Promise<void> }>;

/** Runs until SIGINT/SIGTERM (the SDK's shutdown signals): stops polling, lets activities finish within the grace. */
export async function runOperatedWorker(opts: CutoverWorkerOptions, createWorker: CreateWorker): Promise<void> {
  const env = process.env;
  const log = createLogger({ name: 'cutover-worker', level: logLevelFromEnv(env) });
  const metricsPort = portFromEnv('CUTOVER_METRICS_PORT', DEFAULT_METRICS_PORT, env);
  const metricsHost = env.CUTOVER_METRICS_HOST || '0.0.0.0';
  const sdkMetrics = sdkMetricsAddressFromEnv(env);
  const graceMs = durationFromEnv('CUTOVER_SHUTDOWN_GRACE', DEFAULT_SHUTDOWN_GRACE_MS, env);
  const pollMs = durationFromEnv('CUTOVER_APPROVALS_POLL_INTERVAL', DEFAULT_APPROVALS_POLL_MS, env);
  const config = { ...temporalConfigFromEnv(), ...opts.temporal };
  // Checked here so that a bad address or count fails before the runtime is installed.
  connectionOptions(config);
  tuningFromEnv(env);

  installRuntime(log, sdkMetrics);
  const metrics = createWorkerMetrics();
  const extra: Partial<WorkerOptions> = {
    sinks: metrics.sinks,
    interceptors: {
      activity: [metrics.activityInterceptor],
      // With a prebuilt bundle the SDK ignores workflowModules: the bundle must be built with the module instead.
      ...(opts.workflowBundle ? {} : { workflowModules: [require.resolve('../workflows/metrics-interceptor')] }),
    },
    shutdownGraceTime: graceMs,
    // A last resort past the grace: run() then fails, and the process exits non-zero.
    shutdownForceTime: graceMs + 15_000,
  };
  const { worker, connection, close } = await createWorker({
    ...opts,
    options: { ...extra, ...opts.options },
  });

  const ops = await startOpsServer({
    registry: metrics.registry,
    readiness: () => readiness(worker, connection),
    port: metricsPort,
    host: metricsHost,
  });
  const stopPolling = metrics.startApprovalPolling(
    new Client({ connection, namespace: config.namespace }),
    pollMs,
    (err) => log.warn({ err: (err as Error).message }, 'approvals poll failed'),
  );
  const onSignal = (signal: NodeJS.Signals) =>
    log.info(
      { signal, inFlightActivities: metrics.inFlight(), graceMs },
      'shutting down: polling stops, in-flight activities may finish within the grace',
    );
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);

  log.info(
    {
      taskQueue: config.taskQueue,
      address: config.address,
      namespace: config.namespace,
      metrics: `http://${ops.address}/metrics`,
      sdkMetrics: sdkMetrics ? `http://${sdkMetrics}/metrics` : 'off',
    },
    `cutover worker polling task queue "${config.taskQueue}" on ${config.address} (namespace ${config.namespace})`,
  );
  try {
    await worker.run();
    log.info({ inFlightActivities: metrics.inFlight() }, 'worker stopped');
  } finally {
    stopPolling();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await ops.close();
    await close();
  }
}
