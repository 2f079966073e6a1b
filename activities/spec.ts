/**
 * The spec schema run as an activity: what a workflow given a spec as written (a run started from the Temporal UI, a
 * hook operation's deployment profile) normalises it with. The result is recorded in the history, so a later schema or
 * default change cannot change a run that has started: its replay reads the spec it ran with.
 */
import { validateSpec } from '../workflows/spec';
import type { SpecResult } from '../workflows/spec';

export function createSpecActivities() {
  return {
    /** Validates a spec as written and fills in its defaults; never throws for a bad spec (the issues name fields). */
    normalizeSpec(input: { spec: unknown }): Promise<SpecResult> {
      return Promise.resolve(validateSpec(input.spec));
    },
  };
}

export type SpecActivities = ReturnType<typeof createSpecActivities>;
