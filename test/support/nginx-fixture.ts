/**
 * Integration fixture with nginx as the Main Load Balancer and Reverse Proxy: the real Temporal dev server (from
 * global setup), a stand-in platform server (the sample app) behind nginx's `location /`, the real local platform
 * for the replicas, a worker in this process with the default drivers (so the spec's `router.kind: nginx` selects
 * the nginx driver), a CutoverClient, and a load generator through nginx that counts every failed request.
 * Everything but nginx and its platform server is the shared core (fixture-core.ts).
 */
import * as path from 'node:path';
import type { Load } from '../../examples/load';
import { startSampleApp } from '../activities/drivers/local-support';
import { createFixtureCore, versionAt } from './fixture-core';
import type { CoreOptions, FixtureBase } from './fixture-core';
import { startLoad } from './load';
import { startNginx } from './nginx';
import type { NginxServer } from './nginx';

export interface NginxFixture extends FixtureBase {
  nginx: NginxServer;
  /**
   * A load through nginx on every module: GETs, POSTs and slow requests from undici, a client that honours
   * `Connection: close` (what autocannon, which ignores it, sees through nginx: docs/routers.md).
   */
  load(options?: { headers?: Record<string, string> }): Load;
  /** GET /<module>/ through nginx: the version that answered. */
  versionOf(module: string, headers?: Record<string, string>): Promise<string | null>;
  /** Versions of the live replica processes of this application (sorted by replica id). */
  liveVersions(): Promise<string[]>;
}

/** Another platform than the local one for the replicas (e.g. Kubernetes pods on a real node: upstreams on pod IPs). */
export interface NginxFixtureOptions {
  platform?: CoreOptions['platform'];
}

export async function createNginxFixture(
  name: string,
  modules = ['Catalog', 'Cart'],
  { platform }: NginxFixtureOptions = {},
): Promise<NginxFixture> {
  const options: CoreOptions = { name, modules, phaseTimeoutMs: 90_000, ...(platform ? { platform } : {}) };
  const core = await createFixtureCore(options, async ({ stateDir, appEnv }) => {
    const platformServer = await startSampleApp({
      dir: stateDir,
      version: 'platform-server',
      modules,
      env: { ...appEnv, CUTOVER_REPLICA_ID: 'platform-server' },
    });
    const nginx = await startNginx({ platformServer: platformServer.url, dir: path.join(stateDir, 'nginx') });
    return {
      nginx,
      routerSpec: () => nginx.routerSpec(),
      stop: async () => {
        await nginx.stop();
        await platformServer.stop();
      },
    };
  });
  await core.startInProcessWorker();
  const { nginx } = core.router;
  return {
    ...core,
    nginx,
    load: ({ headers } = {}) =>
      startLoad({ url: nginx.url, paths: modules.map((m) => `/${m}/`), clients: ['undici'], connections: 4, headers }),
    versionOf: (module, headers) => versionAt(nginx.url, module, headers),
    liveVersions: async () => (await core.liveReplicas()).map((r) => r.version),
  };
}
