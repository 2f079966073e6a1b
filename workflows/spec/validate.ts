/**
 * Validating a spec as written: every problem names its field (the spec's errors), bounded and printable.
 *
 * Part of the deployment spec (workflows/spec/index.ts): pure, zod at most and no Node built-ins, so workflows import it.
 */
import { SPEC_LIMITS } from './limits';
import { deploymentSpecSchema } from './schema';
import type { DeploymentSpec } from './schema';

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
  const issues = result.error.issues.map((issue) => ({
    field: issue.path.length ? issue.path.map((part) => shown(String(part), 60)).join('.') : '(root)',
    message: shown(issue.message, 300),
  }));
  // A hostile spec can have a problem per element; the report (a workflow failure's details too) stays small.
  if (issues.length <= SPEC_LIMITS.issues) return { ok: false, issues };
  const more = issues.length - SPEC_LIMITS.issues;
  return {
    ok: false,
    issues: [
      ...issues.slice(0, SPEC_LIMITS.issues),
      { field: '(root)', message: `and ${more} more problem(s) (the first ${SPEC_LIMITS.issues} are shown)` },
    ],
  };
}

/**
 * Text from the input as it may appear in a message: control characters escaped (a key may carry a terminal escape
 * sequence), and cut to `max` characters (a key may be a megabyte long).
 */
function shown(text: string, max: number): string {
  let printable = '';
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    printable += c < 0x20 || c === 0x7f ? `\\u${c.toString(16).padStart(4, '0')}` : ch;
  }
  return printable.length <= max ? printable : `${printable.slice(0, max)}… (${printable.length} characters)`;
}

export function formatSpecIssues(issues: SpecIssue[]): string {
  return issues.map((i) => `${i.field}: ${i.message}`).join('; ');
}
