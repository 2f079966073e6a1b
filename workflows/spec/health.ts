/**
 * The health probe of every replica (`health`).
 *
 * Part of the deployment spec (workflows/spec/index.ts): pure, zod at most and no Node built-ins, so workflows import it.
 */
import { z } from 'zod';
import { duration, probeDuration } from './duration';
import { text } from './fields';

export const healthSchema = z
  .object({
    /** Path probed on each replica; "{module}" is replaced by every module name. */
    path: text(1024).startsWith('/', 'must start with "/"').default('/{module}/_ping.html'),
    interval: probeDuration.default(1000),
    timeout: probeDuration.default(2000),
    /** Consecutive successes a replica needs to count as healthy. */
    successThreshold: z.number().int().min(1).max(100).default(2),
    /** Overall deadline for all replicas to become healthy. */
    deadline: duration.default(300_000),
  })
  .strict();
