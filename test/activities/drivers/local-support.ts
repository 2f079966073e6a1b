/**
 * Helpers for the local driver tests: temp dirs, the router and the sample
 * app as real processes (from dist/: build first), and a /proc scan that
 * finds every replica process of a test, tracked or not.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';

export const ROOT = path.resolve(__dirname, '../../..');

export function distFile(rel: string): string {
  const file = path.join(ROOT, 'dist', rel);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`npx tsc -p tsconfig.build.json\` first`);
  return file;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `cutover-${prefix}-`));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Pids of live (non-zombie) processes whose environment contains `needle` (Linux /proc). */
export function pidsWithEnv(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (/^\S+ \(.*\) [ZX] /s.test(stat)) continue;
      if (fs.readFileSync(`/proc/${entry}/environ`, 'utf8').includes(needle)) pids.push(Number(entry));
    } catch {
      // gone, or not ours
    }
  }
  return pids.sort((a, b) => a - b);
}

/** Every replica process launched with a ready file under `stateDir`. */
export function replicaPids(stateDir: string): number[] {
  return pidsWithEnv(`CUTOVER_READY_FILE=${stateDir}`);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\S+ \(.*\) [ZX] /s.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Last resort in afterAll: SIGKILL whatever a test left behind. */
export function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export interface RunningRouter {
  publicUrl: string;
  adminUrl: string;
  child: ChildProcess;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export async function startRouterProcess(opts: {
  stateFile: string;
  defaultTarget: string;
  logFile: string;
  /** More router-main arguments (e.g. --sticky). */
  args?: string[];
}): Promise<RunningRouter> {
  const log = fs.openSync(opts.logFile, 'a');
  const child = spawn(
    process.execPath,
    [
      distFile('activities/drivers/local/router-main.js'),
      '--port',
      '0',
      '--admin-port',
      '0',
      '--state-file',
      opts.stateFile,
      '--default-target',
      opts.defaultTarget,
      ...(opts.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', log] },
  );
  fs.closeSync(log);
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`router did not start (see ${opts.logFile})`)), 15_000);
    child.once('exit', (code) => reject(new Error(`router exited with ${code} (see ${opts.logFile})`)));
    readline.createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
  });
  child.removeAllListeners('exit');
  const info = JSON.parse(line) as { port: number; adminPort: number };
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    publicUrl: `http://127.0.0.1:${info.port}`,
    adminUrl: `http://127.0.0.1:${info.adminPort}`,
    child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface SampleApp {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** One sample-app process outside the platform driver (the stand-in "platform server"). */
export async function startSampleApp(opts: {
  dir: string;
  version: string;
  modules: string[];
  env?: Record<string, string>;
}): Promise<SampleApp> {
  const readyFile = path.join(opts.dir, `sample-${opts.version}-${Date.now()}.ready`);
  const log = fs.openSync(path.join(opts.dir, `sample-${opts.version}.log`), 'a');
  const child = spawn(process.execPath, [distFile('examples/sample-app/server.js')], {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      CUTOVER_APP: 'shop',
      CUTOVER_VERSION: opts.version,
      CUTOVER_MODULES: opts.modules.join(','),
      CUTOVER_REPLICA_ID: `sample-${opts.version}`,
      CUTOVER_READY_FILE: readyFile,
      ...opts.env,
    },
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  const deadline = Date.now() + 15_000;
  while (!fs.existsSync(readyFile)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`sample app ${opts.version} did not start`);
    await sleep(25);
  }
  const { port } = JSON.parse(fs.readFileSync(readyFile, 'utf8')) as { port: number };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid as number,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface Answer {
  status: number;
  version: string | null;
  replica: string | null;
  backend: string | null;
  body: string;
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  const body = await response.text();
  return {
    status: response.status,
    version: response.headers.get('x-cutover-version'),
    replica: response.headers.get('x-cutover-replica'),
    backend: response.headers.get('x-cutover-backend'),
    body,
  };
}

/** A raw admin API call (for asserting status codes and messages the driver would turn into errors). */
export async function adminCall(
  adminUrl: string,
  method: string,
  urlPath: string,
  body?: unknown,
): Promise<{ status: number; json: { message?: string } & Record<string, unknown> }> {
  const response = await fetch(`${adminUrl}${urlPath}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as { message?: string } & Record<string, unknown> };
}

/** A port nothing listens on (bound, then released). */
export { freePort } from '../../support/temporal';

export function tally<T>(items: T[]): Map<T, number> {
  const counts = new Map<T, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}
