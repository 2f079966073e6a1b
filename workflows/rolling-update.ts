/**
 * Rolling update: replace the replicas serving an application in batches bounded by maxSurge and maxUnavailable.
 * In each batch: take out the old replicas maxUnavailable allows, launch the new ones, probe each until it is
 * available, register them with the load balancer, then deregister old ones, let their connections drain, and retire
 * them. Pauses (an approval after the first batch: a canary; a timed wait) sit between batches. A batch that makes no
 * progress before the deadline is acted on (rolled back, or paused for a person). An abort, a rejection or a failure
 * rolls the replaced replicas back within the same bounds. Long updates continue as new between batches, so every
 * run's history stays bounded; the status and the approval gate carry over.
 *
 * The runbook is here; its parts are in workflows/rolling/: the batch book (book.ts), the run and how its steps run
 * (run.ts), discovery and adoption (discover.ts), a batch's steps (batch.ts), the pauses (gates.ts), rollback
 * (rollback.ts), continue-as-new (continue-as-new.ts) and the end (end.ts).
 */
import { ContinueAsNew } from '@temporalio/workflow';
import { specFor } from './parse-spec';
import type { BatchPlan } from './rolling-math';
import { describeFailure } from './runbook';
import { isRollingSpec } from './spec';
import type { DeploymentResult, RollingInput } from './types';
import { launch, register, takeOut, untilAvailable } from './rolling/batch';
import { continueAsNewIfDue } from './rolling/continue-as-new';
import { adopt, alreadyServes, discover, ensureTargetSet, firstDeployment } from './rolling/discover';
import { finish } from './rolling/end';
import { pauseAfter } from './rolling/gates';
import { rollBack } from './rolling/rollback';
import { RollingRun } from './rolling/run';
import { discoverSets, launchSets, registerSets, takeOutSets, untilSetAvailable } from './rolling/sets';

export { CANCELLABLE_LAUNCH_PATCH } from './rolling/batch';
export { DEFAULT_MAX_HISTORY_EVENTS } from './rolling/run';
export { ROLLING_BOUNDED_PAYLOADS_PATCH } from './rolling/sets';

export async function rollingUpdateDeployment(input: RollingInput): Promise<DeploymentResult> {
  const spec = await specFor(input, 'rolling', isRollingSpec);
  const run = new RollingRun(input, spec);
  // A run continued from one that was rolling back goes on rolling back.
  if (run.book.rollingBack) return rollBack(run, input.resume?.rollbackReason ?? 'rolling back', rollBatches);
  try {
    await run.work.run(() => rollOut(run));
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    return rollBack(run, describeFailure(err, run.abortedBy), rollBatches);
  }
  run.complete = true;
  await completeUpdate(run);
  return finish(run, 'succeeded');
}

async function rollOut(run: RollingRun): Promise<void> {
  if (!run.context) {
    // 1. Discover what serves (a continued run knows already).
    run.context = run.bounded ? await discoverSets(run, run.setBook) : await discover(run);
    if (alreadyServes(run)) return;
    await ensureTargetSet(run);
    // 2. Nothing served from containers: every replica at once, then the modules switch. Or adopt blue-green's.
    if (run.context.firstDeployment) return firstDeployment(run);
    if (run.context.adoptedFrom) await adopt(run, run.context.adoptedFrom);
  }
  // 3. Batch after batch.
  await rollBatches(run);
}

/** Batches until none is left, with the pauses between them; continues as new at batch boundaries. */
async function rollBatches(run: RollingRun): Promise<void> {
  const { book } = run;
  const fenceposts = run.ctx.fenceposts;
  book.planned(fenceposts);
  for (;;) {
    const plan = book.nextBatch(fenceposts);
    // Pause or approve (rolling forward, between batches).
    if (!book.rollingBack && plan) await pauseAfter(run, book.batch);
    await continueAsNewIfDue(run);
    if (!plan) return;
    await runBatch(run, plan, book.begun());
  }
}

/** One batch: take out what maxUnavailable allows, surge, probe, register, then take out the rest. */
async function runBatch(run: RollingRun, plan: BatchPlan, batch: number): Promise<void> {
  const { book } = run;
  const label = `${book.rollingBack ? 'rollback ' : ''}batch ${batch}/${book.batches}`;
  const counts = book.counts();
  run.tracker.note(
    `${label}: take out ${plan.retireFirst}, launch ${plan.launch}, retire ${plan.retireAfter} after` +
      ` (${counts.from} to replace, ${counts.to} done)`,
  );
  if (run.bounded) return runSetBatch(run, plan, label);
  const lists = run.replicaBook;
  if (plan.retireFirst) await takeOut(run, lists.pick(plan.retireFirst), `${label}: take out`);
  if (plan.launch) {
    const launched = await launch(run, plan.launch, label);
    await untilAvailable(run, launched, label);
    await register(run, launched, label);
  }
  if (plan.retireAfter) await takeOut(run, lists.pick(plan.retireAfter), `${label}: replace`);
}

/** The same batch on the bounded path: counts per set, the activities pick the replicas. */
async function runSetBatch(run: RollingRun, plan: BatchPlan, label: string): Promise<void> {
  const book = run.setBook;
  if (plan.retireFirst) await takeOutSets(run, book, book.pick(plan.retireFirst), `${label}: take out`);
  if (plan.launch) {
    await launchSets(run, book, plan.launch, label);
    await untilSetAvailable(run, book, label);
    await registerSets(run, book, label);
  }
  if (plan.retireAfter) await takeOutSets(run, book, book.pick(plan.retireAfter), `${label}: replace`);
}

/** The last batch is done: retire the replaced sets and an adopted backend; say which pauses were not needed. */
async function completeUpdate(run: RollingRun): Promise<void> {
  const { spec, tracker, book, status } = run;
  const ctx = run.ctx;
  status.liveVersion = spec.version;
  for (const name of ctx.oldSets.filter((s) => s !== ctx.targetSet)) {
    tracker.setPhase('RetiringOld');
    await tracker.step(`retire replica set ${name}`, () =>
      run.retireCall(spec.replicas).retireReplicaSet({ platform: spec.platform, name }),
    );
  }
  if (ctx.adoptedFrom) {
    const adopted = ctx.adoptedFrom;
    await tracker.step(`remove backend ${adopted}`, () =>
      run.routerCall(1).removeBackend({ router: spec.router, backend: adopted }),
    );
  }
  for (const step of spec.strategy.steps.filter((s) => !book.pausesDone.includes(s.afterBatch))) {
    tracker.skip(`pause after batch ${step.afterBatch}`, `the update took ${book.batches} batch(es)`);
  }
}
