/**
 * Integration fixture with nginx as the Main Load Balancer and Reverse Proxy: the real Temporal dev server (from
 * global setup), a stand-in platform server (the sample app) behind nginx's `location /`, the real local platform
 * for the replicas, a worker in this process with the default drivers (so the spec's `router.kind: nginx` selects
 * the nginx driver), a CutoverClient, and a load generator through nginx that counts every failed request.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { newLocalPlatformDriver } from '../../activities/drivers/local';
import type { Platform } from '../../activities/ports';
import { CutoverClient } from '../../client/client';
import type { Load } from '../../examples/load';
import type { DeploymentSpecInput } from '../../workflows/spec';
import type { DeploymentResult, DeploymentStatus, Phase } from '../../workflows/types';
import { createWorker } from '../../worker';
import { startSampleApp } from '../activities/drivers/local-support';
import type { SampleApp } from '../activities/drivers/local-support';
import { startHttpLoad } from './http-load';
import { temporalAddress, workflowBundle } from './local-fixture';
import { startNginx } from './nginx';
import type { NginxServer } from './nginx';
import { blueGreenSpec, rollingSpec } from './specs';
import type { SpecOverrides } from './specs';

let counter = 0;

export interface NginxFixture {
  application: string;
  modules: string[];
  nginx: NginxServer;
  platform: Platform;
  client: CutoverClient;
  spec(version: string, overrides?: SpecOverrides): DeploymentSpecInput;
  /** A load generator through nginx on every module (a client that honours Connection: close). */
  load(headers?: Record<string, string>): Load;
  deploy(version: string, overrides?: SpecOverrides): Promise<string>;
  /** A rolling-update spec through nginx (`strategy` merged into `{ type: 'rolling' }`). */
  rollingSpec(version: string, overrides?: SpecOverrides): DeploymentSpecInput;
  deployRolling(version: string, overrides?: SpecOverrides): Promise<string>;
  result(id: string): Promise<DeploymentResult>;
  waitForPhase(id: string, phase: Phase, timeoutMs?: number): Promise<DeploymentStatus>;
  /** GET /<module>/ through nginx: the version that answered. */
  versionOf(module: string, headers?: Record<string, string>): Promise<string | null>;
  /** Versions of the live replica processes of this application (sorted by replica id). */
  liveVersions(): Promise<string[]>;
  close(): Promise<void>;
}

export async function createNginxFixture(name: string, modules = ['Catalog', 'Cart']): Promise<NginxFixture> {
  const application = `${name}-${process.pid}-${++counter}`.toLowerCase().slice(0, 40);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), `cutover-${name}-`));
  const platformDir = path.join(stateDir, 'platform');
  const taskQueue = `it-${application}`;
  const platformServer: SampleApp = await startSampleApp({ dir: stateDir, version: 'platform-server', modules });
  const nginx = await startNginx({ platformServer: platformServer.url, dir: path.join(stateDir, 'nginx') });
  const platform = newLocalPlatformDriver({ stateDir: platformDir });
  const client = await CutoverClient.connect({ address: temporalAddress(), taskQueue });
  const { worker, close: closeWorker } = await createWorker({
    temporal: { address: temporalAddress(), taskQueue },
    workflowBundle: await workflowBundle(),
  });
  const running = worker.run();
  const ids: string[] = [];

  const fixture: NginxFixture = {
    application,
    modules,
    nginx,
    platform,
    client,
    spec: (version, overrides = {}) => ({
      ...blueGreenSpec({ application, modules, version, stateDir: platformDir, ...overrides }),
      router: nginx.routerSpec() as DeploymentSpecInput['router'],
    }),
    load: (headers) => startHttpLoad({ url: nginx.url, paths: modules.map((m) => `/${m}/`), connections: 8, headers }),
    async deploy(version, overrides) {
      const { deploymentId } = await client.deploy(fixture.spec(version, overrides), {
        deploymentId: `deploy-test-${application}-${ids.length}`,
      });
      ids.push(deploymentId);
      return deploymentId;
    },
    rollingSpec: (version, overrides = {}) => ({
      ...rollingSpec({ application, modules, version, stateDir: platformDir, ...overrides }),
      router: nginx.routerSpec() as DeploymentSpecInput['router'],
    }),
    async deployRolling(version, overrides) {
      const { deploymentId } = await client.deploy(fixture.rollingSpec(version, overrides), {
        deploymentId: `deploy-test-${application}-${ids.length}`,
      });
      ids.push(deploymentId);
      return deploymentId;
    },
    result: (id) => client.result(id),
    async waitForPhase(id, phase, timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      let last: DeploymentStatus | undefined;
      while (Date.now() < deadline) {
        try {
          last = await client.status(id);
          if (last.phase === phase) return last;
        } catch {
          // not started yet
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`${id} did not reach ${phase} (last phase: ${last?.phase ?? 'unknown'})`);
    },
    async versionOf(module, headers) {
      const res = await fetch(`${nginx.url}/${module}/`, { headers });
      await res.arrayBuffer();
      return res.headers.get('x-cutover-version');
    },
    async liveVersions() {
      const sets = await platform.listReplicaSets(application);
      return sets
        .flatMap((s) => s.replicas.filter((r) => r.running).map((r) => ({ id: r.id, version: s.version })))
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((r) => r.version);
    },
    async close() {
      for (const id of ids) {
        await client
          .handle(id)
          .terminate('test cleanup')
          .catch(() => undefined);
      }
      worker.shutdown();
      await running;
      await closeWorker();
      // Connection left open on purpose: see test/support/local-fixture.ts close().
      for (const set of await platform.listReplicaSets(application)) await platform.retireReplicaSet(set.name);
      await nginx.stop();
      await platformServer.stop();
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
  return fixture;
}
