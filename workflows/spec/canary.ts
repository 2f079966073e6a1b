/**
 * The canary strategy (`strategy.type: canary`): steps that set the canary's traffic weight, pause, analyse, scale
 * the canary and route marked requests to it (Argo Rollouts' canary steps), or a preset that expands to such steps.
 *
 * The normalised spec holds steps only (a preset is expanded here), so the workflow runs one list. After the last
 * step the canary is promoted: it takes all traffic and becomes the stable version. So the steps must either bring
 * the weight to 100 themselves (the last setWeight is 100) or end with `pause: {}`, where a person promotes: a canary
 * never jumps from a partial weight to 100 without one of the two.
 *
 * Part of the deployment spec (workflows/spec/index.ts): pure, zod at most and no Node built-ins, so workflows import it.
 */
import { z } from 'zod';
import { analysisRefSchema, BUILT_IN_ANALYSIS_ARGS, placeholdersIn } from './analysis';
import type { AnalysisSection } from './analysis';
import { duration } from './duration';
import { SPEC_LIMITS } from './limits';
import { oneOf } from './one-of';
import { parsed } from './parsed';

const weight = z
  .number({ error: 'expected a percentage of traffic: an integer from 0 to 100' })
  .int('expected a percentage of traffic: an integer from 0 to 100')
  .min(0, 'must be at least 0')
  .max(100, 'must be at most 100');

export const canaryPauseSchema = z
  .object({
    /** Wait this long (promote ends the pause early); without it, wait until promoted. */
    duration: duration.optional(),
  })
  .strict();

export const canaryScaleSchema = oneOf(
  {
    /** This many canary replicas. */
    replicas: z.number().int().min(0).max(SPEC_LIMITS.replicas),
    /** This percentage of `replicas` (rounded up). */
    weight,
    /** As many replicas as the current traffic weight needs (the default between scale steps). */
    matchTrafficWeight: z.literal(true, { error: 'matchTrafficWeight is true (remove it to keep the current scale)' }),
  },
  'setCanaryScale',
);

export const headerRouteSchema = z
  .object({
    /** Remove the header route (marked requests follow the weights again). */
    remove: z.boolean().default(false),
  })
  .strict();

export const canaryStepSchema = oneOf(
  {
    setWeight: weight,
    pause: canaryPauseSchema,
    /** Inline analysis: the step blocks until a verdict. */
    analysis: analysisRefSchema,
    setCanaryScale: canaryScaleSchema,
    /** Requests carrying the router's preview header go to the canary. */
    setHeaderRoute: headerRouteSchema,
  },
  'a step',
);

export type CanaryStep = z.output<typeof canaryStepSchema>;

export const CANARY_PRESETS = ['canary10Percent5Minutes', 'linear10PercentEvery1Minute'] as const;
export type CanaryPreset = (typeof CANARY_PRESETS)[number];

/** The steps a preset stands for. */
export function presetSteps(preset: CanaryPreset): CanaryStep[] {
  if (preset === 'canary10Percent5Minutes') {
    return [{ setWeight: 10 }, { pause: { duration: 300_000 } }, { setWeight: 100 }];
  }
  const steps: CanaryStep[] = [];
  for (let w = 10; w < 100; w += 10) steps.push({ setWeight: w }, { pause: { duration: 60_000 } });
  steps.push({ setWeight: 100 });
  return steps;
}

export const backgroundAnalysisSchema = analysisRefSchema
  .extend({
    /** The step (0-based index into steps) from which the analysis runs; a failure fails the rollout at once. */
    startingStep: z.number().int().min(0).max(SPEC_LIMITS.steps).default(0),
  })
  .strict();

export const canarySchema = z
  .object({
    type: z.literal('canary'),
    steps: z
      .array(canaryStepSchema)
      .min(1, 'must have at least one step (or use a preset)')
      .max(SPEC_LIMITS.steps, `must have at most ${SPEC_LIMITS.steps} steps`)
      .optional(),
    /** Instead of steps: canary10Percent5Minutes or linear10PercentEvery1Minute (expanded to steps). */
    preset: z.enum(CANARY_PRESETS, { error: `expected a preset: ${CANARY_PRESETS.join(' or ')}` }).optional(),
    backgroundAnalysis: backgroundAnalysisSchema.optional(),
    /**
     * The gate of a `pause: {}` step: it waits for promote (or abort) up to `timeout`, then `onTimeout` applies.
     * Always "required" (a canary has no automatic mode: a pause without a duration is there for a person); the
     * same shape as rolling's `approval`, so the status reports a canary's gate as it does the others'.
     */
    approval: z
      .object({
        mode: z
          .literal('required', { error: 'a canary\'s pause: {} always waits for a person: mode is "required"' })
          .default('required'),
        timeout: duration.default(86_400_000),
        onTimeout: z.enum(['rollback', 'promote']).default('rollback'),
      })
      .strict()
      .default({ mode: 'required', timeout: 86_400_000, onTimeout: 'rollback' }),
    /** The gate an inconclusive analysis pauses at: promote or roll back by hand, or `onTimeout` after `timeout`. */
    inconclusive: z
      .object({
        timeout: duration.default(3_600_000),
        onTimeout: z.enum(['rollback', 'promote']).default('rollback'),
      })
      .strict()
      .default({ timeout: 3_600_000, onTimeout: 'rollback' }),
    /** After an abort the canary stays up this long (its traffic already at 0) before it is scaled down. */
    abortScaleDownDelay: duration.default(30_000),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.steps !== undefined && s.preset !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['preset'], message: 'set either steps or preset, not both' });
      return;
    }
    if (s.steps === undefined && s.preset === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['steps'],
        message: `set steps, or a preset (${CANARY_PRESETS.join(', ')})`,
      });
      return;
    }
    if (!parsed(ctx, 'steps', 'preset', 'backgroundAnalysis')) return;
    const steps = effectiveSteps(s);
    const start = s.backgroundAnalysis?.startingStep;
    if (start !== undefined && start >= steps.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['backgroundAnalysis', 'startingStep'],
        message: `must be the index of a step: 0 to ${steps.length - 1} (the strategy has ${steps.length} steps)`,
      });
    }
    const last = steps[steps.length - 1];
    const endsWithOpenPause = last?.pause !== undefined && last.pause.duration === undefined;
    const lastWeight = [...steps].reverse().find((step) => step.setWeight !== undefined)?.setWeight ?? 0;
    if (lastWeight !== 100 && !endsWithOpenPause) {
      ctx.addIssue({
        code: 'custom',
        path: ['steps'],
        message:
          `the last setWeight is ${lastWeight}, and the canary is promoted to 100 after the last step: ` +
          'end with setWeight: 100, or with pause: {} (a person promotes)',
      });
    }
  })
  .transform(({ preset: _preset, steps: _steps, ...rest }) => ({
    ...rest,
    steps: effectiveSteps({ steps: _steps, preset: _preset }),
  }));

