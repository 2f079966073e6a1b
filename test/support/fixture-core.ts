/**
 * What every integration fixture shares, whatever the router: a fresh application name and state directory, the real
 * Temporal dev server (from global setup), a CutoverClient, a worker (in this process, or a separate process that a
 * test can SIGKILL), the real local platform for the replicas, spec builders, deploy / result / waitForPhase, and a
 * close() that undoes all of it. The router part (the local stack, nginx, an ALB on moto) is plugged in by the
 * fixture that uses this core (local-fixture.ts, nginx-fixture.ts, alb-fixture.ts): what it started, the spec fields
 * and router section it needs, and how to stop it.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Drivers } from '../../activities/drivers';
import { newLocalPlatformDriver } from '../../activities/drivers/local';
import type { Platform } from '../../activities/ports';
import { CutoverClient } from '../../client/client';
import { startWorkerProcess } from '../../examples/worker-process';
import type { WorkerProcessOptions as StartWorkerProcessOptions } from '../../examples/worker-process';
import type { DeploymentSpecInput } from '../../workflows/spec';
import type { DeploymentResult, DeploymentStatus, Phase } from '../../workflows/types';
import { createWorker } from '../../worker';
import { DELIVERY_LOG_ENV, readDeliveryLog } from './delivery-log';
import type { DeliveryEvent } from './delivery-log';
import { blueGreenSpec, rollingSpec } from './specs';
import type { SpecOverrides } from './specs';
import { devServerAddress } from './temporal';
import { workflowBundle } from './workflow-bundle';

export { workflowBundle };

/** host:port of the dev server the jest global setup started. */
export const temporalAddress = devServerAddress;

let counter = 0;

/** Spec overrides, plus fields merged into the router section (e.g. another listener ARN). */
export interface FixtureSpecOverrides extends SpecOverrides {
  router?: Record<string, unknown>;
}

/** Where a fixture lives: its router part starts in here. */
export interface FixtureContext {
  name: string;
  /** `<name>-<pid>-<n>`, lower case: unique per test process. */
  application: string;
  modules: string[];
  /** A fresh temp directory, removed by close(). */
  stateDir: string;
  /** The local platform's state (replicas) inside stateDir. */
  platformDir: string;
  taskQueue: string;
  /** The sample app's delivery log (test/support/delivery-log.ts), shared by every replica and the platform server. */
  deliveryLog: string;
  /** The sample app's start ledger: a line per replica process ever started (test/support/chaos.ts reads it). */
  startLedger: string;
  /** Environment every spec gives the replicas (merged under a spec's own env): the delivery log and start ledger. */
  appEnv: Record<string, string>;
}

/** The router side of a fixture, as its start function returns it (with anything else the fixture wants to keep). */
export interface RouterPart {
  /** Spec fields the router needs (the local router's URLs, one replica per color on moto...). */
  specDefaults?: SpecOverrides;
  /** The spec's router section; default: the one the spec builders write (the local router). */
  routerSpec?: () => Record<string, unknown>;
  /** Stops what the router part started; close() calls it once the replicas are retired. */
  stop?: () => Promise<void>;
}

export interface CoreOptions {
  name: string;
  modules: string[];
  /** Drivers of the in-process worker; default: the worker's own defaults (`router.kind` picks the driver). */
  drivers?: (context: FixtureContext) => Drivers;
  /** How long waitForPhase waits when a call names no timeout (ms). */
  phaseTimeoutMs?: number;
  /** Another platform than the local one (e.g. Kubernetes): the driver the fixture reads with, and the spec section. */
  platform?: (context: FixtureContext) => PlatformPart;
  /** Another Temporal server than the jest global setup's (e.g. one a test restarts). */
  temporalAddress?: string;
}

/** A platform other than the default local one. */
export interface PlatformPart {
  /** What the fixture lists and retires replicas with (the worker builds its own from the spec section). */
  driver: Platform;
  /** The spec's platform section. */
  spec: () => Record<string, unknown>;
}

/** Another script, extra environment: the rest (Temporal address, task queue, log) is the fixture's. */
export type WorkerProcessOptions = Pick<StartWorkerProcessOptions, 'script' | 'env'>;

export interface LiveReplica {
  id: string;
  version: string;
  address: string;
}

/** What every fixture offers, whatever its router. */
export interface FixtureBase extends FixtureContext {
  platform: Platform;
  client: CutoverClient;
  spec(version: string, overrides?: FixtureSpecOverrides): DeploymentSpecInput;
  /** A rolling-update spec (`strategy` merged into `{ type: 'rolling' }`). */
  rollingSpec(version: string, overrides?: FixtureSpecOverrides): DeploymentSpecInput;
  /** Starts a deployment of this spec (terminated by close() if still running); its id. */
  deploySpec(spec: DeploymentSpecInput): Promise<string>;
  deploy(version: string, overrides?: FixtureSpecOverrides): Promise<string>;
  deployRolling(version: string, overrides?: FixtureSpecOverrides): Promise<string>;
  result(id: string): Promise<DeploymentResult>;
  waitForPhase(id: string, phase: Phase, timeoutMs?: number): Promise<DeploymentStatus>;
  startInProcessWorker(): Promise<void>;
  stopInProcessWorker(): Promise<void>;
  /**
   * A worker in its own process (the built dist/worker/main.js, default drivers), so a test can SIGKILL it; or
   * another script (the chaos worker) with extra environment.
   */
  startWorkerProcess(options?: WorkerProcessOptions): Promise<ChildProcess>;
  /** Running replicas of this application as the platform lists them, sorted by id. */
  liveReplicas(): Promise<LiveReplica[]>;
  /** Every delivery the replicas (and the platform server) have logged so far, in order. */
  deliveries(): DeliveryEvent[];
  close(): Promise<void>;
}

