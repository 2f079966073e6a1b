/**
 * The files the nginx driver writes into `confDir`, and how it reads them back. Pure: no I/O.
 *
 *   backend.<backend>.upstream   http context   upstream cutover_b_<backend> { server ip:port; ... }
 *   module.<Module>.upstream     http context   split_clients (weights) + map on the preview header
 *   <Module>.location            server context location /<Module>/ and = /<Module> -> proxy_pass http://$cutover_upstream
 *   cutover@vars.upstream        http context   $cutover_backend (for the x-cutover-backend header), and the metrics
 *                                               log's format (log_format cutover_metrics, $cutover_code_class)
 *   cutover@close.location       server context location @cutover_close (answers with Connection: close)
 *   cutover.drain                in `location /`  the same close-while-reloading hook for the platform server's route
 *
 * The operator's nginx.conf includes `<confDir>/*.upstream` in `http {}`, `<confDir>/*.location` in the `server {}`
 * and `<confDir>/*.drain` in `location /` (see docs/routers.md). Every file starts with a comment carrying its state
 * as JSON, which is what readRules()/describeBackend() read.
 *
 * With `metricsLog` set, every module location also logs each request to that file in the `cutover_metrics` format
 * (module, backend, status class, seconds, then nginx's combined format), which `cutover-router.mtail` (beside this
 * file) turns into the local router's metrics: the same analysis queries work through nginx (docs/routers.md).
 */
import { createHash } from 'node:crypto';
import type { WeightedBackend } from '../../ports';

/** The backend name of the platform server (`location /` and the upstream it proxies to). */
export const DEFAULT_BACKEND = 'default';

/** Exists while a reload is under way: every response then carries `Connection: close`. */
export const FLAG_FILE = 'cutover.reloading';
export const CLOSE_LOCATION_FILE = 'cutover@close.location';
export const VARS_FILE = 'cutover@vars.upstream';
export const DRAIN_FILE = 'cutover.drain';

export interface RenderContext {
  confDir: string;
  /** The upstream `location /` proxies to (backend "default"). */
  defaultUpstream: string;
  previewHeader: string;
  /** Where module locations log each request for the router metrics (`cutover_metrics` format); unset: no log. */
  metricsLog?: string;
}

export interface ModuleState {
  module: string;
  /** The live rule; empty when only a preview route exists (the platform server serves live traffic). */
  backends: WeightedBackend[];
  preview?: string;
}

export interface BackendState {
  backend: string;
  targets: string[];
}

export const backendFile = (backend: string) => `backend.${backend}.upstream`;
export const moduleHttpFile = (module: string) => `module.${module}.upstream`;
export const moduleLocationFile = (module: string) => `${module}.location`;

const MARK = '# cutover';

function hash6(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 6);
}

/** nginx variable names are case-insensitive and [A-Za-z0-9_]: sanitise, and add a hash of the exact name. */
function varSuffix(module: string): string {
  return `${module.toLowerCase().replace(/[^a-z0-9_]/g, '_')}_${hash6(module)}`;
}

export function upstreamName(backend: string, ctx: RenderContext): string {
  return backend === DEFAULT_BACKEND ? ctx.defaultUpstream : `cutover_b_${backend}`;
}

function flagPath(ctx: RenderContext): string {
  return `${ctx.confDir.replace(/\/+$/, '')}/${FLAG_FILE}`;
}

function header(kind: string, state: unknown): string {
  return `${MARK} ${kind}=${JSON.stringify(state)}\n# Written by Cutover: do not edit (rewritten on every change).\n`;
}

/** The state JSON in a file's first line, or undefined (not a Cutover file, or not of this kind). */
export function parseState<T>(text: string, kind: string): T | undefined {
  const first = text.split('\n', 1)[0] ?? '';
  const prefix = `${MARK} ${kind}=`;
  if (!first.startsWith(prefix)) return undefined;
  try {
    return JSON.parse(first.slice(prefix.length)) as T;
  } catch {
    return undefined;
  }
}

/** "host:port" of an http:// target, as nginx's `server` takes it. */
export function serverAddress(target: string): string {
  return new URL(target).host;
}

export function renderBackend(state: BackendState): string {
  const servers = state.targets.length
    ? state.targets.map((t) => `    server ${serverAddress(t)} max_fails=1 fail_timeout=2s;`)
    : ['    server 127.0.0.1:9 down; # no target: requests get 502'];
  return (
    header('backend', state) +
    `upstream cutover_b_${state.backend} {\n` +
    `${servers.join('\n')}\n` +
    // Idle connections to the replicas are reused, and closed before a Node.js replica (5 s) closes them itself.
    '    keepalive 32;\n' +
    '    keepalive_timeout 4s;\n' +
    '}\n'
  );
}

/** Weights as split_clients percentages (zero weights left out; the last one takes the rest, "*"). */
function splitLines(backends: WeightedBackend[], ctx: RenderContext): string[] {
  const positive = backends.filter((b) => b.weight > 0);
  const total = positive.reduce((sum, b) => sum + b.weight, 0);
  return positive.map((b, i) => {
    const share = i === positive.length - 1 ? '*' : `${(Math.floor((b.weight * 10_000) / total) / 100).toFixed(2)}%`;
    return `    ${share} ${upstreamName(b.backend, ctx)};`;
  });
}

