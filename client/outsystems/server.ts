/**
 * The HTTP server a deployment zone in Automatic mode calls: one GET endpoint
 * per hook (`/hooks/container-build`, `/hooks/container-run`,
 * `/hooks/update-configurations`, `/hooks/container-remove`).
 *
 * Per call, in this order: authenticate (token in a URL parameter or a header,
 * compared in constant time: 401 missing, 403 wrong); decode and validate the
 * Base64 parameters (400 naming the parameter); a call without Address is a
 * connection test (200, nothing else); confine the paths to the configured
 * roots (400); map the application to its profile (unknown: an error result
 * file at once); start — or find — the operation's workflow and answer 202
 * as soon as it has started. The work and the result file are the workflow's.
 * Nothing starts unless every check passed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs/promises';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DestinationStream } from 'pino';
import { HOOK_STAGE_NAMES, HOOK_STAGES, resultFileName } from '../../workflows/outsystems/types';
import type { HookOperationInput, HookRoots, HookStage } from '../../workflows/outsystems/types';
import type { CutoverClient } from '../client';
import { applicationNameFrom, buildOptions, hookTimeout, resolveApplication, specPart } from './config';
import type { HookConfig } from './config';
import { HookParamError, parseHookRequest } from './params';
import { createHookMetrics, registerProbes } from './metrics';
import type { HookMetrics } from './metrics';
import { createLogger } from '../../worker/logging';
import {
  confinePath,
  errorResult,
  fileIn,
  PathRejectedError,
  realRoots,
  resultFileExists,
  writeResultFile,
} from '../../shared/outsystems';

export interface HookServerOptions {
  config: HookConfig;
  /** The shared secret (read from the source the configuration names). */
  token: string;
  client: CutoverClient;
  /** One line per call (never the token); default: JSON lines on stderr (pino). */
  log?: (entry: Record<string, unknown>) => void;
  /** Where the calls are counted (served on GET /metrics unless `server.probes` is false); default: a new registry. */
  metrics?: HookMetrics;
  /** Upsert search attributes in the deployments (default true). */
  searchAttributes?: boolean;
  /** How often an operation waiting for another one of the same application checks again (tests shorten it). */
  exclusiveRetryMs?: number;
  /** How long starting a workflow may take before the call is answered 503 (default 10 s). */
  startTimeoutMs?: number;
}

type Query = Record<string, string | string[] | undefined>;

