/**
 * A private Temporal dev server (Temporal CLI `server start-dev`: own ports, own SQLite file, the Web UI and Cutover's
 * search attributes), for the tests (test/support/temporal.ts re-exports it) and the benchmarks. The binary always
 * comes from `make provision` (scripts/tools.ts).
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { toolPath } from './tools';

/** The search attributes Cutover's workflows set; every dev server is started with them (as in docker-compose.yml). */
export const CUTOVER_SEARCH_ATTRIBUTES = [
  'CutoverApplication',
  'CutoverEnvironment',
  'CutoverStrategy',
  'CutoverVersion',
  'CutoverPhase',
] as const;

/** A free TCP port on 127.0.0.1 (free when asked; the caller binds it soon after). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolvePort(port) : reject(new Error('could not get a free port'))));
    });
  });
}

export interface DevServerOptions {
  /** gRPC port; a free one by default. */
  port?: number;
  /** Web UI port; a free one by default. */
  uiPort?: number;
  /** SQLite file; a file in a fresh temp dir by default (removed by `stop()`). Reuse one to restart a server. */
  dbFilename?: string;
  /** Seconds to wait until the server is SERVING with the search attributes and the UI answers. Default 60. */
  startTimeoutSeconds?: number;
  /** More `temporal server start-dev` flags, e.g. `--ui-codec-endpoint <url>`. */
  extraArgs?: string[];
}

export interface DevServer {
  address: string;
  uiUrl: string;
  pid: number;
  logFile: string;
  dbFilename: string;
  /**
   * SIGTERM to the server's process group, SIGKILL after a grace period; then removes the temp dir it made (with the
   * default database and the log) unless `keepData` is set, e.g. to start a server again on the same `dbFilename`.
   */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function logTail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether the server at `address` answers and has Cutover's search attributes registered. */
export async function isReady(address: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: 2_000 });
    await connection.workflowService.getSystemInfo({});
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    return CUTOVER_SEARCH_ATTRIBUTES.every((name) => customAttributes?.[name] !== undefined);
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

async function uiAnswers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return res.ok;
  } catch {
    return false;
  }
}

async function killGroup(pid: number, graceMs: number): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig); // the whole process group (spawned detached: pgid = pid)
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (alive(pid)) signal('SIGKILL');
  while (alive(pid)) await sleep(50);
}

/** The UI's news feed fetches from the internet; CLI 1.9 can turn it off, the go-built 1.5.1 fallback lacks the flag. */
function newsFetchFlag(temporalBin: string): string[] {
  try {
    const help = execFileSync(temporalBin, ['server', 'start-dev', '--help'], { encoding: 'utf8' });
    return help.includes('--ui-disable-news-fetch') ? ['--ui-disable-news-fetch'] : [];
  } catch {
    return [];
  }
}

/**
 * Ties the server's life to its owner's: a detached shell that, once the owner (jest, or the jest worker that started
 * the server) is gone without stopping the server (Ctrl-C, SIGTERM, SIGKILL), stops the server and removes the temp
 * dir (database, log) it left. It exits by itself as soon as the server is gone.
 */
const WATCHDOG = `
owner=$1; server=$2; dir=$3
while kill -0 "$owner" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 1; done
if kill -0 "$server" 2>/dev/null; then
  kill -TERM "$server" 2>/dev/null; sleep 5; kill -KILL "$server" 2>/dev/null
  case "$dir" in */cutover-temporal-*) rm -rf "$dir" ;; esac
fi
true`;

function startWatchdog(serverPid: number, dir: string): void {
  const watchdog = spawn(
    '/bin/sh',
    ['-c', WATCHDOG, 'cutover-temporal-watchdog', String(process.pid), String(serverPid), dir],
    {
      detached: true,
      stdio: 'ignore',
    },
  );
  watchdog.unref();
}

/** The server process ended before it was ready (typically: a port taken between choosing it and binding it). */
class ExitedEarlyError extends Error {}

async function startOnce(options: DevServerOptions, dir: string): Promise<DevServer> {
  const port = options.port ?? (await freePort());
  const uiPort = options.uiPort ?? (await freePort());
  const dbFilename = options.dbFilename ?? join(dir, 'temporal.db');
  const logFile = join(dir, `temporal-${port}.log`);
  const temporalBin = toolPath('temporal');
  const args = [
    'server',
    'start-dev',
    '--db-filename',
    dbFilename,
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    ...newsFetchFlag(temporalBin),
    '--log-level',
    'warn',
    ...CUTOVER_SEARCH_ATTRIBUTES.flatMap((name) => ['--search-attribute', `${name}=Keyword`]),
    ...(options.extraArgs ?? []),
  ];
  const logFd = openSync(logFile, 'a');
  const child = spawn(temporalBin, args, { detached: true, stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start the Temporal dev server; log: ${logFile}`);
  let exited = false;
  child.once('exit', () => (exited = true));
  startWatchdog(pid, dir);

  const address = `127.0.0.1:${port}`;
  const uiUrl = `http://127.0.0.1:${uiPort}`;
  const deadline = Date.now() + (options.startTimeoutSeconds ?? 60) * 1000;
  while (Date.now() < deadline) {
    if (exited || !alive(pid)) {
      throw new ExitedEarlyError(`Temporal dev server exited during start-up; log ${logFile}:\n${logTail(logFile)}`);
    }
    if ((await isReady(address)) && (await uiAnswers(uiUrl))) {
      return { address, uiUrl, pid, logFile, dbFilename, stop: () => killGroup(pid, 5_000) };
    }
    await sleep(250);
  }
  await killGroup(pid, 1_000);
  throw new Error(
    `Temporal dev server not ready at ${address} within the timeout; log ${logFile}:\n${logTail(logFile)}`,
  );
}

/**
 * Starts a Temporal dev server (with the Web UI and Cutover's search attributes) on free ports and waits until it is
 * ready. Retries on a port that was taken in between.
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-temporal-'));
  const attempts = options.port === undefined && options.uiPort === undefined ? 3 : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      const server = await startOnce(options, dir);
      let stopped = false;
      return {
        ...server,
        stop: async (stopOptions) => {
          // Idempotent: a second call only removes the data (the pid may belong to another process by then).
          if (!stopped) {
            stopped = true;
            await server.stop();
          }
          if (!stopOptions?.keepData) rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      if (attempt >= attempts || !(err instanceof ExitedEarlyError)) throw err;
    }
  }
}
