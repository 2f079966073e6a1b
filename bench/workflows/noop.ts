/**
 * The baseline of bench/orchestration.ts: a bare Temporal workflow that runs no-op activities (and timers) in the
 * shape a Cutover deployment ran its own: one step per workflow task of the Cutover run that scheduled something, the
 * steps one after the other, and what one step holds (its activities, its timers) side by side. Bundled on its own
 * for its own worker and task queue; nothing of Cutover.
 */
import { proxyActivities, sleep } from '@temporalio/workflow';

export interface NoopActivities {
  noop(): Promise<void>;
}

/** What one workflow task of the Cutover run scheduled: this many activities and these timers. */
export interface NoopStep {
  activities: number;
  timersMs: number[];
}

// The same timeouts and retry as Cutover's quick API calls (workflows/activity-presets.ts), so the server does the
// same bookkeeping per activity (a heartbeat timeout, a retry policy).
const { noop } = proxyActivities<NoopActivities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '15 seconds',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});

/** Runs the steps one after the other, each step's activities and timers at once; answers the activities run. */
export async function noopActivitiesWorkflow(steps: NoopStep[]): Promise<number> {
  let ran = 0;
  for (const step of steps) {
    await Promise.all([
      ...Array.from({ length: step.activities }, () => noop()),
      ...step.timersMs.map((t) => sleep(t)),
    ]);
    ran += step.activities;
  }
  return ran;
}
