/**
 * The bounded-payload path of a rolling update (ROLLING_BOUNDED_PAYLOADS_PATCH): the same runbook steps as batch.ts
 * and discover.ts, each a desired state in counts and set names (activities/rolling-sets.ts), so no workflow input,
 * activity input or result, or carried book lists a replica. The activities resolve ids and addresses themselves.
 */
import { budgeted, quickApiCall } from '../activity-presets';
import { LAUNCH_CONCURRENCY, availabilityBudgetMs, drainBudgetMs, launchBudgetMs } from '../budgets';
import type { RollingContext, SetCount } from '../types';
import { WAIT_ATTEMPTS, onStall } from './batch';
import type { CountBook } from './counts';
import { classifySets, setsOf, total } from './counts';
import type { RollingRun } from './run';
import { announcePlan, contextFrom, foundStart, retireLeftoverSets, targetOf } from './found';

/**
 * Every run that starts on a worker with this code takes the bounded path (a run continued from an old-path run
 * too: its carried replica lists are counted per set); a run recorded before it replays on the lists.
 */
export const ROLLING_BOUNDED_PAYLOADS_PATCH = 'rolling-bounded-payloads';

const on = (run: RollingRun) => ({ platform: run.spec.platform, router: run.spec.router, backend: run.ctx.backend });

/** Discovery in set summaries; retires what an interrupted run left. */
export async function discoverSets(run: RollingRun, book: CountBook): Promise<RollingContext> {
  const { spec, tracker } = run;
  const { platform, router, modules } = spec;
  tracker.setPhase('Discovering');
  const live = await tracker.step(
    'discover what serves the modules',
    () => quickApiCall.discoverRollingSets({ application: spec.application, modules, platform, router }),
    (l) =>
      l.backend
        ? `${l.backend} serves every module with ${l.targets} targets`
        : 'platform server (default rule) serves every module',
  );
  const target = targetOf(run);
  const start = classifySets(live, target.targetSet, spec.replicas);
  book.found(start, target.targetSet);
  const found = contextFrom(run, live, foundStart(start, total(start.from), start.to.length), target);

  await retireLeftoverSets(run, start.emptySets, spec.replicas);
  if (start.leftovers && live.backend) {
    const backend = live.backend;
    await tracker.step(`retire ${start.leftovers} leftover replicas that serve nothing`, () =>
      run.retireCall(start.leftovers).retireUnserved({ platform, router, backend, sets: start.leftoverSets }),
    );
  } else if (start.leftovers) {
    // Nothing serves from containers: the leftovers are every replica of the sets (the target set is made again).
    await retireLeftoverSets(run, start.leftoverSets, start.leftovers);
  }
  announcePlan(run, target.fenceposts);
  return found;
}

/** Surge: the launch set gets `count` more replicas (an abort may cancel the launch; the rollback retires them). */
export async function launchSets(run: RollingRun, book: CountBook, count: number, label: string): Promise<void> {
  const platform = run.spec.platform;
  run.tracker.setPhase('ScalingUp');
  const set = book.launchSet;
  const already = book.servedIn(set) + book.launching;
  const fromOrdinal = book.launchOrdinal;
  await run.cancellableMutate(
    `${label}: launch ${count} ${run.incomingVersion} replicas`,
    async () => {
      book.launchStarted(count); // before the call: a launch that fails halfway is still cleaned up
      const call = budgeted(launchBudgetMs(platform, count, LAUNCH_CONCURRENCY));
      return call.launchToCount({ platform, set, count: already + count, fromOrdinal });
    },
    (r) => {
      book.numbered(r.nextOrdinal);
      return r;
    },
    (r) => `${set} has ${r.launched} replicas`,
  );
}

