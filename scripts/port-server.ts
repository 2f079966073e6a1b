/**
 * A provisioned server binary (moto_server, toxiproxy-server...) started on a free loopback port for the tests and
 * benchmarks: its output appended to a log in a temporary directory, ready once `ready` answers true, retried on
 * another port when it does not (another process may take the free port between the probe and the bind). stop()
 * sends SIGTERM, SIGKILL 5 s later, waits for the exit and removes the directory.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './dev-server';

export interface PortServerOptions {
  /** For the temporary directory, the log's name and the error. */
  name: string;
  bin: string;
  args(port: number): string[];
  env?: NodeJS.ProcessEnv;
  /** True once the server answers at `url` (http://127.0.0.1:<port>); a throw counts as not yet. */
  ready(url: string): Promise<boolean>;
  /** How long one attempt waits for `ready` (default 30 s). */
  timeoutMs?: number;
}

export interface PortServer {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

const ATTEMPTS = 3;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function startPortServer(options: PortServerOptions): Promise<PortServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `cutover-${options.name}-`));
  const logFile = path.join(dir, `${options.name}.log`);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const log = fs.openSync(logFile, 'a');
    const child = spawn(options.bin, options.args(port), {
      stdio: ['ignore', log, log],
      ...(options.env ? { env: options.env } : {}),
    });
    fs.closeSync(log);
    child.on('error', () => undefined);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    let ready = false;
    while (!ready && Date.now() < deadline && child.exitCode === null) {
      ready = await options.ready(url).catch(() => false);
      if (!ready) await sleep(100);
    }
    if (ready) {
      return {
        url,
        child,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(timer);
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    child.kill('SIGKILL');
    if (attempt >= ATTEMPTS) {
      throw new Error(`${options.name} did not start; log ${logFile}:\n${fs.readFileSync(logFile, 'utf8')}`);
    }
  }
}
