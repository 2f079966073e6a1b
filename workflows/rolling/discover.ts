/**
 * How a rolling update starts: discover what serves the modules (one discovery path with blue-green:
 * activities/discovery.ts), tidy what an interrupted run left, make sure the target replica set exists, and then
 * either deploy for the first time (nothing served from containers) or adopt a blue-green backend.
 */
import { quickApiCall } from '../activity-presets';
import { classifyLive } from '../rolling-live';
import { verifyModules } from '../runbook';
import type { RollingContext } from '../types';
import { launch, untilAvailable } from './batch';
import type { RollingRun } from './run';
import { addresses, refs } from './run';
import { launchSets, publishOld, publishTargetSet, untilSetAvailable } from './sets';
import { announcePlan, contextFrom, foundStart, retireLeftoverSets, targetOf } from './found';

/** Reads what serves and plans from it; retires what an interrupted run left. The context is the run's once returned. */
export async function discover(run: RollingRun): Promise<RollingContext> {
  const { spec, tracker } = run;
  const book = run.replicaBook;
  const { platform, router, modules } = spec;
  tracker.setPhase('Discovering');
  const live = await tracker.step(
    'discover what serves the modules',
    () => quickApiCall.discoverRolling({ application: spec.application, modules, platform, router }),
    (l) =>
      l.backend
        ? `${l.backend} serves every module with ${l.targets.length} targets`
        : 'platform server (default rule) serves every module',
  );
  const target = targetOf(run);
  const start = classifyLive(live, target.targetSet, spec.replicas);
  book.found(start, target.targetSet);
  const found = contextFrom(run, live, foundStart(start, start.from.length, start.to.length), target);

  await retireLeftoverSets(run, start.emptySets, spec.replicas);
  if (start.leftovers.length) {
    await tracker.step(`retire ${start.leftovers.length} leftover replicas that serve nothing`, () =>
      run.retireCall(start.leftovers.length).retireReplicas({ platform, replicas: refs(start.leftovers) }),
    );
  }
  announcePlan(run, target.fenceposts);
  return found;
}

/** The target version and configuration already serve with every replica: nothing to do. */
export function alreadyServes(run: RollingRun): boolean {
  const { book } = run;
  const serving = book.sizes();
  if (serving.old > 0 || serving.new < book.desired) return false;
  run.tracker.event(`${run.spec.version} (${run.ctx.targetSet}) already serves with ${serving.new} replicas`);
  return true;
}

export async function ensureTargetSet(run: RollingRun): Promise<void> {
  const { spec } = run;
  const name = run.ctx.targetSet;
  await run.tracker.step(`ensure replica set ${name}`, () =>
    quickApiCall.ensureRollingReplicaSet({
      platform: spec.platform,
      replicaSet: {
        name,
        application: spec.application,
        version: spec.version,
        slot: 'rolling',
        modules: spec.modules,
        replicas: 0,
        env: spec.platform.env,
      },
    }),
  );
}

/** Nothing serves from containers yet: launch every replica, publish the backend, switch the modules to it. */
export async function firstDeployment(run: RollingRun): Promise<void> {
  const { spec, tracker, book, undo } = run;
  const { platform, router, modules } = spec;
  const ctx = run.ctx;
  tracker.event('nothing serves the modules from containers: launching every replica, then switching the modules');
  undo.push('retire the new replica set', async () => {
    // The backend goes too, unless the modules' rules used it before (a rolling backend left without targets).
    if (Object.keys(ctx.initialRules).length === 0)
      await run.routerCall(1).removeBackend({ router, backend: ctx.backend });
    await run.retireCall(spec.replicas).retireReplicaSet({ platform, name: ctx.targetSet });
  });
  book.plannedAsOneBatch();
  const label = 'batch 1/1';
  if (run.bounded) {
    const counted = run.setBook;
    await launchSets(run, counted, counted.desired, label);
    await untilSetAvailable(run, counted, label);
    tracker.setPhase('ProductionTrafficShift');
    await publishTargetSet(run, counted, label);
  } else await firstLaunch(run, label);
  undo.push('switch the modules back', () =>
    run.routerCall(modules.length).restoreRules({ router, modules, rules: ctx.initialRules }),
  );
  await tracker.step(`switch ${modules.join(', ')} to ${ctx.backend}`, () =>
    run
      .routerCall(modules.length)
      .switchTraffic({ router, modules, backends: [{ backend: ctx.backend, weight: 100 }] }),
  );
  tracker.setPhase('Verifying');
  await verifyModules(tracker, router, modules, spec.version, 'verification failed');
}

/** A first deployment's launch, probe and publish on the list path. */
async function firstLaunch(run: RollingRun, label: string): Promise<void> {
  const { tracker } = run;
  const { router } = run.spec;
  const ctx = run.ctx;
  const book = run.replicaBook;
  const launched = await launch(run, book.desired, label);
  await untilAvailable(run, launched, label);
  tracker.setPhase('ProductionTrafficShift');
  await run.mutate(
    `${label}: publish ${ctx.backend} with ${launched.length} targets`,
    () => run.routerCall(1).publishBackend({ router, backend: ctx.backend, targets: addresses(launched) }),
    () => book.published(launched),
  );
}

/** The modules are served by a blue-green backend: serve the same replicas from the rolling backend first. */
export async function adopt(run: RollingRun, from: string): Promise<void> {
  const { tracker, book } = run;
  const { router, modules } = run.spec;
  const backend = run.ctx.backend;
  tracker.setPhase('ProductionTrafficShift');
  await tracker.step(`publish ${backend} with the ${book.sizes().old} replicas of ${from}`, () =>
    run.bounded
      ? publishOld(run, run.setBook, backend, from)
      : run.routerCall(1).publishBackend({ router, backend, targets: addresses(run.replicaBook.old) }),
  );
  await tracker.step(`switch ${modules.join(', ')} from ${from} to ${backend} (same replicas)`, () =>
    run.routerCall(modules.length).switchTraffic({ router, modules, backends: [{ backend, weight: 100 }] }),
  );
}