export interface FixtureCore<R extends RouterPart> extends FixtureBase {
  /** What the router part's start function returned. */
  router: R;
}

export async function createFixtureCore<R extends RouterPart>(
  options: CoreOptions,
  startRouter: (context: FixtureContext) => Promise<R>,
): Promise<FixtureCore<R>> {
  const { name, modules } = options;
  const application = `${name}-${process.pid}-${++counter}`.toLowerCase().slice(0, 40);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), `cutover-${name}-`));
  const deliveryLog = path.join(stateDir, 'deliveries.jsonl');
  const startLedger = path.join(stateDir, 'starts.log');
  fs.writeFileSync(startLedger, '');
  const context: FixtureContext = {
    name,
    application,
    modules,
    stateDir,
    platformDir: path.join(stateDir, 'platform'),
    taskQueue: `it-${application}`,
    deliveryLog,
    startLedger,
    appEnv: { [DELIVERY_LOG_ENV]: deliveryLog, SAMPLE_START_LEDGER: startLedger },
  };
  const { platformDir, taskQueue } = context;
  const router = await startRouter(context);
  const platformPart = options.platform?.(context);
  const platform = platformPart?.driver ?? newLocalPlatformDriver({ stateDir: platformDir });
  const address = options.temporalAddress ?? temporalAddress();
  const client = await CutoverClient.connect({ address, taskQueue });
  let inProcess: { stop(): Promise<void> } | undefined;
  const workerProcesses: ChildProcess[] = [];
  const ids: string[] = [];

  const withPlatform = (spec: DeploymentSpecInput): DeploymentSpecInput =>
    platformPart ? { ...spec, platform: platformPart.spec() as DeploymentSpecInput['platform'] } : spec;
  const withRouter = (spec: DeploymentSpecInput, overrides: FixtureSpecOverrides): DeploymentSpecInput =>
    withPlatform(
      router.routerSpec || overrides.router
        ? {
            ...spec,
            router: { ...(router.routerSpec?.() ?? spec.router), ...overrides.router } as DeploymentSpecInput['router'],
          }
        : spec,
    );
  const base = (version: string, { router: _router, ...overrides }: FixtureSpecOverrides): SpecOverrides => ({
    application,
    modules,
    version,
    stateDir: platformDir,
    ...router.specDefaults,
    ...overrides,
    env: { ...context.appEnv, ...overrides.env },
  });

  const core: FixtureCore<R> = {
    ...context,
    router,
    platform,
    client,
    spec: (version, overrides = {}) => withRouter(blueGreenSpec(base(version, overrides)), overrides),
    rollingSpec: (version, overrides = {}) => withRouter(rollingSpec(base(version, overrides)), overrides),
    async deploySpec(spec) {
      const { deploymentId } = await client.deploy(spec, { deploymentId: `deploy-test-${application}-${ids.length}` });
      ids.push(deploymentId);
      return deploymentId;
    },
    deploy: (version, overrides) => core.deploySpec(core.spec(version, overrides)),
    deployRolling: (version, overrides) => core.deploySpec(core.rollingSpec(version, overrides)),
    result: (id) => client.result(id),
    async waitForPhase(id, phase, timeoutMs = options.phaseTimeoutMs ?? 60_000) {
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
    async startInProcessWorker() {
      const { worker, close } = await createWorker({
        temporal: { address, taskQueue },
        workflowBundle: await workflowBundle(),
        ...(options.drivers ? { drivers: options.drivers(context) } : {}),
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
    async startWorkerProcess(workerOptions = {}) {
      const { child } = startWorkerProcess({
        address,
        taskQueue,
        logFile: path.join(stateDir, 'worker.log'),
        ...workerOptions,
      });
      workerProcesses.push(child);
      return child;
    },
    async liveReplicas() {
      const sets = await platform.listReplicaSets(application);
      return sets
        .flatMap((s) =>
          s.replicas.filter((r) => r.running).map((r) => ({ id: r.id, version: s.version, address: r.address })),
        )
        .sort((a, b) => a.id.localeCompare(b.id));
    },
    deliveries: () => readDeliveryLog(deliveryLog),
    async close() {
      for (const id of ids) {
        await client
          .handle(id)
          .terminate('test cleanup')
          .catch(() => undefined);
      }
      await core.stopInProcessWorker();
      for (const child of workerProcesses) if (child.exitCode === null) child.kill('SIGKILL');
      // The client's connection is deliberately left open (jest ends the worker process): closing it while
      // one of the SDK's gRPC retries is backing off makes that retry throw "Channel has been shut down" from
      // a timer, after the test, which jest reports as a failed suite (seen once in CI on the hooks suite).
      for (const set of await platform.listReplicaSets(application)) await platform.retireReplicaSet(set.name);
      await router.stop?.();
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
  return core;
}

/** GET /<module>/ at `baseUrl`: the version that answered (the sample app's x-cutover-version header). */
export async function versionAt(
  baseUrl: string,
  module: string,
  headers?: Record<string, string>,
): Promise<string | null> {
  const res = await fetch(`${baseUrl}/${module}/`, { headers });
  await res.arrayBuffer();
  return res.headers.get('x-cutover-version');
}
