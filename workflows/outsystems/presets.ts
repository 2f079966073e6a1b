/**
 * How the OutSystems hook workflows call their activities: one preset per kind of work, as in the deployments
 * (workflows/activity-presets.ts).
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { LIVENESS_TIMEOUT, retry } from '../activity-presets';

/** File and API work that ends quickly. */
export const quickApiCall = proxyActivities<Activities>({ startToCloseTimeout: '2 minutes', retry });

/** Unpacking a bundle and running a build command: long, heartbeating. */
export const buildCall = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: LIVENESS_TIMEOUT,
  retry: { ...retry, maximumAttempts: 3 },
});

/** The result file is the only thing LifeTime sees: keep trying for a while. */
export const resultCall = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { ...retry, maximumAttempts: 30 },
});

/** Draining, retiring (as in the blue-green workflow). */
export const platformCall = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: LIVENESS_TIMEOUT,
  retry,
});
export const awaitDrained = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: LIVENESS_TIMEOUT,
  retry,
});

/** Waiting for another operation of the application to close: long-polls until the hook deadline, heartbeating. */
export const awaitClosed = proxyActivities<Activities>({
  startToCloseTimeout: '1 day',
  heartbeatTimeout: LIVENESS_TIMEOUT,
  retry,
});
