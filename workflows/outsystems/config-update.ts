/**
 * The rolling strategy an Update Configurations runs with, derived from the deployment profile's (pure: the
 * operation workflow calls it while it builds the child's spec).
 */
import type { DeploymentSpec, RollingStrategy } from '../spec';

/** Update Configurations' rolling bounds when the profile is blue-green: one extra replica at a time, none out. */
export const CONFIG_UPDATE_MAX_SURGE = 1;
export const CONFIG_UPDATE_MAX_UNAVAILABLE = 0;
/** How long a replaced replica may finish its requests (the rolling default; the same as Container Remove's). */
export const CONFIG_UPDATE_DRAIN_TIMEOUT_MS = 30_000;

/**
 * The rolling strategy of an Update Configurations (a configuration-only rolling update), derived from the
 * profile's spec (validated, defaults filled in):
 *
 * - a **rolling** profile: its own settings, except `configRevision` — a fixed revision would name the new
 *   configuration like the live one and make the update a no-op; without it the revision is a digest of the
 *   replicas' environment, which carries the new CUTOVER_CONFIG_DIR / CUTOVER_CONFIG_REVISION;
 * - a **blue-green** profile: maxSurge 1 / maxUnavailable 0 (a new replica is probed and registered before an old
 *   one is deregistered, drained and stopped: serving never drops below `replicas`); the profile's health probe,
 *   with `health.deadline` as the progress deadline (a batch whose replica is not healthy in that time rolls
 *   back); the profile's approval policy: `required` becomes an approval pause after the first batch (a canary:
 *   one replica serves the new configuration, the others the old one, until someone approves), with the
 *   profile's timeout and `onTimeout`; `automatic` rolls through without pausing. Preview, switch mode and
 *   rollback window are blue-green notions and do not apply.
 * - a **canary** profile: as blue-green, pausing after the first batch when its steps wait for a person (a
 *   `pause: {}`; a canary's approval mode is always "required", so the mode alone would always pause), with its
 *   approval timeout and `onTimeout`. Weights, timed pauses and analyses are canary notions and do not apply.
 */
export function configUpdateStrategy(profileSpec: DeploymentSpec): RollingStrategy {
  const strategy = profileSpec.strategy;
  if (strategy.type === 'rolling') {
    const own: RollingStrategy = { ...strategy };
    delete own.configRevision;
    return own;
  }
  const pause = approvalAfterFirstBatch(strategy);
  return {
    type: 'rolling',
    maxSurge: CONFIG_UPDATE_MAX_SURGE,
    maxUnavailable: CONFIG_UPDATE_MAX_UNAVAILABLE,
    minReadySeconds: 0,
    drainTimeout: CONFIG_UPDATE_DRAIN_TIMEOUT_MS,
    progressDeadline: profileSpec.health.deadline,
    onProgressDeadline: 'rollback',
    steps: pause ? [{ afterBatch: 1, pause: { approval: true } }] : [],
    approval: { ...strategy.approval, mode: pause ? 'required' : 'automatic' },
  };
}

/**
 * Whether the profile asks a person before the new version takes over: blue-green's required approval, a canary's
 * open pause (`pause: {}`).
 */
function approvalAfterFirstBatch(strategy: Exclude<DeploymentSpec['strategy'], RollingStrategy>): boolean {
  if (strategy.type === 'canary') {
    return strategy.steps.some((s) => s.pause !== undefined && s.pause.duration === undefined);
  }
  return strategy.approval.mode === 'required';
}
