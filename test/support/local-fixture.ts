/**
 * Integration fixture: the real Temporal dev server (from global setup), the
 * real local stack (platform server stand-in + local router), the real local
 * platform, a worker (in this process, or a separate process that a test can
 * SIGKILL), a CutoverClient, and spec builders pointing at all of that.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { newLocalPlatformDriver } from '../../activities/drivers/local';
import type { Platform } from '../../activities/ports';
import { CutoverClient } from '../../client/client';
import { startLoad } from '../../examples/load';
import type { Load } from '../../examples/load';
import { projectRoot, startLocalStack } from '../../examples/local-stack';
import type { LocalStack } from '../../examples/local-stack';
import type { DeploymentSpecInput } from '../../workflows/spec';
import type { DeploymentResult, DeploymentStatus, Phase } from '../../workflows/types';
import { createWorker } from '../../worker';
import { blueGreenSpec, rollingSpec } from './specs';
import type { SpecOverrides } from './specs';

let sharedBundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Bundles the workflows once per test file. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  sharedBundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
  });
  return sharedBundle;
}

export function temporalAddress(): string {
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address) throw new Error('TEMPORAL_ADDRESS is not set: jest global setup starts the dev server');
  return address;
}

let counter = 0;

export interface Fixture {
  name: string;
  application: string;
  modules: string[];
  stateDir: string;
  platformDir: string;
  taskQueue: string;
  stack: LocalStack;
  platform: Platform;
  client: CutoverClient;
  spec(version: string, overrides?: SpecOverrides): DeploymentSpecInput;
  /** Starts a load generator through the router on every module. */
  load(headers?: Record<string, string>): Load;
  startInProcessWorker(): Promise<void>;
  stopInProcessWorker(): Promise<void>;
  /** A worker in its own process (so a test can SIGKILL it). */
  startWorkerProcess(): Promise<ChildProcess>;
  deploy(version: string, overrides?: SpecOverrides): Promise<string>;
  result(id: string): Promise<DeploymentResult>;
  waitForPhase(id: string, phase: Phase, timeoutMs?: number): Promise<DeploymentStatus>;
  /** GET /<module>/ through the router; returns the version that answered. */
  versionOf(module: string, headers?: Record<string, string>): Promise<string | null>;
  /** Live sample-app processes of this application (pid + replica id), read from /proc. */
  replicaProcesses(): { pid: number; replica: string; version: string }[];
  /** A rolling-update spec pointing at this fixture (`strategy` merged into `{ type: 'rolling' }`). */
  rollingSpec(version: string, overrides?: SpecOverrides): DeploymentSpecInput;
  deployRolling(version: string, overrides?: SpecOverrides): Promise<string>;
  /** The environment a replica process was started with (from /proc). */
  replicaEnv(pid: number): Record<string, string>;
  /** Targets registered in a backend of the local router (undefined if it does not exist). */
  backendTargets(backend: string): Promise<string[] | undefined>;
  close(): Promise<void>;
}

