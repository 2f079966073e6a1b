/**
 * The blue-green strategy (`strategy.type: blue-green`): preview, approval, switch mode, rollback window.
 *
 * Part of the deployment spec (workflows/spec/index.ts): pure, zod at most and no Node built-ins, so workflows import it.
 */
import { z } from 'zod';
import { analysisRefSchema } from './analysis';
import { duration } from './duration';
import { SPEC_LIMITS } from './limits';

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
    header: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,40}$/, 'a header name: 1-40 letters, digits and dashes')
      .default('x-cutover-preview'),
  })
  .strict();

export const blueGreenSchema = z
  .object({
    type: z.literal('blue-green'),
    /** Replicas started for preview before approval (like Argo's previewReplicaCount); defaults to `replicas`. */
    previewReplicas: z.number().int().min(1).max(SPEC_LIMITS.replicas).optional(),
    preview: previewSchema.default({ enabled: false, header: 'x-cutover-preview' }),
    approval: approvalSchema.default({ mode: 'automatic', timeout: 86_400_000, onTimeout: 'rollback' }),
    /** Switch every module at once, or one module at a time (each verified before the next). */
    switchMode: z.enum(['all-at-once', 'module-by-module']).default('all-at-once'),
    /** How long blue is kept after the switch, during which `rollback` switches back instantly. */
    rollbackWindow: duration.default(30_000),
    /**
     * Analysis of green before the approval gate (its backend is `{{args.canary}}`, blue's `{{args.stable}}`): a
     * failure rolls back; an inconclusive result (or too few samples) makes the gate wait for a person.
     */
    prePromotionAnalysis: analysisRefSchema.optional(),
    /**
     * Analysis after the switch, while blue is kept: a failure switches back. Blue is kept until it ends, even past
     * the rollback window.
     */
    postPromotionAnalysis: analysisRefSchema.optional(),
  })
  .strict();
