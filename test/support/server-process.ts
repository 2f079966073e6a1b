/**
 * A server binary the tests start (Prometheus, mtail...): spawned with its output appended to a log file, and a
 * stop that ends it (SIGTERM) and waits for its exit, then runs the caller's cleanup. A failed spawn is not thrown
 * here: the caller's readiness wait reports it ("did not answer"), naming the log.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';

export interface ServerProcess {
  child: ChildProcess;
  stop(): Promise<void>;
}

export function spawnServer(bin: string, args: string[], logFile: string, cleanup: () => void): ServerProcess {
  const log = fs.openSync(logFile, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  child.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      cleanup();
    },
  };
}
