/**
 * The local router's admin API (bound to 127.0.0.1 on its own port):
 *
 *   GET    /healthz
 *   GET    /rules                          all backends, module rules and previews
 *   GET    /stats                          {inFlight: {<target>: n}, streams: {<target>: n}, requests, failed, retries,
 *                                            backends: {<backend>: {requests, byClass: {2xx, 3xx, 4xx, 5xx}}},
 *                                            ruleWrites}
 *                                           (streams: long-lived responses, server-sent events, not in inFlight;
 *                                           backends: answers since the start, "default" for the default rule's
 *                                           target, "none" for the 502/504 the router answered itself;
 *                                           ruleWrites: writes of the rule file since the start, one per change)
 *   GET    /metrics                        the same counts and more in Prometheus' text format (router-metrics.ts)
 *   PUT    /backends/:name                 {"targets": [url...]}  create or replace
 *   GET    /backends/:name                 404 if absent
 *   DELETE /backends/:name                 409 while a rule or preview uses it
 *   POST   /backends/:name/register        {"targets": [...]}  add (idempotent; 404 if absent)
 *   POST   /backends/:name/deregister      {"targets": [...]}  remove (idempotent)
 *   PUT    /rules                          {"modules": {"<module>": {"backends": [{"backend", "weight"}]}, ...}}
 *                                           many modules' rules as one change (a switch): every rule is checked
 *                                           first (400 naming the field, e.g. modules.Cart.backends[0].backend,
 *                                           and nothing changes), then all are written to disk in one write;
 *                                           an empty "modules" changes nothing (no write). At most 1,000 modules.
 *   PUT    /rules/:module                  {"backends": [{"backend", "weight"}]}  (400 if a backend is unknown)
 *   DELETE /rules/:module                  the default rule serves the module again
 *   PUT    /rules/:module/preview          {"backend"}
 *   DELETE /rules/:module/preview
 *
 * Errors answer {"error", "message"}; 400 messages name the offending field.
 * Every change is on disk before it is acknowledged (see RuleTable).
 */
import { STATUS_CODES } from 'node:http';
import fastify from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WeightedBackend } from '../../ports';
import type { ProxyStats } from './router-proxy';
import type { RuleTable } from './router-state';
import {
  AdminError,
  backendNameSchema,
  moduleNameSchema,
  mutations,
  parseOr400,
  previewBodySchema,
  ruleBodySchema,
  rulesBodySchema,
  targetsBodySchema,
} from './router-state';

export interface AdminOptions {
  table: RuleTable;
  stats: ProxyStats;
  defaultTarget: string;
}

function param(request: FastifyRequest, key: 'name' | 'module'): string {
  const value = (request.params as Record<string, string | undefined>)[key];
  return parseOr400(key === 'name' ? backendNameSchema : moduleNameSchema, value, key);
}

/**
 * The admin server (not listening yet). Path parameters up to 1,000 characters reach the handlers, so a name too long
 * is refused naming the parameter (Fastify's default, 100, would answer a bare 404).
 */
export function createAdminServer(options: AdminOptions): FastifyInstance {
  const app = fastify({
    logger: false,
    routerOptions: { maxParamLength: 1000 },
    // A path whose percent-encoding is not UTF-8 never reaches a route: say so, naming the path.
    frameworkErrors: (error, _request, reply) => {
      void (reply as FastifyReply).code(400).send({ error: 'Bad Request', message: `path: ${error.message}` });
    },
  });
  registerAdmin(app, options);
  return app;
}

export function registerAdmin(app: FastifyInstance, { table, stats, defaultTarget }: AdminOptions): void {
  app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    const status = error instanceof AdminError ? error.statusCode : (error.statusCode ?? 500);
    // Fastify's own 4xx (a body that is not JSON, empty, too large, of another content type) are about the body.
    const message = error instanceof AdminError || status >= 500 ? error.message : `body: ${error.message}`;
    void reply.code(status).send({ error: STATUS_CODES[status] ?? 'Error', message });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: 'Not Found', message: `no admin route ${request.method} ${request.url}` });
  });

  app.get('/healthz', (_request, reply) => reply.send({ status: 'ok' }));

  app.get('/rules', (_request, reply) => {
    const json = table.toJson();
    const modules = new Set([...Object.keys(json.rules), ...Object.keys(json.previews)]);
    const rules: Record<string, { backends: { backend: string; weight: number }[]; preview?: string }> = {};
    for (const module of [...modules].sort()) {
      const preview = json.previews[module];
      rules[module] = { backends: json.rules[module]?.backends ?? [], ...(preview ? { preview } : {}) };
    }
    return reply.send({ defaultTarget, backends: json.backends, rules });
  });

  app.get('/stats', (_request, reply) => {
    const inFlight: Record<string, number> = { [defaultTarget]: 0 };
    for (const targets of table.current.backends.values()) for (const t of targets) inFlight[t] = 0;
    for (const [target, n] of stats.inFlight) inFlight[target] = n;
    const streams = Object.fromEntries(stats.streams);
    return reply.send({
      inFlight,
      streams,
      requests: stats.requests,
      failed: stats.failed,
      retries: stats.retries,
      backends: stats.metrics.tallies(),
      ruleWrites: table.writes,
    });
  });

  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await stats.metrics.exposition();
    return reply.type(contentType).send(body);
  });

  app.put('/backends/:name', async (request) => {
    const name = param(request, 'name');
    const { targets } = parseOr400(targetsBodySchema, request.body);
    return { name, targets: await table.mutate(mutations.putBackend(name, targets)) };
  });

  app.get('/backends/:name', (request, reply) => {
    const name = param(request, 'name');
    const targets = table.current.backends.get(name);
    if (!targets) throw new AdminError(404, `backend "${name}" does not exist`);
    return reply.send({ name, targets });
  });

  app.delete('/backends/:name', async (request) => {
    const name = param(request, 'name');
    return { name, deleted: await table.mutate(mutations.deleteBackend(name)) };
  });

  app.post('/backends/:name/register', async (request) => {
    const name = param(request, 'name');
    const { targets } = parseOr400(targetsBodySchema, request.body);
    return { name, targets: await table.mutate(mutations.register(name, targets)) };
  });

  app.post('/backends/:name/deregister', async (request) => {
    const name = param(request, 'name');
    const { targets } = parseOr400(targetsBodySchema, request.body);
    return { name, targets: await table.mutate(mutations.deregister(name, targets)) };
  });

  app.put('/rules', async (request) => {
    const { modules } = parseOr400(rulesBodySchema, request.body);
    const rules = Object.entries(modules).map(([module, rule]): [string, WeightedBackend[]] => [module, rule.backends]);
    if (rules.length > 0) await table.mutate(mutations.putRules(rules));
    return { modules };
  });

  app.put('/rules/:module', async (request) => {
    const module = param(request, 'module');
    const { backends } = parseOr400(ruleBodySchema, request.body);
    return { module, backends: await table.mutate(mutations.putRule(module, backends)) };
  });

  app.delete('/rules/:module', async (request) => {
    const module = param(request, 'module');
    return { module, deleted: await table.mutate(mutations.deleteRule(module)) };
  });

  app.put('/rules/:module/preview', async (request) => {
    const module = param(request, 'module');
    const { backend } = parseOr400(previewBodySchema, request.body);
    await table.mutate(mutations.putPreview(module, backend));
    return { module, preview: backend };
  });

  app.delete('/rules/:module/preview', async (request) => {
    const module = param(request, 'module');
    return { module, deleted: await table.mutate(mutations.deletePreview(module)) };
  });
}