export function renderModuleHttp(state: ModuleState, ctx: RenderContext): string {
  const suffix = varSuffix(state.module);
  const positive = state.backends.filter((b) => b.weight > 0);
  let live: string;
  let split = '';
  if (positive.length === 0) {
    live = ctx.defaultUpstream;
  } else if (positive.length === 1) {
    live = upstreamName((positive[0] as WeightedBackend).backend, ctx);
  } else {
    live = `$cutover_w_${suffix}`;
    split = `split_clients "\${request_id}" $cutover_w_${suffix} {\n${splitLines(state.backends, ctx).join('\n')}\n}\n`;
  }
  const headerVar = `$http_${ctx.previewHeader.toLowerCase().replace(/-/g, '_')}`;
  const preview = state.preview ? `    default ${upstreamName(state.preview, ctx)};\n` : '';
  return (
    header('module', state) +
    split +
    // Requests carrying the preview header (any non-empty value) go to the preview backend.
    `map ${headerVar} $cutover_m_${suffix} {\n    "" ${live};\n${preview || `    default ${live};\n`}}\n`
  );
}

/** The proxy settings of every location Cutover writes. */
function proxyLines(indent: string): string {
  return [
    'proxy_http_version 1.1;',
    'proxy_set_header Connection "";',
    'proxy_set_header Host $host;',
    'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    'proxy_set_header X-Forwarded-Proto $scheme;',
    'add_header x-cutover-backend $cutover_backend always;',
  ]
    .map((l) => `${indent}${l}\n`)
    .join('');
}

/** The log format of the metrics log; cutover-router.mtail parses the first four fields (keep the two in step). */
export const METRICS_LOG_FORMAT = 'cutover_metrics';

export function renderModuleLocation(state: ModuleState, ctx: RenderContext): string {
  const suffix = varSuffix(state.module);
  // A location's access_log replaces the ones it would inherit: with a metrics log, module requests are logged there
  // only (its lines end with the combined format, so it serves as their access log too: docs/routers.md).
  const metrics = ctx.metricsLog
    ? [`    set $cutover_module ${state.module};\n`, `    access_log ${ctx.metricsLog} ${METRICS_LOG_FORMAT};\n`]
    : ['', ''];
  const body =
    `    set $cutover_upstream $cutover_m_${suffix};\n` +
    metrics[0] +
    '    error_page 418 = @cutover_close;\n' +
    `    if (-f ${flagPath(ctx)}) { return 418; }\n` +
    '    proxy_pass http://$cutover_upstream;\n' +
    metrics[1] +
    proxyLines('    ');
  return (
    header('module', state) + `location /${state.module}/ {\n${body}}\n` + `location = /${state.module} {\n${body}}\n`
  );
}

/**
 * While the flag file exists (during a reload), requests are answered from this location, whose
 * keepalive_timeout 0 makes the response carry `Connection: close`: a client never gets a keep-alive connection
 * from a worker that is about to exit (which would close it under a request the client is sending).
 */
export function renderCloseLocation(ctx: RenderContext): string {
  return (
    `${MARK} layout\n# Written by Cutover: do not edit.\n` +
    'location @cutover_close {\n' +
    `    if ($cutover_upstream = "") { set $cutover_upstream ${ctx.defaultUpstream}; }\n` +
    '    keepalive_timeout 0;\n' +
    '    proxy_pass http://$cutover_upstream;\n' +
    // Module requests answered here during a reload are logged like the others (the module location set
    // $cutover_module before sending them here); requests of `location /` are not ($cutover_module is empty).
    (ctx.metricsLog ? `    access_log ${ctx.metricsLog} ${METRICS_LOG_FORMAT} if=$cutover_module;\n` : '') +
    proxyLines('    ') +
    '}\n'
  );
}

/**
 * $cutover_backend, and what the metrics log needs. The log format and its variables are defined whether or not
 * this deployment sets `metricsLog` (they cost nothing unused): module files written by a deployment that did set
 * it stay valid for nginx when the next one does not.
 */
export function renderVars(): string {
  return (
    `${MARK} layout\n# Written by Cutover: do not edit.\n` +
    'map $cutover_upstream $cutover_backend {\n' +
    '    "~^cutover_b_(?<cutover_backend_name>.+)$" $cutover_backend_name;\n' +
    `    default ${DEFAULT_BACKEND};\n` +
    '}\n' +
    // The router metrics' status classes: 1xx (not proxied in practice) counts as 2xx, as on the local router.
    'map $status $cutover_code_class {\n' +
    '    ~^[12] 2xx;\n' +
    '    ~^3 3xx;\n' +
    '    ~^4 4xx;\n' +
    '    default 5xx;\n' +
    '}\n' +
    // Empty unless a module location sets it (`set` overrides a map's value for the request).
    'map "" $cutover_module {\n' +
    '    default "";\n' +
    '}\n' +
    `log_format ${METRICS_LOG_FORMAT}\n` +
    "    '$cutover_module $cutover_backend $cutover_code_class $request_time '\n" +
    '    \'$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"\';\n'
  );
}

/** Included in the operator's `location /` (which sets $cutover_upstream to the platform server's upstream). */
export function renderDrain(ctx: RenderContext): string {
  return (
    `${MARK} layout\n# Written by Cutover: do not edit. Include it in \`location /\` after \`set $cutover_upstream ...;\`.\n` +
    'error_page 418 = @cutover_close;\n' +
    `if (-f ${flagPath(ctx)}) { return 418; }\n` +
    'add_header x-cutover-backend $cutover_backend always;\n'
  );
}

/** A module file Cutover did not write (an OutSystems-style hand-made one): its proxy_pass target, if any. */
export function parseForeignLocation(text: string): string | undefined {
  return /proxy_pass\s+https?:\/\/([^/;\s]+)/.exec(text)?.[1];
}