function effectiveSteps(s: { steps?: CanaryStep[]; preset?: CanaryPreset }): CanaryStep[] {
  return s.steps ?? (s.preset ? presetSteps(s.preset) : []);
}

export type CanaryStrategy = z.output<typeof canarySchema>;

/**
 * The cross-field checks of a canary against the rest of the spec: the templates it names exist, the metrics one
 * analysis runs have distinct names, count 0 (until ended) only in background analysis, every `{{args.<name>}}` of a template is an arg the analysis gets, and no
 * scale step asks for more than `replicas`.
 */
export function checkCanary(
  strategy: CanaryStrategy,
  spec: { replicas: number; analysis?: AnalysisSection },
  ctx: z.RefinementCtx,
): void {
  const uses: AnalysisUse[] = strategy.steps.flatMap((step, i) =>
    step.analysis ? [{ path: ['steps', i, 'analysis'], ...step.analysis, background: false }] : [],
  );
  if (strategy.backgroundAnalysis) {
    uses.push({ path: ['backgroundAnalysis'], ...strategy.backgroundAnalysis, background: true });
  }
  checkAnalysisUses(uses, spec, ctx);
  strategy.steps.forEach((step, i) => {
    const replicas = step.setCanaryScale?.replicas;
    if (replicas !== undefined && replicas > spec.replicas) {
      ctx.addIssue({
        code: 'custom',
        path: ['strategy', 'steps', i, 'setCanaryScale', 'replicas'],
        message: `must be at most replicas (${spec.replicas})`,
      });
    }
  });
}

/** Where a strategy names analysis templates (path under `strategy`), with its args. */
export interface AnalysisUse {
  path: (string | number)[];
  templates: string[];
  args: Record<string, string>;
  /** Background analysis: the only kind that may run a metric of count 0 (until ended). */
  background: boolean;
}

/**
 * The checks of every analysis a strategy runs (canary steps and background analysis, blue-green's pre- and
 * post-promotion analysis): its templates exist, the metrics it runs have distinct names, count 0 only in
 * background analysis, every `{{args.<name>}}` is an arg it gets.
 */
export function checkAnalysisUses(
  uses: AnalysisUse[],
  spec: { analysis?: AnalysisSection },
  ctx: z.RefinementCtx,
): void {
  const templates = spec.analysis?.templates ?? {};
  for (const use of uses) {
    // A measurement names its metric only: the metrics one analysis runs have distinct names.
    const metricOwner = new Map<string, string>();
    use.templates.forEach((templateName, t) => {
      const path = ['strategy', ...use.path, 'templates', t];
      // Own keys only: a name such as "constructor" is no template (not Object.prototype's).
      const template = Object.prototype.hasOwnProperty.call(templates, templateName)
        ? templates[templateName]
        : undefined;
      if (!template) {
        const known = Object.keys(templates);
        ctx.addIssue({
          code: 'custom',
          path,
          message: `no template "${templateName}" in analysis.templates (${known.length ? `it has ${known.join(', ')}` : 'there are none'})`,
        });
        return;
      }
      for (const metric of template.metrics) {
        const owner = metricOwner.get(metric.name);
        if (owner !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path,
            message: `templates "${owner}" and "${templateName}" both have a metric "${metric.name}": one analysis runs metrics of distinct names`,
          });
        }
        metricOwner.set(metric.name, templateName);
        if (metric.count === 0 && !use.background) {
          ctx.addIssue({
            code: 'custom',
            path,
            message:
              `template "${templateName}" has metric "${metric.name}" with count 0 (measured until the analysis is ` +
              'ended): only a backgroundAnalysis may run it, an analysis step would never end',
          });
        }
        const known = new Set<string>([...BUILT_IN_ANALYSIS_ARGS, ...Object.keys(use.args)]);
        const missing = placeholdersIn(metric.provider).filter((arg) => !known.has(arg));
        if (missing.length) {
          ctx.addIssue({
            code: 'custom',
            path: ['strategy', ...use.path, 'args'],
            message:
              `template "${templateName}" metric "${metric.name}" uses ${missing.map((a) => `{{args.${a}}}`).join(', ')}: ` +
              `give ${missing.length > 1 ? 'them' : 'it'} in args (built in: ${BUILT_IN_ANALYSIS_ARGS.join(', ')})`,
          });
        }
      }
    });
  }
}
