/**
 * Test support for the OutSystems hooks: LifeTime's side of the protocol
 * (GETs with Base64 parameters and the token as an extra URL parameter,
 * polling ResultPath for the result file), real zip bundles, and a hook
 * server with a configuration rooted in a temp directory.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import * as yazl from 'yazl';
import type { CutoverClient } from '../../client/client';
import { validateHookConfig } from '../../client/outsystems/config';
import type { HookConfig, HookConfigInput } from '../../client/outsystems/config';
import { hookQuery } from '../../client/outsystems/params';
import type { ProtocolParameter } from '../../client/outsystems/params';
import { buildHookServer, hookPath } from '../../client/outsystems/server';
import type { HookStage } from '../../workflows/outsystems/types';

export const HOOK_TOKEN = 'test-token-0123456789abcdef';

/** LifeTime identifiers the hook tests share: an application key and the OperationIds of one publish. */
export const LIFETIME_IDS = {
  key: '3c2b1a09-8f7e-4d6c-9b5a-493827160504',
  /** Build and Run of one publish. */
  build: '11111111-2222-4333-8444-555555555555',
  config: '66666666-7777-4888-9999-aaaaaaaaaaaa',
  /** The next publish. */
  nextBuild: '22222222-3333-4444-8555-666666666666',
  remove: 'bbbbbbbb-cccc-4ddd-8eee-ffffffffffff',
} as const;

/**
 * LifeTime identifiers of one test suite's own, fresh GUIDs: hook workflow ids carry the application key and
 * operation id, and the integration suites share one dev server, so suites must not share them (a second suite's
 * Build would find the first one's workflow and answer "already done").
 */
export function newLifeTimeIds(): { [K in keyof typeof LIFETIME_IDS]: string } {
  return {
    key: randomUUID(),
    build: randomUUID(),
    config: randomUUID(),
    nextBuild: randomUUID(),
    remove: randomUUID(),
  };
}

/** Writes a real zip file with these entries (name -> content). */
export async function writeZip(file: string, entries: Record<string, string | Buffer>): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const [name, content] of Object.entries(entries)) {
    zip.addBuffer(Buffer.isBuffer(content) ? content : Buffer.from(content), name, { mode: 0o100644 });
  }
  zip.end();
  await new Promise<void>((resolve, reject) => {
    const out = fs.createWriteStream(file);
    out.on('close', resolve);
    out.on('error', reject);
    zip.outputStream.on('error', reject).pipe(out);
  });
}

export interface HookDirs {
  base: string;
  /** TargetPath: where LifeTime leaves the bundles. */
  target: string;
  /** ResultPath: where LifeTime polls for result files. */
  result: string;
  /** ConfigPath: the application's configuration files. */
  config: string;
  builds: string;
  /** A directory outside every root. */
  outside: string;
}

export function makeHookDirs(name: string): HookDirs {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `cutover-hooks-${name}-`)));
  const dirs: HookDirs = {
    base,
    target: path.join(base, 'deploy', 'target'),
    result: path.join(base, 'deploy', 'result'),
    config: path.join(base, 'config'),
    builds: path.join(base, 'builds'),
    outside: path.join(base, 'outside'),
  };
  for (const dir of [dirs.target, dirs.result, dirs.config, dirs.outside]) fs.mkdirSync(dir, { recursive: true });
  return dirs;
}

/**
 * The hook profile the end-to-end tests use: blue-green on the local platform and router of a fixture, approval
 * required, no rollback window, quick health checks.
 */
export function localBlueGreenProfile(f: {
  platformDir: string;
  appEnv: Record<string, string>;
  stack: { adminUrl: string; publicUrl: string };
}) {
  return {
    environment: 'test',
    replicas: 2,
    platform: { kind: 'local', stateDir: f.platformDir, env: f.appEnv },
    router: { kind: 'local', adminUrl: f.stack.adminUrl, publicUrl: f.stack.publicUrl },
    strategy: { type: 'blue-green', rollbackWindow: '0s', approval: { mode: 'required', timeout: '10m' } },
    health: { interval: '100ms', timeout: '1s', successThreshold: 1, deadline: '20s' },
  };
}

export function hookConfig(dirs: HookDirs, overrides: Partial<HookConfigInput>): HookConfig {
  return validateHookConfig({
    auth: { tokenEnv: 'CUTOVER_HOOK_TOKEN' },
    roots: {
      target: [path.join(dirs.base, 'deploy')],
      result: [path.join(dirs.base, 'deploy')],
      config: [dirs.config],
    },
    buildsRoot: dirs.builds,
    profiles: {},
    applications: [],
    ...overrides,
  });
}

export interface RunningHookServer {
  url: string;
  app: FastifyInstance;
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startHookServer(
  config: HookConfig,
  client: CutoverClient,
  extra: { exclusiveRetryMs?: number } = {},
): Promise<RunningHookServer> {
  const logs: Record<string, unknown>[] = [];
  const app = await buildHookServer({
    config,
    token: HOOK_TOKEN,
    client,
    log: (entry) => logs.push(entry),
    exclusiveRetryMs: extra.exclusiveRetryMs ?? 500,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, app, logs, close: () => app.close() };
}

/** What the hook server answers (JSON), loosely: each test reads the fields it expects. */
export interface HookAnswer {
  started?: boolean;
  alreadyDone?: boolean;
  workflowId: string;
  runId?: string;
  resultFile?: string;
  error?: string;
  message: string;
  issues?: { parameter: string; message: string }[];
}

export type HookParams = Partial<Record<ProtocolParameter, string>>;

/** The parameters LifeTime sends for one operation of an application, with the test's directories. */
export function lifeTimeParams(
  dirs: HookDirs,
  call: { applicationKey: string; operationId: string; modules: string[] },
  overrides: HookParams = {},
): HookParams {
  return {
    Address: 'lifetime.example.internal',
    ApplicationName: 'Customer Portal',
    ApplicationKey: call.applicationKey,
    OperationId: call.operationId,
    TargetPath: dirs.target,
    ResultPath: dirs.result,
    ConfigPath: dirs.config,
    ModuleNames: JSON.stringify(call.modules),
    ...overrides,
  };
}

/** One hook call exactly as LifeTime makes it: GET, each parameter Base64, the token as an extra parameter. */
export async function lifeTimeGet(
  server: { url: string },
  stage: HookStage,
  params: HookParams,
  options: { token?: string | null; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: HookAnswer; text: string }> {
  const extra: Record<string, string> = options.token === null ? {} : { token: options.token ?? HOOK_TOKEN };
  const res = await fetch(`${server.url}${hookPath(stage)}?${hookQuery(params, extra)}`, { headers: options.headers });
  const text = await res.text();
  let body: unknown = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { message: text };
  }
  return { status: res.status, body: body as HookAnswer, text };
}

/** Polls for a file like LifeTime polls ResultPath; resolves with its content. */
export async function waitForFile(file: string, timeoutMs = 120_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${file} did not appear within ${timeoutMs} ms`);
}
