/**
 * The worker in a process of its own (dist/worker/main.js, default drivers), as in production: for the chaos and
 * restart tests (a process can be killed) and the benchmarks (its activities must not share an event loop with a load
 * generator's clock). No fixed metrics ports, so that several run side by side.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from './local-stack';

export interface WorkerProcessOptions {
  address: string;
  taskQueue: string;
  /** Where its output is appended. */
  logFile: string;
  /** The script to run instead of dist/worker/main.js (it reads the same TEMPORAL_* variables). */
  script?: string;
  /** Extra environment, over the rest. */
  env?: Record<string, string>;
}

export interface WorkerProcess {
  child: ChildProcess;
  /** SIGTERM (the worker drains), SIGKILL 15 s later; resolves once it has exited. */
  stop(): Promise<void>;
}

export function startWorkerProcess(options: WorkerProcessOptions): WorkerProcess {
  const log = fs.openSync(options.logFile, 'a');
  const script = options.script ?? path.join(projectRoot(), 'dist', 'worker', 'main.js');
  const child = spawn(process.execPath, [script], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: options.address,
      TEMPORAL_TASK_QUEUE: options.taskQueue,
      CUTOVER_METRICS_PORT: '0',
      CUTOVER_SDK_METRICS_ADDRESS: 'off',
      ...options.env,
    },
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  const running = () => child.exitCode === null && child.signalCode === null;
  const kill = () => running() && child.kill('SIGKILL');
  // A worker must not outlive the process that started it (a benchmark that throws, a test run that ends).
  process.once('exit', kill);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      process.removeListener('exit', kill);
      resolve();
    }),
  );
  return {
    child,
    async stop() {
      if (running()) child.kill('SIGTERM');
      const timer = setTimeout(kill, 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
