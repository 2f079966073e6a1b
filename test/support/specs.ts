/** Spec builders for tests: a valid blue-green spec with overrides. */
import { SPEC_LIMITS, validateSpec } from '../../workflows/spec';
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
  /** Fields merged into the local platform section (command, startTimeout...). */
  platform?: Record<string, unknown>;
  strategy?: Record<string, unknown>;
  health?: Record<string, unknown>;
  /** The spec's analysis section (templates), for strategies that analyse. */
  analysis?: Record<string, unknown>;
}

export function blueGreenSpec(o: SpecOverrides = {}): DeploymentSpecInput {
  return {
    application: o.application ?? 'shop',
    environment: 'test',
    version: o.version ?? '2.0.0',
    modules: o.modules ?? ['Catalog', 'Cart'],
    replicas: o.replicas ?? 2,
    platform: { kind: 'local', stateDir: o.stateDir, env: o.env ?? {}, ...o.platform },
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
    ...(o.analysis ? { analysis: o.analysis } : {}),
  };
}

/** A DNS label of exactly `length` characters. */
const label = (stem: string, length: number) => stem.padEnd(length, 'x');

/**
 * The largest spec the schema accepts, as far as payloads go: every name at its longest, the most modules (each
 * name at its longest), the most replicas, and the environment and the start command filled until the whole
 * normalised spec is just under SPEC_LIMITS.specBytes.
 */
export function largestSpec(strategy: Record<string, unknown>, limits: typeof SPEC_LIMITS = SPEC_LIMITS) {
  const modules = Array.from({ length: limits.modules }, (_, i) => `M${i}`.padEnd(100, 'm'));
  const spec = {
    application: label('app', 40),
    environment: label('env', 40),
    version: '2.0.0'.padEnd(63, 'x'),
    modules,
    replicas: limits.replicas,
    platform: {
      kind: 'local' as const,
      stateDir: `/${'s'.repeat(200)}`,
      env: {} as Record<string, string>,
      command: [] as string[],
    },
    router: { kind: 'local' as const, adminUrl: 'http://127.0.0.1:9901', publicUrl: 'http://127.0.0.1:9900' },
    strategy,
    health: { interval: '100ms', timeout: '1s', successThreshold: 1, deadline: '20s' },
  };
  // Environment up to its own limit (entries of ~1 KiB), then arguments until the spec is at its limit.
  for (let i = 0; (i + 1) * 1040 < limits.envBytes; i++) spec.platform.env[`VAR_${i}`] = 'v'.repeat(1024);
  const size = () => Buffer.byteLength(JSON.stringify(validated(spec)));
  spec.platform.command.push('node');
  while (spec.platform.command.length < limits.commandArgs && size() + 4200 < limits.specBytes) {
    spec.platform.command.push('a'.repeat(4096));
  }
  const gap = limits.specBytes - size() - 16;
  if (gap > 0 && spec.platform.command.length < limits.commandArgs) spec.platform.command.push('p'.repeat(gap));
  validated(spec);
  return spec;
}

function validated(spec: unknown) {
  const result = validateSpec(spec);
  if (!result.ok) throw new Error(`largestSpec is not a valid spec: ${JSON.stringify(result.issues)}`);
  return result.spec;
}

/** A metric of the analysis section (a web provider: the unit tests fake the measurement). */
export function analysisMetric(name: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    provider: { web: { url: 'http://127.0.0.1:9/metrics', jsonPath: '$.value' } },
    interval: '10s',
    count: 2,
    successCondition: 'result < 0.05',
    ...overrides,
  };
}

/** A valid canary spec with overrides (`strategy` is merged into `{ type: 'canary' }`); `analysis` as given. */
export function canarySpec(o: SpecOverrides = {}): DeploymentSpecInput {
  const { analysis, ...rest } = o;
  return {
    ...blueGreenSpec(rest),
    strategy: {
      type: 'canary',
      steps: [
        { setWeight: 10 },
        { pause: { duration: '1m' } },
        { setWeight: 50 },
        { pause: { duration: '1m' } },
        { setWeight: 100 },
      ],
      abortScaleDownDelay: '0s',
      ...o.strategy,
    },
    ...(analysis ? { analysis } : {}),
  };
}
