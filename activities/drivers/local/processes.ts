/**
 * Process bookkeeping for detached replicas: liveness that survives pid reuse,
 * signalling a replica's whole process group, waiting for an exit.
 */
import { readFileSync } from 'node:fs';

interface ProcStat {
  state: string;
  startTicks: string;
}

/** Linux only: state and start time (clock ticks since boot) from /proc/<pid>/stat. */
function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may contain spaces and parentheses, so split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTicks = fields[19]; // field 22 of the file; fields[0] is field 3
  if (state === undefined || startTicks === undefined) return undefined;
  return { state, startTicks };
}

/**
 * A token that identifies this incarnation of `pid` (its start time), or
 * undefined where /proc is unavailable. Stored next to the pid so a recycled
 * pid is never mistaken for the replica.
 */
export function processStartToken(pid: number): string | undefined {
  return readProcStat(pid)?.startTicks;
}

/** True if `pid` is running and, when a start token is given, is still the same process. */
export function isAlive(pid: number, startToken?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else (cannot be our replica's reused pid in practice).
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = readProcStat(pid);
  if (!stat) return true; // no /proc: kill(0) is all we know
  if (stat.state === 'Z' || stat.state === 'X') return false; // exited, not yet reaped
  return startToken === undefined || stat.startTicks === startToken;
}

/**
 * Sends `signal` to the replica's process group (replicas are spawned detached,
 * so each leads its own group: a wrapper script and its children stop together),
 * falling back to the pid alone. A process that is already gone is not an error.
 */
export function signalReplica(pid: number, signal: NodeJS.Signals): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, signal);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ESRCH' && code !== 'EPERM') throw err;
    }
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until the process has exited; true if it did within `timeoutMs`. */
export async function waitForExit(pid: number, startToken: string | undefined, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid, startToken)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

/** SIGTERM, up to `graceMs` for a graceful exit, then SIGKILL. Throws only if the process survives SIGKILL. */
export async function stopProcess(pid: number, startToken: string | undefined, graceMs: number): Promise<void> {
  if (!isAlive(pid, startToken)) return;
  signalReplica(pid, 'SIGTERM');
  if (await waitForExit(pid, startToken, graceMs)) return;
  signalReplica(pid, 'SIGKILL');
  if (await waitForExit(pid, startToken, 5_000)) return;
  throw new Error(`process ${pid} is still running after SIGKILL`);
}
