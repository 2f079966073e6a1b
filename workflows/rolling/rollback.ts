/**
 * Rolling back: put the old version back within the same bounds, then end rolled back (or failed, saying what
 * serves). A first deployment is undone instead (its compensation stack); otherwise the interrupted batch is tidied,
 * the book turns back, and the same batches run the other way; an adopted blue-green backend gets its modules back.
 */
import { CancellationScope, ContinueAsNew } from '@temporalio/workflow';
import { describeFailure } from '../runbook';
import type { RollingContext } from '../types';
import { end } from './end';
import type { RollingRun } from './run';
import { addresses, refs } from './run';
import { publishOld, tidySets } from './sets';

/** Runs the batches of the book's direction until none is left (the runbook's batch loop). */
export type Batches = (run: RollingRun) => Promise<void>;

export async function rollBack(run: RollingRun, reason: string, batches: Batches): Promise<never> {
  const { status, tracker, book } = run;
  run.rollingBack = true;
  if (!book.rollingBack) {
    status.reason = reason;
    tracker.event(`rolling back: ${reason}`);
  }
  const ctx = run.context;
  if (!ctx) {
    // Nothing was changed yet (discovery itself failed, or the abort came first).
    return end(run, run.abortedBy ? 'rolled-back' : 'failed', reason);
  }
  tracker.setPhase('RollingBack');
  try {
    await CancellationScope.nonCancellable(async () => {
      if (ctx.firstDeployment) return undoFirstDeployment(run);
      if (!book.rollingBack) await turnAround(run, ctx);
      await batches(run);
      await restoreRouting(run, ctx);
    });
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    return end(run, 'failed', `${reason}; the rollback failed: ${describeFailure(err, undefined)}`);
  }
  status.liveVersion = ctx.firstDeployment ? null : ctx.previousVersion;
  return end(run, 'rolled-back', reason);
}

/** The first deployment's undo: retire the new replica set, switch the modules back. */
async function undoFirstDeployment(run: RollingRun): Promise<void> {
  const report = await run.undo.run((name, ok, error) => run.tracker.compensated(name, ok, error));
  if (report.failed.length) {
    throw new Error(report.failed.map((f) => `${f.name} (${f.error})`).join('; '));
  }
  run.book.abandoned();
}

/** From rolling forward to rolling back: tidy the batch that was interrupted, then turn the book back. */
async function turnAround(run: RollingRun, ctx: RollingContext): Promise<void> {
  if (run.bounded) await tidySets(run, run.setBook);
  else await tidyLists(run, ctx);
  run.book.turnedBack(ctx);
  // The version did not change (a scale of the same set): nothing to put back, and nothing to show yet.
  if (ctx.restoreSet) run.refresh(ctx);
}

/** The interrupted batch's launches retire, its draining replicas serve again (the list path). */
async function tidyLists(run: RollingRun, ctx: RollingContext): Promise<void> {
  const { spec } = run;
  const book = run.replicaBook;
  const { platform, router } = spec;
  if (book.launching.length) {
    const idle = [...book.launching];
    await run.mutate(
      `retire ${idle.length} new replicas that never served`,
      () => run.retireCall(idle.length).retireReplicas({ platform, replicas: refs(idle) }),
      () => book.launchesRetired(),
    );
  }
  if (book.draining.length) {
    const draining = [...book.draining];
    await run.mutate(
      `register again ${draining.length} old replicas that were draining`,
      () => run.routerCall(1).registerTargets({ router, backend: ctx.backend, targets: addresses(draining) }),
      () => book.drainingRegisteredAgain(),
    );
  }
}

/** The new set goes; an adopted blue-green backend gets the old replicas and the modules' rules back. */
async function restoreRouting(run: RollingRun, ctx: RollingContext): Promise<void> {
  const { tracker, book, spec } = run;
  const { platform, router, modules } = spec;
  if (ctx.restoreSet && ctx.restoreSet !== ctx.targetSet) {
    const target = ctx.targetSet;
    await tracker.step(`retire replica set ${target}`, () =>
      run.retireCall(spec.replicas).retireReplicaSet({ platform, name: target }),
    );
  }
  if (!ctx.adoptedFrom) return;
  const adopted = ctx.adoptedFrom;
  await tracker.step(`publish ${adopted} with the ${book.sizes().old} old replicas`, () =>
    run.bounded
      ? publishOld(run, run.setBook, adopted, ctx.backend)
      : run.routerCall(1).publishBackend({ router, backend: adopted, targets: addresses(run.replicaBook.old) }),
  );
  await tracker.step(`switch ${modules.join(', ')} back to ${adopted}`, () =>
    run.routerCall(modules.length).restoreRules({ router, modules, rules: ctx.initialRules }),
  );
  await tracker.step(`remove backend ${ctx.backend}`, () =>
    run.routerCall(1).removeBackend({ router, backend: ctx.backend }),
  );
}
