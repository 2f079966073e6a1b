/**
 * Starts the embedded local default stack as child processes: a stand-in
 * "platform server" (the sample app answering every module as version
 * "platform-server") and the local router (Main Load Balancer and Reverse
 * Proxy) whose default rule sends everything to it. Used by the demo and by
 * integration tests.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';

export interface LocalStackOptions {
  stateDir: string;
  modules: string[];
  application: string;
  routerPort?: number;
  adminPort?: number;
  /** Extra environment for the platform server (e.g. the sample app's SAMPLE_DELIVERY_LOG). */
  platformServerEnv?: Record<string, string>;
  /** Extra node options for the router process, before its script (e.g. ['--cpu-prof', '--cpu-prof-dir=...']). */
  routerNodeArgs?: string[];
}

export interface LocalStack {
  publicUrl: string;
  adminUrl: string;
  platformServerUrl: string;
  /** The processes it started, for a supervisor to watch (`cutover dev` stops everything when one dies). */
  processes: { name: string; child: ChildProcess }[];
  stop(): Promise<void>;
}

export function projectRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'cutover') {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the cutover project root');
    dir = parent;
  }
}

function distFile(rel: string): string {
  const file = path.join(projectRoot(), 'dist', rel);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`make build\` first`);
  return file;
}

/** Spawns a node process and resolves with the first JSON line it prints on stdout. */
function spawnWithJsonLine<T>(
  args: string[],
  env: NodeJS.ProcessEnv,
  logFile: string,
): Promise<{ child: ChildProcess; info: T }> {
  const what = args.find((a) => !a.startsWith('-')) ?? 'node';
  return new Promise((resolve, reject) => {
    const log = fs.openSync(logFile, 'a');
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', log] });
    const lines = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not start within 20 s (see ${logFile})`));
    }, 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before it was ready (see ${logFile})`));
    });
    lines.once('line', (line) => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      try {
        resolve({ child, info: JSON.parse(line) as T });
      } catch {
        reject(new Error(`${what} printed "${line}" instead of its ready line`));
      }
    });
  });
}

function waitForFile(file: string, timeoutMs: number): Promise<string> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (fs.existsSync(file)) return resolve(fs.readFileSync(file, 'utf8'));
      if (Date.now() - started > timeoutMs) return reject(new Error(`${file} did not appear within ${timeoutMs} ms`));
      setTimeout(tick, 50);
    };
    tick();
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  fs.mkdirSync(opts.stateDir, { recursive: true });
  const readyFile = path.join(opts.stateDir, 'platform-server.ready');
  fs.rmSync(readyFile, { force: true });
  const platformLog = fs.openSync(path.join(opts.stateDir, 'platform-server.log'), 'a');
  const platformServer = spawn(process.execPath, [distFile('examples/sample-app/server.js')], {
    env: {
      ...process.env,
      PORT: '0',
      CUTOVER_APP: opts.application,
      CUTOVER_VERSION: 'platform-server',
      CUTOVER_MODULES: opts.modules.join(','),
      CUTOVER_REPLICA_ID: 'platform-server',
      CUTOVER_READY_FILE: readyFile,
      ...opts.platformServerEnv,
    },
    stdio: ['ignore', platformLog, platformLog],
  });
  const { port } = JSON.parse(await waitForFile(readyFile, 20_000)) as { port: number };
  const platformServerUrl = `http://127.0.0.1:${port}`;

  const { child: router, info } = await spawnWithJsonLine<{ port: number; adminPort: number }>(
    [
      ...(opts.routerNodeArgs ?? []),
      distFile('activities/drivers/local/router-main.js'),
      '--port',
      String(opts.routerPort ?? 0),
      '--admin-port',
      String(opts.adminPort ?? 0),
      '--state-file',
      path.join(opts.stateDir, 'router-rules.json'),
      '--default-target',
      platformServerUrl,
    ],
    process.env,
    path.join(opts.stateDir, 'router.log'),
  );

  return {
    publicUrl: `http://127.0.0.1:${info.port}`,
    adminUrl: `http://127.0.0.1:${info.adminPort}`,
    platformServerUrl,
    processes: [
      { name: 'the router', child: router },
      { name: 'the stand-in platform server', child: platformServer },
    ],
    stop: async () => {
      await stopChild(router);
      await stopChild(platformServer);
    },
  };
}
