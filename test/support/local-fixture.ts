/**
 * Integration fixture: the real Temporal dev server (from global setup), the
 * real local stack (platform server stand-in + local router), the real local
 * platform, a worker (in this process, or a separate process that a test can
 * SIGKILL), a CutoverClient, and spec builders pointing at all of that.
 * Everything but the local stack is the shared core (fixture-core.ts).
 */
import type { Load, LoadClient } from '../../examples/load';
import { startLocalStack } from '../../examples/local-stack';
import type { LocalStack } from '../../examples/local-stack';
import { createFixtureCore, versionAt } from './fixture-core';
import type { FixtureBase } from './fixture-core';
import { startLoad } from './load';
import { readEnviron, replicaProcessesOf } from './proc';

// Other suites import these from here.
export { temporalAddress, workflowBundle } from './fixture-core';

export interface Fixture extends FixtureBase {
  stack: LocalStack;
  /**
   * Starts a load through the router on every module: GETs, POSTs and slow requests, from both client classes
   * at once (undici, and autocannon, which ignores `Connection: close`) unless `clients` says otherwise.
   */
  load(options?: { headers?: Record<string, string>; clients?: LoadClient[] }): Load;
  /** GET /<module>/ through the router; returns the version that answered. */
  versionOf(module: string, headers?: Record<string, string>): Promise<string | null>;
  /** Live sample-app processes of this application (pid + replica id), read from /proc. */
  replicaProcesses(): { pid: number; replica: string; version: string }[];
  /** The environment a replica process was started with (from /proc). */
  replicaEnv(pid: number): Record<string, string>;
  /** Targets registered in a backend of the local router (undefined if it does not exist). */
  backendTargets(backend: string): Promise<string[] | undefined>;
}

export async function createFixture(
  name: string,
  modules = ['Catalog', 'Cart'],
  options: { temporalAddress?: string } = {},
): Promise<Fixture> {
  const core = await createFixtureCore({ name, modules, ...options }, async ({ stateDir, application, appEnv }) => {
    const stack = await startLocalStack({ stateDir, modules, application, platformServerEnv: appEnv });
    return {
      stack,
      specDefaults: { adminUrl: stack.adminUrl, publicUrl: stack.publicUrl },
      stop: () => stack.stop(),
    };
  });
  const { stack } = core.router;
  return {
    ...core,
    stack,
    load: ({ headers, clients = ['undici', 'autocannon'] as LoadClient[] } = {}) =>
      startLoad({ url: stack.publicUrl, paths: modules.map((m) => `/${m}/`), clients, headers }),
    versionOf: (module, headers) => versionAt(stack.publicUrl, module, headers),
    replicaProcesses: () =>
      replicaProcessesOf(core.application).map(({ pid, replica, version }) => ({ pid, replica, version })),
    replicaEnv: (pid) => readEnviron(pid) ?? {},
    async backendTargets(backend) {
      const res = await fetch(`${stack.adminUrl}/backends/${encodeURIComponent(backend)}`);
      if (res.status === 404) return undefined;
      return ((await res.json()) as { targets: string[] }).targets;
    },
  };
}
