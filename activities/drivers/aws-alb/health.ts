/**
 * Waiting on DescribeTargetHealth: until targets are healthy before they get traffic, and until deregistered
 * targets have drained. Pure logic over the ElbV2Api interface with an injected clock, so it is unit-tested with a
 * stub (moto reports every registered target healthy at once and never shows draining).
 *
 * ALB target states: initial (health checks not passed yet) -> healthy | unhealthy; unused (Target.NotInUse: no
 * rule forwards to the group, so no health checks run; Target.NotRegistered: not registered yet); draining
 * (deregistered, finishing requests for up to the deregistration delay); unavailable (health checks disabled).
 */
import { CutoverError, ErrorType } from '../../errors';
import type { AlbTarget, AlbTargetHealth, ElbV2Api } from './api';
import { targetKey } from './naming';

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface WaitOptions {
  timeoutMs: number;
  /** Between two DescribeTargetHealth calls. */
  pollMs: number;
  clock: Clock;
}

export interface TargetGroupRef {
  arn: string;
  /** For messages: the backend name. */
  label: string;
}

/** Whether a target can take traffic now; `inUse`: a rule forwards to its group, so health checks run. */
export function isReady(health: AlbTargetHealth, inUse: boolean): boolean {
  switch (health.state) {
    case 'healthy':
    case 'unavailable': // health checks disabled: the ALB sends traffic
      return true;
    case 'unused':
      // Not in use: nothing to wait for (no traffic goes there, and no health check will run until it is).
      return !inUse && health.reason === 'Target.NotInUse';
    default:
      return false; // initial, unhealthy, draining, unused/NotRegistered (registration not visible yet)
  }
}

function describe(h: AlbTargetHealth): string {
  const why = [h.reason, h.description].filter(Boolean).join(': ');
  return `${targetKey(h.target)} ${h.state}${why ? ` (${why})` : ''}`;
}

/**
 * Polls until every given target (or, with `targets` undefined, every registered target — at least one) is ready.
 * Throws ReplicasUnhealthyError (non-retryable) at the deadline, naming each target that is not, and why.
 */
export async function waitUntilHealthy(
  api: Pick<ElbV2Api, 'describeTargetHealth'>,
  group: TargetGroupRef,
  targets: AlbTarget[] | undefined,
  inUse: boolean,
  options: WaitOptions,
): Promise<AlbTargetHealth[]> {
  const deadline = options.clock.now() + options.timeoutMs;
  for (let round = 0; ; round++) {
    const all = await api.describeTargetHealth(group.arn);
    const byKey = new Map(all.map((h) => [targetKey(h.target), h]));
    const wanted = targets ?? all.filter((h) => h.state !== 'draining').map((h) => h.target);
    const pending: string[] = [];
    for (const t of wanted) {
      const h = byKey.get(targetKey(t));
      if (!h) pending.push(`${targetKey(t)} not registered yet`);
      else if (!isReady(h, inUse)) pending.push(describe(h));
    }
    if (wanted.length === 0) pending.push('no target is registered');
    if (pending.length === 0) return all;
    if (options.clock.now() >= deadline) {
      throw new CutoverError(
        ErrorType.ReplicasUnhealthy,
        `targets of ${group.label} are not healthy in the load balancer after ${Math.round(options.timeoutMs / 1000)}s ` +
          `(${round + 1} checks): ${pending.join('; ')}. Check the target group's health check (path, matcher) and ` +
          `that the load balancer's security group reaches the targets`,
      );
    }
    await options.clock.sleep(options.pollMs);
  }
}

/**
 * Polls until none of `targets` is still registered or draining in the group: the deregistration delay has passed
 * (or their last connection closed). At the deadline throws a plain (retryable) Error: the activity's retry keeps
 * waiting, and the replicas are not retired while requests may still reach them.
 */
export async function waitUntilDrained(
  api: Pick<ElbV2Api, 'describeTargetHealth'>,
  group: TargetGroupRef,
  targets: AlbTarget[],
  options: WaitOptions,
): Promise<void> {
  const keys = new Set(targets.map(targetKey));
  const deadline = options.clock.now() + options.timeoutMs;
  for (;;) {
    const all = await api.describeTargetHealth(group.arn);
    const left = all.filter(
      (h) => keys.has(targetKey(h.target)) && !(h.state === 'unused' && h.reason === 'Target.NotRegistered'),
    );
    if (left.length === 0) return;
    if (options.clock.now() >= deadline) {
      throw new Error(
        `targets of ${group.label} still draining after ${Math.round(options.timeoutMs / 1000)}s: ` +
          `${left.map(describe).join('; ')} (the target group's deregistration delay is longer; retrying)`,
      );
    }
    await options.clock.sleep(options.pollMs);
  }
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
