/** Spec builders for tests: a valid blue-green spec with overrides. */
import type { DeploymentSpecInput } from '../../workflows/spec';

export interface SpecOverrides {
  application?: string;
  version?: string;
  modules?: string[];
  replicas?: number;
  adminUrl?: string;
  publicUrl?: string;
  stateDir?: string;
  env?: Record<string, string>;
  strategy?: Record<string, unknown>;
  health?: Record<string, unknown>;
}

export function blueGreenSpec(o: SpecOverrides = {}): DeploymentSpecInput {
  return {
    application: o.application ?? 'shop',
    environment: 'test',
    version: o.version ?? '2.0.0',
    modules: o.modules ?? ['Catalog', 'Cart'],
    replicas: o.replicas ?? 2,
    platform: { kind: 'local', stateDir: o.stateDir, env: o.env ?? {} },
    router: {
      kind: 'local',
      adminUrl: o.adminUrl ?? 'http://127.0.0.1:9901',
      publicUrl: o.publicUrl ?? 'http://127.0.0.1:9900',
    },
    strategy: { type: 'blue-green', rollbackWindow: '0s', ...o.strategy },
    health: { interval: '100ms', timeout: '1s', successThreshold: 1, deadline: '20s', ...o.health },
  };
}

/** A valid rolling-update spec with overrides (`strategy` is merged into `{ type: 'rolling' }`). */
export function rollingSpec(o: SpecOverrides = {}): DeploymentSpecInput {
  return {
    ...blueGreenSpec(o),
    strategy: { type: 'rolling', drainTimeout: '5s', ...o.strategy },
  };
}
