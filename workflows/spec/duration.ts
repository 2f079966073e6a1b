/**
 * Durations as a spec writes them ("250ms", "30s", "5m", "2h", "3d" or milliseconds), parsed to milliseconds.
 *
 * Part of the deployment spec (workflows/spec/index.ts): pure, zod at most and no Node built-ins, so workflows import it.
 */
import { z } from 'zod';
import { SPEC_LIMITS } from './limits';

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "30s", "5m", "2h", "3d", "250ms" (or a number of milliseconds) into milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return value;
  const match = DURATION_RE.exec(value.trim());
  if (!match) throw new Error(`invalid duration "${value}"`);
  return Math.round(Number(match[1]) * (UNIT_MS[match[2] as string] as number));
}

const DURATION_EXPECTED = 'expected a duration such as "250ms", "30s", "5m", "2h" or "3d", or a number of milliseconds';

/** A duration of at most `maxMs` given as "30s" / "5m" / "2h" / "3d" / "250ms" or milliseconds; yields milliseconds. */
export function durationUpTo(maxMs: number, shown: string) {
  return z
    .union([z.number().int().nonnegative(), z.string().regex(DURATION_RE, DURATION_EXPECTED)], {
      error: DURATION_EXPECTED,
    })
    .transform((v) => parseDuration(v))
    .refine((ms) => Number.isSafeInteger(ms) && ms <= maxMs, `must be at most ${shown}`);
}

/** A duration given as "30s" / "5m" / "2h" / "3d" / "250ms" or a number of milliseconds (at most 365d). */
export const duration = durationUpTo(SPEC_LIMITS.durationMs, '365d');
/** A probe's interval or timeout: at most 1h (Node timers above ~24 days fire at once). */
export const probeDuration = durationUpTo(SPEC_LIMITS.probeMs, '1h');