/** Probes the launching replicas until available; a stall past the progress deadline is acted on (batch.ts). */
export async function untilSetAvailable(run: RollingRun, book: CountBook, label: string): Promise<void> {
  const { spec, strategy, tracker } = run;
  const count = book.launching;
  for (;;) {
    tracker.setPhase('AwaitingHealthy');
    try {
      const minReadyMs = strategy.minReadySeconds * 1000;
      await tracker.step(
        `${label}: wait until ${count} new replicas are available`,
        () =>
          budgeted(
            availabilityBudgetMs(spec, count, strategy.progressDeadline, minReadyMs),
            WAIT_ATTEMPTS,
          ).awaitSetAvailable({
            ...on(run),
            set: book.launchSet,
            count,
            modules: spec.modules,
            health: spec.health,
            minReadyMs,
            progressDeadlineMs: strategy.progressDeadline,
            startedAt: Date.now(),
          }),
        (r) => `${r.available} available`,
      );
      return;
    } catch (err) {
      await onStall(run, err, label);
    }
  }
}

/** Registers the launched replicas: the backend serves them too. */
export async function registerSets(run: RollingRun, book: CountBook, label: string): Promise<void> {
  const count = book.launching;
  const set = book.launchSet;
  run.tracker.setPhase('ProductionTrafficShift');
  await run.mutate(
    `${label}: register ${count} ${run.incomingVersion} replicas`,
    () =>
      run.routerCall(1).registerSetTargets({ ...on(run), sets: [{ name: set, served: book.servedIn(set) + count }] }),
    () => book.registered(count),
  );
}

/** Deregister, drain, retire `groups` (counts per set; the activities pick the last replicas in id order). */
export async function takeOutSets(run: RollingRun, book: CountBook, groups: SetCount[], label: string): Promise<void> {
  const { strategy, tracker } = run;
  const sets = setsOf(groups);
  const what = `${total(groups)} ${run.outgoingVersion} replicas`;
  tracker.setPhase('ProductionTrafficShift');
  await run.mutate(
    `${label}: deregister ${what}`,
    () =>
      run.routerCall(1).deregisterSetTargets({
        ...on(run),
        sets: sets.map((name) => ({ name, served: book.servedIn(name) - total(groups.filter((g) => g.set === name)) })),
      }),
    () => book.deregistered(groups),
  );
  tracker.setPhase('Draining');
  await tracker.step(
    `${label}: drain ${what}`,
    () =>
      budgeted(drainBudgetMs(strategy.drainTimeout)).drainUnserved({
        ...on(run),
        sets,
        timeoutMs: strategy.drainTimeout,
      }),
    (r) => (r.drained ? 'no request in flight' : `${r.remaining} requests still in flight after the drain timeout`),
  );
  tracker.setPhase('RetiringOld');
  await run.mutate(
    `${label}: retire ${what}`,
    () => run.retireCall(total(groups)).retireUnserved({ ...on(run), sets }),
    () => book.retired(groups),
  );
}

/** A first deployment's backend: every replica of the target set. */
export async function publishTargetSet(run: RollingRun, book: CountBook, label: string): Promise<void> {
  const ctx = run.ctx;
  await run.mutate(
    `${label}: publish ${ctx.backend} with ${book.launching} targets`,
    () => run.routerCall(1).publishSets({ ...on(run), sets: [ctx.targetSet] }),
    () => book.published(),
  );
}

/** `backend` gets the replicas of the old version's sets that `servedBy` serves (adopting, or putting back). */
export async function publishOld(run: RollingRun, book: CountBook, backend: string, servedBy: string): Promise<void> {
  await run.routerCall(1).publishSets({ ...on(run), backend, sets: setsOf(book.old), servedBy });
}

/** Rolling back from forward: the launches that never served retire, the draining replicas serve again. */
export async function tidySets(run: RollingRun, book: CountBook): Promise<void> {
  if (book.launching) {
    const n = book.launching;
    await run.mutate(
      `retire ${n} new replicas that never served`,
      () => run.retireCall(n).retireUnserved({ ...on(run), sets: [book.launchSet] }),
      () => book.launchesRetired(),
    );
  }
  if (book.draining.length) {
    const draining = [...book.draining];
    await run.mutate(
      `register again ${total(draining)} old replicas that were draining`,
      () =>
        run.routerCall(1).registerSetTargets({
          ...on(run),
          sets: setsOf(draining).map((name) => ({
            name,
            served: book.servedIn(name) + total(draining.filter((g) => g.set === name)),
          })),
        }),
      () => book.drainingRegisteredAgain(),
    );
  }
}