/** The URL path of each hook's endpoint. */
export function hookPath(stage: HookStage): string {
  return `/hooks/${HOOK_STAGES[stage].path}`;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Constant-time comparison (of digests, so the lengths are equal too). */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

function presentedToken(request: FastifyRequest, config: HookConfig): string | string[] | undefined {
  const fromQuery = (request.query as Query)[config.auth.queryParameter];
  if (fromQuery !== undefined) return fromQuery;
  const fromHeader = request.headers[config.auth.header.toLowerCase()];
  if (fromHeader !== undefined) return fromHeader;
  const authorization = request.headers.authorization;
  const bearer = authorization ? /^Bearer\s+(.+)$/i.exec(authorization) : null;
  return bearer?.[1];
}

/** The request URL with the token parameter's value masked, for logs. */
function redactedUrl(url: string, parameter: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const search = new URLSearchParams(url.slice(q + 1));
  if (search.has(parameter)) search.set(parameter, '***');
  return `${url.slice(0, q)}?${search.toString()}`;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The default call log: JSON lines through pino (stderr unless `destination` says otherwise), each entry's fields,
 * with `deploymentId` where a workflow was started.
 */
export function pinoHookLog(destination?: DestinationStream): (entry: Record<string, unknown>) => void {
  const logger = createLogger({ name: 'cutover-hooks', destination });
  return (entry) => {
    const { workflowId, error, ...rest } = entry;
    const fields = workflowId === undefined ? rest : { deploymentId: workflowId, workflowId, ...rest };
    if (error === undefined) logger.info(fields, 'hook call');
    else logger.warn({ ...fields, error }, 'hook call refused or failed');
  };
}

/** Builds the server (not listening yet): resolves the roots first, so a misconfigured root fails at start. */
export async function buildHookServer(options: HookServerOptions): Promise<FastifyInstance> {
  const { config, client } = options;
  const log = options.log ?? pinoHookLog();
  const metrics = options.metrics ?? createHookMetrics();
  const roots: HookRoots = {
    target: await realRoots(config.roots.target, 'target'),
    result: await realRoots(config.roots.result, 'result'),
    config: await realRoots(config.roots.config, 'config'),
  };
  await fs.mkdir(config.buildsRoot, { recursive: true });
  const buildsRoot = await fs.realpath(config.buildsRoot);

  // The query string carries the token: Fastify's own request log (full URLs) stays off. No HEAD routes: Fastify
  // would run the GET handler for a HEAD (and start the operation), and HEAD must be free of effects.
  const app = Fastify({ logger: false, exposeHeadRoutes: false });
  if (config.server.probes) registerProbes(app, metrics, client);

  for (const stage of HOOK_STAGE_NAMES) {
    app.get(hookPath(stage), async (request, reply) => {
      const started = Date.now();
      const answer = await handle(stage, request, reply);
      metrics.observe(stage, reply.statusCode, (Date.now() - started) / 1000);
      log({
        at: new Date().toISOString(),
        hook: stage,
        url: redactedUrl(request.url, config.auth.queryParameter),
        status: reply.statusCode,
        ms: Date.now() - started,
        ...answer.logged,
      });
      return answer.body;
    });
  }

  async function handle(
    stage: HookStage,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<{ body: unknown; logged?: Record<string, unknown> }> {
    const fail = (status: number, error: string, message: string, extra: Record<string, unknown> = {}) => {
      reply.code(status);
      return { body: { error, message, ...extra }, logged: { error: message } };
    };

    // 1. Who is calling.
    const token = presentedToken(request, config);
    if (token === undefined) {
      return fail(401, 'Unauthorized', `a token is required (URL parameter "${config.auth.queryParameter}" or header)`);
    }
    if (Array.isArray(token) || !tokenMatches(token, options.token)) {
      return fail(403, 'Forbidden', 'the token is not valid');
    }

    // 2. What they ask.
    let parsed: ReturnType<typeof parseHookRequest>;
    try {
      parsed = parseHookRequest(stage, request.query as Query);
    } catch (err) {
      if (err instanceof HookParamError) return fail(400, 'BadRequest', err.message, { issues: err.issues });
      throw err;
    }
    if (parsed.kind === 'connection-test') {
      reply.code(200);
      return { body: '', logged: { connectionTest: true } };
    }
    const { call } = parsed;

    // 3. Where it may read and write.
    let paths: HookOperationInput['paths'];
    try {
      const result = await confinePath('ResultPath', parsed.paths.result, roots.result);
      const target =
        stage === 'build' && parsed.paths.target
          ? await confinePath('TargetPath', parsed.paths.target, roots.target)
          : undefined;
      const usesConfig = stage === 'configs' || (stage === 'run' && roots.config.length > 0);
      const configPath =
        usesConfig && parsed.paths.config
          ? await confinePath('ConfigPath', parsed.paths.config, roots.config)
          : undefined;
      paths = { result, target, config: configPath };
    } catch (err) {
      if (err instanceof PathRejectedError) {
        return fail(400, 'BadRequest', err.message, { issues: [{ parameter: err.parameter, message: err.message }] });
      }
      throw err;
    }
    const resultName = resultFileName(call.applicationKey, call.operationId, stage);
    const resultFile = fileIn(paths.result, resultName);

    // 4. Which profile: an unknown application is reported the way LifeTime shows errors, in the result file.
    const resolved = resolveApplication(config, call);
    const unmapped = !resolved
      ? `application "${call.applicationName}" (key ${call.applicationKey}) is not mapped to a deployment profile ` +
        'in the Cutover hook configuration (applications: key or name)'
      : !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(resolved.application)
        ? `cannot derive a Cutover application name from "${call.applicationName}" ` +
          `(got "${applicationNameFrom(call.applicationName)}"); set "application" in its mapping`
        : undefined;
    if (unmapped || !resolved) {
      const message = unmapped ?? 'unknown application';
      await writeResultFile(paths.result, resultName, errorResult(message));
      reply.code(200);
      return { body: { started: false, resultFile, error: message }, logged: { error: message } };
    }

    // 5. Start (or find) the operation's workflow; answer as soon as it has started.
    const input: HookOperationInput = {
      stage,
      call,
      application: resolved.application,
      profile: specPart(resolved.profile),
      build: buildOptions(resolved.profile),
      paths,
      roots,
      buildsRoot,
      hookDeadline: new Date(Date.now() + hookTimeout(config, stage)).toISOString(),
      finishMarginMs: config.finishMargin,
      exclusiveRetryMs: options.exclusiveRetryMs,
      searchAttributes: options.searchAttributes,
    };
    let started: Awaited<ReturnType<CutoverClient['startHookOperation']>>;
    try {
      started = await withTimeout(client.startHookOperation(input), options.startTimeoutMs ?? 10_000, 'Temporal');
    } catch (err) {
      return fail(503, 'Unavailable', `cannot start the operation: ${(err as Error).message}`);
    }
    const logged = { workflowId: started.workflowId, runId: started.runId, application: resolved.application };
    if (started.closed) {
      // Re-delivered after the operation ended: it is not run again; its result file is re-written if gone.
      if (!(await resultFileExists(resultFile))) {
        const content = await client
          .hookResult(started.workflowId)
          .then((r) => r.content)
          .catch((err: Error) => errorResult(`operation ${started.workflowId} ended without a result: ${err.message}`));
        await writeResultFile(paths.result, resultName, content);
      }
      reply.code(200);
      return {
        body: { started: false, alreadyDone: true, ...logged, resultFile },
        logged: { ...logged, redelivery: 'done' },
      };
    }
    reply.code(202);
    return { body: { started: true, ...logged, resultFile }, logged };
  }

  return app;
}
