/**
 * The patches of the OutSystems hook operation (CONTRIBUTING.md, the replay rule): each name marks a change to what
 * the operation commands; runs started before it replay the old branch.
 */

/**
 * Update Configurations used to start a blue-green deployment; operations started before that changed (their
 * history records a blueGreenDeployment child) replay as they ran.
 */
export const CONFIGS_AS_ROLLING_UPDATE_PATCH = 'update-configurations-as-rolling-update';
/** Marks the deadline watch on a hook's deployment (abort it when LifeTime stops waiting); see abortAtDeadline. */
export const ABORT_AT_HOOK_DEADLINE_PATCH = 'abort-deployment-at-hook-deadline';
/**
 * An operation waiting for another one of the same application waits for that workflow to close (one activity that
 * long-polls) instead of polling every few seconds with a timer (hundreds of events per wait); operations that started
 * waiting the old way replay as they ran.
 */
export const WAIT_FOR_APPLICATION_BY_RESULT_PATCH = 'wait-for-application-by-result';
/**
 * The specs a hook operation builds from its profile are normalised by the recorded local activity, and its
 * deployments start with them as normalised (no second validation inside the child): a schema change can change
 * neither. Operations started before validated in the workflow, and replay that way.
 */
export const HOOK_SPEC_RECORDED_PATCH = 'hook-spec-normalized-by-local-activity';
/**
 * A Container Run whose profile is a canary starts a canaryDeployment child (before: every Run started
 * blueGreenDeployment, which refused a canary spec). Asked only when the profile is a canary, so blue-green Runs
 * record no marker and replay as before.
 */
export const CANARY_RUN_PATCH = 'run-canary-profile-as-canary-deployment';
