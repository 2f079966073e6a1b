/**
 * Starting one replica as a detached process and waiting until it is ready.
 *
 * Detached (own process group, stdio to a log file, unref'd): a replica is a
 * "container" and must outlive the worker that launched it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { CutoverError, ErrorType } from '../../errors';
import { acceptsConnections, listenerOf } from './listening';
import { isAlive, processStartToken, signalReplica, sleep } from './processes';

export class ReplicaStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplicaStartError';
  }
}

export interface SpawnRequest {
  command: string[];
  env: Record<string, string>;
  cwd: string;
  logFile: string;
}

export interface SpawnedReplica {
  pid: number;
  startToken: string | undefined;
  /**
   * How our child ended ("exited with code 3"), once it has; undefined while it runs, and always for a
   * replica an earlier (crashed) attempt started, which is not our child.
   */
  exitStatus?: () => string | undefined;
}

export async function spawnReplica(request: SpawnRequest): Promise<SpawnedReplica> {
  const [executable, ...args] = request.command;
  if (!executable) throw new CutoverError(ErrorType.PlatformRequestRejected, 'the replica command is empty');
  const logFd = openSync(request.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(executable, args, {
      cwd: request.cwd,
      env: request.env,
      detached: true,
      stdio: ['ignore', logFd, logFd],
    });
  } finally {
    closeSync(logFd); // the child holds its own copy
  }
  if (child.pid === undefined) {
    // spawn() reports ENOENT/EACCES asynchronously through 'error'.
    const error = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new CutoverError(
      ErrorType.PlatformRequestRejected,
      `cannot start replica command ${JSON.stringify(executable)}: ${error.message}`,
    );
  }
  child.on('error', () => undefined); // never an unhandled 'error' event
  // Listen right away: a replica that fails at once may exit before anyone waits for it.
  let exitStatus: string | undefined;
  child.once('exit', (code, signal) => {
    exitStatus = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  });
  child.unref();
  return { pid: child.pid, startToken: processStartToken(child.pid), exitStatus: () => exitStatus };
}

/** The last `lines` lines of a log file (for error messages), or "" if unreadable. */
export async function logTail(file: string, lines = 20): Promise<string> {
  try {
    const text = await fs.readFile(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export interface ReadyWait {
  replica: SpawnedReplica;
  /** The PORT the replica was given (undefined for a record from before ports were assigned). */
  port: number | undefined;
  /** The port in the replica's ready file, if it wrote one (optional: listening on PORT is enough). */
  readPort: () => Promise<number | undefined>;
  timeoutMs: number;
  /** For error messages. */
  describe: string;
  logFile: string;
  /** Ends the wait early (an abort): the replica is left running, recorded, for a retire to stop. */
  signal?: AbortSignal;
}

/** How often a starting replica's port is tried. */
const START_POLL_MS = 100;

/**
 * Resolves with the replica's port once it has started: its PORT accepts connections on a socket the replica's own
 * processes hold (listening.ts), or it wrote a ready file. Throws a ReplicaStartError (with the log's last lines) if
 * the process exits first, or if it has not started within `timeoutMs`, in which case the process is killed so that
 * no untracked replica is left behind. An abort (`signal`) throws its reason and leaves the process alone.
 */
export async function awaitReady(wait: ReadyWait): Promise<number> {
  const { replica } = wait;
  const deadline = Date.now() + wait.timeoutMs;
  let heldByOther = false;
  for (;;) {
    wait.signal?.throwIfAborted();
    const readyPort = await wait.readPort();
    if (readyPort !== undefined) return readyPort;
    if (wait.port !== undefined && (await acceptsConnections(wait.port))) {
      const holder = await listenerOf(wait.port, replica.pid);
      if (holder !== 'other') return wait.port;
      heldByOther = true; // another program took the port: the replica cannot bind it, and should exit
    }
    if (!isAlive(replica.pid, replica.startToken)) {
      throw new ReplicaStartError(
        `${wait.describe} ${await exitStatusOf(replica)} before it was listening` +
          (heldByOther ? ` (another process holds port ${wait.port})` : '') +
          formatTail(await logTail(wait.logFile)),
      );
    }
    if (Date.now() >= deadline) {
      signalReplica(replica.pid, 'SIGKILL');
      const where = wait.port === undefined ? 'wrote no ready file' : `did not listen on port ${wait.port} (its PORT)`;
      throw new ReplicaStartError(
        `${wait.describe} ${where} within ${wait.timeoutMs} ms (platform.startTimeout)` +
          (heldByOther ? `; another process holds port ${wait.port}` : '') +
          '; killed it' +
          formatTail(await logTail(wait.logFile)),
      );
    }
    await abortableSleep(START_POLL_MS, wait.signal);
  }
}

function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return sleep(ms);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Our child's exit code is reported a moment after it stops running: wait briefly for it. */
async function exitStatusOf(replica: SpawnedReplica): Promise<string> {
  for (let i = 0; i < 20 && replica.exitStatus; i++) {
    const status = replica.exitStatus();
    if (status) return status;
    await sleep(25);
  }
  return 'exited';
}

function formatTail(tail: string): string {
  return tail ? `; last log lines:\n${tail}` : '; its log is empty';
}
