/**
 * Zod runs an object's refinements even when one of its fields failed (that field then holds its input as written,
 * of any shape): a cross-field check reads only fields that parsed.
 *
 * Part of the deployment spec (workflows/spec/index.ts): pure, zod at most and no Node built-ins, so workflows import it.
 */
import type { z } from 'zod';

/** Whether every one of `fields` of the object being refined parsed (no issue so far under any of them). */
export function parsed(ctx: z.RefinementCtx, ...fields: string[]): boolean {
  return !ctx.issues.some((issue) => fields.includes(String(issue.path?.[0])));
}