function readEnviron(pid: number | string): Record<string, string> | undefined {
  let environ: string;
  try {
    environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return undefined;
  }
  return Object.fromEntries(
    environ
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

export async function createFixture(name: string, modules = ['Catalog', 'Cart']): Promise<Fixture> {
  const application = `${name}-${process.pid}-${++counter}`.toLowerCase().slice(0, 40);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), `cutover-${name}-`));
  const platformDir = path.join(stateDir, 'platform');
  const taskQueue = `it-${application}`;
  const stack = await startLocalStack({ stateDir, modules, application });
  const platform = newLocalPlatformDriver({ stateDir: platformDir });
  const client = await CutoverClient.connect({ address: temporalAddress(), taskQueue });
  let inProcess: { stop(): Promise<void> } | undefined;
  const workerProcesses: ChildProcess[] = [];
  const ids: string[] = [];

  const fixture: Fixture = {
    name,
    application,
    modules,
    stateDir,
    platformDir,
    taskQueue,
    stack,
    platform,
    client,
    spec: (version, overrides = {}) =>
      blueGreenSpec({
        application,
        modules,
        version,
        stateDir: platformDir,
        adminUrl: stack.adminUrl,
        publicUrl: stack.publicUrl,
        ...overrides,
      }),
    load: (headers) =>
      startLoad({ url: stack.publicUrl, paths: modules.map((m) => `/${m}/`), connections: 4, headers }),
    async startInProcessWorker() {
      const { worker, close } = await createWorker({
        temporal: { address: temporalAddress(), taskQueue },
        workflowBundle: await workflowBundle(),
      });
      const running = worker.run();
      inProcess = {
        stop: async () => {
          worker.shutdown();
          await running;
          await close();
        },
      };
    },
    async stopInProcessWorker() {
      await inProcess?.stop();
      inProcess = undefined;
    },
    async startWorkerProcess() {
      const log = fs.openSync(path.join(stateDir, 'worker.log'), 'a');
      const child = spawn(process.execPath, [path.join(projectRoot(), 'dist', 'worker', 'main.js')], {
        env: { ...process.env, TEMPORAL_ADDRESS: temporalAddress(), TEMPORAL_TASK_QUEUE: taskQueue },
        stdio: ['ignore', log, log],
      });
      workerProcesses.push(child);
      return child;
    },
    async deploy(version, overrides) {
      const { deploymentId } = await client.deploy(fixture.spec(version, overrides), {
        deploymentId: `deploy-test-${application}-${ids.length}`,
      });
      ids.push(deploymentId);
      return deploymentId;
    },
    result: (id) => client.result(id),
    async waitForPhase(id, phase, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last: DeploymentStatus | undefined;
      while (Date.now() < deadline) {
        try {
          last = await client.status(id);
          if (last.phase === phase) return last;
        } catch {
          // not started yet, or the worker is restarting: the query cannot be answered for now
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`${id} did not reach ${phase} (last phase: ${last?.phase ?? 'unknown'})`);
    },
    async versionOf(module, headers) {
      const res = await fetch(`${stack.publicUrl}/${module}/`, { headers });
      return res.headers.get('x-cutover-version');
    },
    replicaProcesses() {
      const found: { pid: number; replica: string; version: string }[] = [];
      for (const entry of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        let environ: string;
        try {
          environ = fs.readFileSync(`/proc/${entry}/environ`, 'utf8');
        } catch {
          continue;
        }
        const vars = Object.fromEntries(
          environ
            .split('\0')
            .filter(Boolean)
            .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
        );
        if (vars.CUTOVER_APP !== application || vars.CUTOVER_REPLICA_ID === 'platform-server') continue;
        found.push({ pid: Number(entry), replica: vars.CUTOVER_REPLICA_ID ?? '', version: vars.CUTOVER_VERSION ?? '' });
      }
      return found.sort((a, b) => a.replica.localeCompare(b.replica));
    },
    rollingSpec: (version, overrides = {}) =>
      rollingSpec({
        application,
        modules,
        version,
        stateDir: platformDir,
        adminUrl: stack.adminUrl,
        publicUrl: stack.publicUrl,
        ...overrides,
      }),
    async deployRolling(version, overrides) {
      const { deploymentId } = await client.deploy(fixture.rollingSpec(version, overrides), {
        deploymentId: `deploy-test-${application}-${ids.length}`,
      });
      ids.push(deploymentId);
      return deploymentId;
    },
    replicaEnv: (pid) => readEnviron(pid) ?? {},
    async backendTargets(backend) {
      const res = await fetch(`${stack.adminUrl}/backends/${encodeURIComponent(backend)}`);
      if (res.status === 404) return undefined;
      return ((await res.json()) as { targets: string[] }).targets;
    },
    async close() {
      for (const id of ids) {
        await client
          .handle(id)
          .terminate('test cleanup')
          .catch(() => undefined);
      }
      await fixture.stopInProcessWorker();
      for (const child of workerProcesses) if (child.exitCode === null) child.kill('SIGKILL');
      // The client's connection is deliberately left open (jest ends the worker process): closing it while
      // one of the SDK's gRPC retries is backing off makes that retry throw "Channel has been shut down" from
      // a timer, after the test, which jest reports as a failed suite (seen once in CI on the hooks suite).
      for (const set of await platform.listReplicaSets(application)) await platform.retireReplicaSet(set.name);
      await stack.stop();
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
  return fixture;
}
