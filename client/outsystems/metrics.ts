/**
 * What the hook server counts, and its health probes (docs/operations.md, "Metrics and logs"):
 *
 *   cutover_hook_requests_total{stage,status}            counter   every hook call, by stage (build, run, configs,
 *                                                                  remove) and HTTP status answered
 *   cutover_hook_request_duration_seconds{stage}         histogram how long answering a call took
 *
 * plus prom-client's default process metrics. GET /metrics, /healthz (the process is up) and /readyz (Temporal
 * answers) are served on the hook port without the hook token: they carry no deployment data, and probes and
 * scrapers do not hold the token. `server.probes: false` in the hook configuration turns them off.
 */
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { CutoverClient } from '../client';

/** Answering a hook call takes milliseconds (checks, then starting a workflow); 10 s is the start timeout. */
export const HOOK_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface HookMetrics {
  registry: Registry;
  observe(stage: string, status: number, seconds: number): void;
}

export function createHookMetrics(options: { defaultMetrics?: boolean } = {}): HookMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'cutover_hook_requests_total',
    help: 'Hook calls, by stage (build, run, configs, remove) and the HTTP status answered',
    labelNames: ['stage', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'cutover_hook_request_duration_seconds',
    help: 'How long answering a hook call took, by stage',
    labelNames: ['stage'] as const,
    buckets: HOOK_DURATION_BUCKETS,
    registers: [registry],
  });
  return {
    registry,
    observe(stage, status, seconds) {
      requests.inc({ stage, status: String(status) });
      duration.observe({ stage }, seconds);
    },
  };
}

/** GET /metrics, /healthz and /readyz on the hook server (no token). /readyz asks Temporal for its system info. */
export function registerProbes(app: FastifyInstance, metrics: HookMetrics, client: CutoverClient): void {
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  app.get('/healthz', (_request, reply) => reply.send({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await Promise.race([
        client.temporal.workflowService.getSystemInfo({}),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 2 s')), 2_000).unref()),
      ]);
      return { status: 'ready' };
    } catch (err) {
      reply.code(503);
      return { status: 'not ready', reason: `Temporal is not reachable: ${(err as Error).message}` };
    }
  });
}
