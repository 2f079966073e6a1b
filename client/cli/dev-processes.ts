/**
 * The processes `cutover dev` runs (client/cli/dev.ts): spawning one in its own process group and waiting for its
 * ready line, prefixing its output, stopping it (SIGTERM, then SIGKILL), and the watchdog that stops them all if
 * `cutover dev` itself is killed.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as readline from 'node:readline';
import { CliError, EXIT } from './context';
import type { CliDeps } from './context';

export function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGTERM to the child's process group (or the child), SIGKILL after `graceMs`; resolves once it has exited. */
export async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (!alive(child) || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      child.kill(sig);
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Writes each line of `stream` to `write` with `prefix`, and resolves `waitFor` once a line matches it. */
export function prefixLines(
  stream: NodeJS.ReadableStream,
  prefix: string,
  write: (text: string) => void,
  onLine?: (line: string) => void,
): void {
  readline.createInterface({ input: stream }).on('line', (line) => {
    write(`${prefix} ${line}\n`);
    onLine?.(line);
  });
}

/**
 * Spawns a node script in its own process group (a Ctrl-C reaches only `cutover dev`, which stops them in order),
 * prefixes its output, and resolves once a line matches `ready` — or rejects if it exits first or not within the time.
 */
export function spawnReady(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  timeoutMs: number,
  deps: CliDeps,
): Promise<{ child: ChildProcess; line: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      child.kill('SIGKILL');
      reject(new CliError(`${name} did not start within ${timeoutMs / 1000} s (its log is above)`, EXIT.unreachable));
    }, timeoutMs);
    const onLine = (line: string) => {
      if (done || !ready.test(line)) return;
      done = true;
      clearTimeout(timer);
      resolve({ child, line });
    };
    prefixLines(child.stdout, `[${name}]`, deps.err, onLine);
    prefixLines(child.stderr, `[${name}]`, deps.err, onLine);
    child.once('exit', (code, sig) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new CliError(`${name} exited (${sig ?? `code ${code}`}) before it was ready (its log is above)`, 1));
    });
  });
}

/**
 * A detached shell that, if `cutover dev` itself dies without stopping its children (SIGKILL), stops their process
 * groups; it exits by itself once they are gone.
 */
const WATCHDOG = `
owner=$1; shift
while kill -0 "$owner" 2>/dev/null; do
  any=; for p in "$@"; do kill -0 "$p" 2>/dev/null && any=1; done
  [ -n "$any" ] || exit 0
  sleep 1
done
for p in "$@"; do kill -TERM -"$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null; done
sleep 10
for p in "$@"; do kill -KILL -"$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null; done
true`;

export function startWatchdog(pids: number[]): void {
  if (!pids.length) return;
  const dog = spawn('/bin/sh', ['-c', WATCHDOG, 'cutover-dev-watchdog', String(process.pid), ...pids.map(String)], {
    detached: true,
    stdio: 'ignore',
  });
  dog.unref();
}
