/**
 * The rolling-update strategy (`strategy.type: rolling`): surge and unavailability bounds, pauses, approval.
 *
 * Part of the deployment spec (workflows/spec/index.ts): pure, zod at most and no Node built-ins, so workflows import it.
 */
import { z } from 'zod';
import { isExplicitZero } from '../rolling-math';
import { analysisRefSchema } from './analysis';
import { duration } from './duration';
import { SPEC_LIMITS } from './limits';

/** An absolute number of replicas, or a percentage of `replicas` such as "25%" (Kubernetes' IntOrString). */
const INT_OR_PERCENT = 'expected a non-negative integer or a percentage such as "25%"';
const intOrPercent = z.union(
  [z.number().int().nonnegative().max(SPEC_LIMITS.replicas), z.string().regex(/^\d{1,5}%$/, INT_OR_PERCENT)],
  { error: INT_OR_PERCENT },
);

export const rollingPauseSchema = z.union(
  [
    /** Wait for approve / promote (or reject); `strategy.approval` sets the timeout and what it does. */
    z.object({ approval: z.literal(true) }).strict(),
    /** Wait this long (approve / promote ends the pause early, reject rolls back). */
    z.object({ duration }).strict(),
  ],
  { error: 'expected {approval: true} or {duration: "<duration>"} (e.g. "10m")' },
);

export const rollingStepSchema = z
  .object({
    /** Stop once this batch is complete (1 = after the first batch: a canary). */
    afterBatch: z.number().int().min(1).max(SPEC_LIMITS.replicas),
    /**
     * Analysis of the application once the batch serves (the templates of `analysis`, run to a verdict before the
     * pause): a failure rolls back; inconclusive, or too few samples under policy pause, waits at the approval gate.
     * Old and new replicas share one backend (`{{args.canary}}` = `{{args.stable}}`): the metrics measure the mixed
     * fleet, so the thresholds are for the application as a whole.
     */
    analysis: analysisRefSchema.optional(),
    pause: rollingPauseSchema.optional(),
  })
  .strict()
  .refine((s) => s.pause !== undefined || s.analysis !== undefined, {
    error: 'a step needs a pause, an analysis or both',
  });

export const rollingSchema = z
  .object({
    type: z.literal('rolling'),
    /** Replicas that may exist above `replicas` during the update (percentages round up). */
    maxSurge: intOrPercent.default('25%'),
    /** Replicas of `replicas` that may be out of service during the update (percentages round down). */
    maxUnavailable: intOrPercent.default('25%'),
    /** Seconds a new replica must stay healthy before it is registered (Kubernetes' minReadySeconds). */
    minReadySeconds: z.number().int().nonnegative().max(3600).default(0),
    /** How long a deregistered replica may finish its in-flight requests before it is retired. */
    drainTimeout: duration.default(30_000),
    /** A batch whose new replicas make no progress (none becomes healthy) for this long triggers `onProgressDeadline`. */
    progressDeadline: duration.default(600_000),
    /** What a stalled batch does: roll back, or pause for a person (approve = keep waiting, reject = roll back). */
    onProgressDeadline: z.enum(['rollback', 'pause']).default('rollback'),
    /** Pauses between batches. */
    steps: z
      .array(rollingStepSchema)
      .max(SPEC_LIMITS.steps, `must have at most ${SPEC_LIMITS.steps} pauses`)
      .default([]),
    /** Approval pauses: "required" waits for a decision; "automatic" lets every approval pause pass at once. */
    approval: z
      .object({
        mode: z.enum(['required', 'automatic']).default('required'),
        timeout: duration.default(86_400_000),
        onTimeout: z.enum(['rollback', 'promote']).default('rollback'),
      })
      .strict()
      .default({ mode: 'required', timeout: 86_400_000, onTimeout: 'rollback' }),
    /**
     * Names the configuration being rolled out. A rolling update replaces every replica whose version or
     * configuration differs: the revision is this string when given, else a digest of `platform.env`, so a
     * configuration-only update (same version, changed env) rolls through the replicas like a new version.
     */
    configRevision: z
      .string()
      .min(1)
      .max(20)
      .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'configRevision must be lower-case letters, digits and dashes')
      .optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (isExplicitZero(s.maxSurge) && isExplicitZero(s.maxUnavailable)) {
      ctx.addIssue({ code: 'custom', path: ['maxUnavailable'], message: 'may not be 0 when maxSurge is 0' });
    }
    if (typeof s.maxUnavailable === 'string' && Number.parseInt(s.maxUnavailable, 10) > 100) {
      ctx.addIssue({ code: 'custom', path: ['maxUnavailable'], message: 'must not be greater than 100%' });
    }
    const seen = new Set<number>();
    s.steps.forEach((step, i) => {
      if (seen.has(step.afterBatch)) {
        ctx.addIssue({
          code: 'custom',
          path: ['steps', i, 'afterBatch'],
          message: `batch ${step.afterBatch} already has a pause`,
        });
      }
      seen.add(step.afterBatch);
    });
  });
