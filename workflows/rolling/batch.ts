/**
 * The steps of one batch, each a named tracker step whose effect goes into the book as it completes: surge (launch
 * new replicas), probe them until available, register them; and take out old ones (deregister, drain, retire).
 * A rollback runs the same steps the other way: the book says which version comes in and which goes.
 */
import { ActivityFailure, ApplicationFailure, patched } from '@temporalio/workflow';
import { ErrorType } from '../../activities/errors';
import { budgeted } from '../activity-presets';
import { LAUNCH_CONCURRENCY, availabilityBudgetMs, drainBudgetMs, launchBudgetMs } from '../budgets';
import { RollBack, failureMessage } from '../runbook';
import type { TrackedReplica } from '../types';
import { throwUnlessApproved } from './gates';
import type { RollingRun } from './run';
import { addresses, refs } from './run';

/** A wait (for availability, a drain, a verification) is retried this often at most; it resumes from its heartbeat. */
export const WAIT_ATTEMPTS = 20;

/**
 * An abort during a batch's launch cancels the launch (the replicas it was starting are in the book as launching, and
 * the rollback retires them), instead of waiting for every replica to start first (minutes for a slow application).
 * Runs started before let a launch finish before acting on an abort, and replay that way.
 */
export const CANCELLABLE_LAUNCH_PATCH = 'abort-cancels-a-rolling-launch';

/** Surge: launches `count` replicas of the incoming version into this direction's set. */
export async function launch(run: RollingRun, count: number, label: string): Promise<TrackedReplica[]> {
  const { spec } = run;
  const book = run.replicaBook;
  const platform = spec.platform;
  run.tracker.setPhase('ScalingUp');
  const set = book.launchSet;
  const launched = book.surge(count);
  // An abort may cancel the launch (see CANCELLABLE_LAUNCH_PATCH); runs from before let it finish.
  const cancellable = patched(CANCELLABLE_LAUNCH_PATCH);
  const step = cancellable ? run.cancellableMutate.bind(run) : run.mutate.bind(run);
  return step(
    `${label}: launch ${count} ${run.incomingVersion} replicas`,
    async () => {
      book.launchStarted(launched); // before the call: a launch that fails halfway is still cleaned up
      const call = budgeted(launchBudgetMs(platform, count, LAUNCH_CONCURRENCY));
      return call.launchReplicas({ platform, set, ids: launched.map((r) => r.id) });
    },
    (replicas) => {
      book.addressed(launched, replicas);
      return launched;
    },
    (replicas) =>
      replicas.length > 3 ? `${replicas[0]?.id} … ${replicas.at(-1)?.id}` : replicas.map((r) => r.id).join(', '),
  );
}

/** Probes the launched replicas until each is available; a stall past the progress deadline is acted on. */
export async function untilAvailable(run: RollingRun, launched: TrackedReplica[], label: string): Promise<void> {
  const { spec, strategy, tracker } = run;
  const book = run.replicaBook;
  for (;;) {
    tracker.setPhase('AwaitingHealthy');
    try {
      const minReadyMs = strategy.minReadySeconds * 1000;
      const result = await tracker.step(
        `${label}: wait until ${launched.length} new replicas are available`,
        () =>
          budgeted(
            availabilityBudgetMs(spec, launched.length, strategy.progressDeadline, minReadyMs),
            WAIT_ATTEMPTS,
          ).awaitReplicasHealthy({
            platform: spec.platform,
            replicas: refs(launched),
            modules: spec.modules,
            health: spec.health,
            minReadyMs,
            progressDeadlineMs: strategy.progressDeadline,
            startedAt: Date.now(),
          }),
        (r) => `${r.replicas.length} available`,
      );
      book.addressed(launched, result.replicas, true);
      return;
    } catch (err) {
      await onStall(run, err, label);
    }
  }
}

/**
 * A wait for availability failed: unless it was the progress deadline, the failure goes on. A stall rolls back (on
 * rollback, or when the spec says so) or waits for a person's approval to wait again.
 */
export async function onStall(run: RollingRun, err: unknown, label: string): Promise<void> {
  const { strategy, tracker, book } = run;
  if (failureType(err) !== ErrorType.ProgressDeadlineExceeded) throw err;
  const stalled = `${label} made no progress within the progress deadline: ${failureMessage(err)}`;
  tracker.event(stalled);
  if (book.rollingBack || strategy.onProgressDeadline === 'rollback') throw new RollBack(stalled);
  tracker.setPhase('AwaitingApproval');
  const where = `progress deadline of ${label}`;
  const outcome = await run.gate.wait(where, {
    mode: 'required',
    timeoutMs: strategy.approval.timeout,
    onTimeout: strategy.approval.onTimeout,
  });
  throwUnlessApproved(outcome, where);
  tracker.event(`${label}: waiting for the new replicas again`);
}

/** Registers the launched replicas with the load balancer: they serve. */
export async function register(run: RollingRun, launched: TrackedReplica[], label: string): Promise<void> {
  const { router } = run.spec;
  run.tracker.setPhase('ProductionTrafficShift');
  await run.mutate(
    `${label}: register ${launched.length} ${run.incomingVersion} replicas`,
    () => run.routerCall(1).registerTargets({ router, backend: run.ctx.backend, targets: addresses(launched) }),
    () => run.replicaBook.registered(launched),
  );
}

/** Deregister, drain, retire: no new request reaches them, the ones in flight finish, then they stop. */
export async function takeOut(run: RollingRun, replicas: TrackedReplica[], label: string): Promise<void> {
  const { spec, strategy, tracker } = run;
  const book = run.replicaBook;
  const { platform, router } = spec;
  const what = `${replicas.length} ${run.outgoingVersion} replicas`;
  tracker.setPhase('ProductionTrafficShift');
  await run.mutate(
    `${label}: deregister ${what}`,
    () => run.routerCall(1).deregisterTargets({ router, backend: run.ctx.backend, targets: addresses(replicas) }),
    () => book.deregistered(replicas),
  );
  tracker.setPhase('Draining');
  await tracker.step(
    `${label}: drain ${what}`,
    () =>
      budgeted(drainBudgetMs(strategy.drainTimeout)).drainTargets({
        router,
        targets: addresses(replicas),
        timeoutMs: strategy.drainTimeout,
      }),
    (r) => (r.drained ? 'no request in flight' : `${r.remaining} requests still in flight after the drain timeout`),
  );
  tracker.setPhase('RetiringOld');
  await run.mutate(
    `${label}: retire ${what}`,
    () => run.retireCall(replicas.length).retireReplicas({ platform, replicas: refs(replicas) }),
    () => book.retired(replicas),
  );
}

function failureType(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}
