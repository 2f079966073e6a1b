/**
 * The deployment spec: the one schema every edge (CLI, HTTP hooks, client API,
 * the Temporal UI's start form via the workflow itself) validates against.
 *
 * Pure module: zod only, no Node built-ins, so workflows may import it.
 */
import { z } from 'zod';

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "30s", "5m", "2h", "3d", "250ms" (or a number of milliseconds) into milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return value;
  const match = DURATION_RE.exec(value.trim());
  if (!match) throw new Error(`invalid duration "${value}"`);
  return Math.round(Number(match[1]) * (UNIT_MS[match[2] as string] as number));
}

/** A duration given as "30s" / "5m" / "2h" / "3d" / "250ms" or a number of milliseconds; yields milliseconds. */
export const duration = z
  .union([
    z.number().int().nonnegative(),
    z.string().regex(DURATION_RE, 'expected a duration such as "250ms", "30s", "5m", "2h" or "3d"'),
  ])
  .transform((v) => parseDuration(v));

const name = (what: string) =>
  z
    .string()
    .min(1)
    .max(40)
    .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, `${what} must be lower-case letters, digits and dashes (DNS label)`);

const moduleName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'module names are letters, digits, "_", "-" and "." (served at /<Module>/)');

export const healthSchema = z
  .object({
    /** Path probed on each replica; "{module}" is replaced by every module name. */
    path: z.string().startsWith('/').default('/{module}/_ping.html'),
    interval: duration.default(1000),
    timeout: duration.default(2000),
    /** Consecutive successes a replica needs to count as healthy. */
    successThreshold: z.number().int().min(1).max(100).default(2),
    /** Overall deadline for all replicas to become healthy. */
    deadline: duration.default(300_000),
  })
  .strict();

export const localPlatformSchema = z
  .object({
    kind: z.literal('local'),
    /** Where the local platform keeps its state (replica records, logs). */
    stateDir: z.string().optional(),
    /** Command that starts one replica; defaults to the bundled sample application. */
    command: z.array(z.string().min(1)).min(1).optional(),
    /** Environment given to every replica (non-secret configuration only). */
    env: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export const platformSchema = z.discriminatedUnion('kind', [localPlatformSchema]);

export const localRouterSchema = z
  .object({
    kind: z.literal('local'),
    /** Admin API of the local router (the embedded Main Load Balancer and Reverse Proxy). */
    adminUrl: z.url(),
    /** Public (traffic) URL of the router, used to verify that modules answer from the new version. */
    publicUrl: z.url(),
  })
  .strict();

export const routerSchema = z.discriminatedUnion('kind', [localRouterSchema]);

export const approvalSchema = z
  .object({
    /** "required": wait for approve/promote; "automatic": promote as soon as green is healthy. */
    mode: z.enum(['required', 'automatic']).default('automatic'),
    /** How long to wait for a decision before `onTimeout` applies. */
    timeout: duration.default(86_400_000),
    onTimeout: z.enum(['rollback', 'promote']).default('rollback'),
  })
  .strict();

export const previewSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Requests carrying this header (any value) are routed to green while previewing. */
    header: z.string().default('x-cutover-preview'),
  })
  .strict();

export const blueGreenSchema = z
  .object({
    type: z.literal('blue-green'),
    /** Replicas started for preview before approval (like Argo's previewReplicaCount); defaults to `replicas`. */
    previewReplicas: z.number().int().min(1).optional(),
    preview: previewSchema.default({ enabled: false, header: 'x-cutover-preview' }),
    approval: approvalSchema.default({ mode: 'automatic', timeout: 86_400_000, onTimeout: 'rollback' }),
    /** Switch every module at once, or one module at a time (each verified before the next). */
    switchMode: z.enum(['all-at-once', 'module-by-module']).default('all-at-once'),
    /** How long blue is kept after the switch, during which `rollback` switches back instantly. */
    rollbackWindow: duration.default(30_000),
  })
  .strict();

export const strategySchema = z.discriminatedUnion('type', [blueGreenSchema]);

export const deploymentSpecSchema = z
  .object({
    application: name('application'),
    environment: name('environment').default('default'),
    version: z
      .string()
      .min(1)
      .max(63)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'version must be letters, digits, ".", "_" and "-"'),
    modules: z
      .array(moduleName)
      .min(1)
      .refine((m) => new Set(m).size === m.length, 'module names must be unique'),
    replicas: z.number().int().min(1).max(10_000).default(2),
    platform: platformSchema,
    router: routerSchema,
    strategy: strategySchema,
    health: healthSchema.default({
      path: '/{module}/_ping.html',
      interval: 1000,
      timeout: 2000,
      successThreshold: 2,
      deadline: 300_000,
    }),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.strategy.type === 'blue-green' && spec.strategy.previewReplicas !== undefined) {
      if (spec.strategy.previewReplicas > spec.replicas) {
        ctx.addIssue({
          code: 'custom',
          path: ['strategy', 'previewReplicas'],
          message: `must be at most replicas (${spec.replicas})`,
        });
      }
    }
  });

/** What a person writes (durations as strings, defaults omitted). */
export type DeploymentSpecInput = z.input<typeof deploymentSpecSchema>;
/** The normalised spec workflows run on (durations in milliseconds, defaults filled in). */
export type DeploymentSpec = z.output<typeof deploymentSpecSchema>;
export type PlatformConfig = DeploymentSpec['platform'];
export type RouterConfig = DeploymentSpec['router'];
export type HealthCheck = DeploymentSpec['health'];
export type BlueGreenStrategy = z.output<typeof blueGreenSchema>;

export interface SpecIssue {
  /** Dotted path of the offending field, e.g. "strategy.rollbackWindow". */
  field: string;
  message: string;
}

export type SpecResult = { ok: true; spec: DeploymentSpec } | { ok: false; issues: SpecIssue[] };

/** Validates a raw spec (parsed YAML/JSON) and names every offending field. Never throws. */
export function validateSpec(raw: unknown): SpecResult {
  const result = deploymentSpecSchema.safeParse(raw);
  if (result.success) return { ok: true, spec: result.data };
  return {
    ok: false,
    issues: result.error.issues.map((issue) => ({
      field: issue.path.length ? issue.path.map(String).join('.') : '(root)',
      message: issue.message,
    })),
  };
}

export function formatSpecIssues(issues: SpecIssue[]): string {
  return issues.map((i) => `${i.field}: ${i.message}`).join('; ');
}
