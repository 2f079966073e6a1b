/**
 * How long LifeTime still waits for a hook's result file, as `cutover status`,
 * `approve` and `promote` say it for deployments that a hook started.
 */
import type { DeploymentStatus } from '../../workflows/types';

type HookInfo = NonNullable<DeploymentStatus['hook']>;

/** "in 12 min" / "in 45 s" / "2 min ago". */
export function formatRemaining(ms: number): string {
  const abs = Math.abs(ms);
  const text = abs >= 120_000 ? `${Math.floor(abs / 60_000)} min` : `${Math.max(0, Math.floor(abs / 1000))} s`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

export function formatHookDeadline(hook: HookInfo, now: number = Date.now()): string {
  const remaining = Date.parse(hook.deadline) - now;
  const when = remaining >= 0 ? `times out ${formatRemaining(remaining)}` : `timed out ${formatRemaining(remaining)}`;
  return `hook         OutSystems ${hook.stage} hook ${when} (at ${hook.deadline}; operation ${hook.operationId}, ${hook.workflowId})`;
}
