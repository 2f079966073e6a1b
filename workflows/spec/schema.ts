/**
 * The whole deployment spec: the strategies, the spec schema with its cross-field checks, and its types.
 *
 * Part of the deployment spec (workflows/spec/index.ts): pure, zod at most and no Node built-ins, so workflows import it.
 */
import { z } from 'zod';
import { analysisSchema } from './analysis';
import { blueGreenSchema } from './blue-green';
import { canarySchema, checkAnalysisUses, checkCanary } from './canary';
import type { CanaryStrategy } from './canary';
import { moduleName, name, utf8Bytes } from './fields';
import { healthSchema } from './health';
import { SPEC_LIMITS } from './limits';
import { parsed } from './parsed';
import { platformSchema } from './platform';
import { rollingSchema } from './rolling';
import { checkKubernetesServiceRouter, routerSchema } from './router';

export const strategySchema = z.discriminatedUnion('type', [blueGreenSchema, rollingSchema, canarySchema]);

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
      .array(moduleName, { error: 'expected a list of module names' })
      .min(1, 'must name at least one module')
      .max(
        SPEC_LIMITS.modules,
        `must have at most ${SPEC_LIMITS.modules} modules (the spec travels in every workflow payload); split the application`,
      )
      .refine((m) => new Set(m).size === m.length, 'module names must be unique'),
    replicas: z.number().int().min(1).max(SPEC_LIMITS.replicas, `must be at most ${SPEC_LIMITS.replicas}`).default(2),
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
    /** Analysis templates (canary steps and background analysis name them); absent when none are used. */
    analysis: analysisSchema.optional(),
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
    if (parsed(ctx, 'router', 'platform', 'strategy')) checkKubernetesServiceRouter(spec, ctx);
    if (spec.strategy.type === 'canary' && parsed(ctx, 'strategy', 'analysis', 'replicas')) {
      checkCanary(spec.strategy, spec, ctx);
    }
    if (spec.strategy.type === 'blue-green' && parsed(ctx, 'strategy', 'analysis')) {
      const { prePromotionAnalysis: pre, postPromotionAnalysis: post } = spec.strategy;
      checkAnalysisUses(
        [
          ...(pre ? [{ path: ['prePromotionAnalysis'], ...pre, background: false }] : []),
          ...(post ? [{ path: ['postPromotionAnalysis'], ...post, background: false }] : []),
        ],
        spec,
        ctx,
      );
    }
    if (spec.strategy.type === 'rolling' && parsed(ctx, 'strategy', 'analysis')) {
      const uses = spec.strategy.steps.flatMap((step, i) =>
        step.analysis ? [{ path: ['steps', i, 'analysis'], ...step.analysis, background: false }] : [],
      );
      checkAnalysisUses(uses, spec, ctx);
    }
    // Every part is bounded; this bounds their sum (the workflow input) and says which part is large.
    const bytes = utf8Bytes(JSON.stringify(spec));
    if (bytes > SPEC_LIMITS.specBytes) {
      const parts = Object.entries(spec).map(([key, value]) => [key, utf8Bytes(JSON.stringify(value) ?? '')] as const);
      const [largest, size] = parts.reduce((a, b) => (b[1] > a[1] ? b : a));
      ctx.addIssue({
        code: 'custom',
        path: [largest],
        message:
          `the spec is ${Math.ceil(bytes / 1024)} KiB as JSON, over the ${SPEC_LIMITS.specBytes / 1024} KiB limit ` +
          `(it is the workflow's input); ${largest} is ${Math.ceil(size / 1024)} KiB of it`,
      });
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
export type RollingStrategy = z.output<typeof rollingSchema>;
export type RollingStep = RollingStrategy['steps'][number];
export type { CanaryStrategy };
/** A spec whose strategy is known to be blue-green / rolling / canary (see the guards below). */
export type BlueGreenSpec = DeploymentSpec & { strategy: BlueGreenStrategy };
export type RollingSpec = DeploymentSpec & { strategy: RollingStrategy };
export type CanarySpec = DeploymentSpec & { strategy: CanaryStrategy };

export function isBlueGreenSpec(spec: DeploymentSpec): spec is BlueGreenSpec {
  return spec.strategy.type === 'blue-green';
}

export function isRollingSpec(spec: DeploymentSpec): spec is RollingSpec {
  return spec.strategy.type === 'rolling';
}

export function isCanarySpec(spec: DeploymentSpec): spec is CanarySpec {
  return spec.strategy.type === 'canary';
}
