/**
 * Rolling update: replace the replicas serving an application in batches
 * bounded by maxSurge and maxUnavailable. In each batch: take out the old
 * replicas maxUnavailable allows, launch the new ones, probe each until it is
 * available, register them with the load balancer, then deregister old ones,
 * let their connections drain, and retire them. Pauses (an approval after the
 * first batch: a canary; a timed wait) sit between batches. A batch that makes
 * no progress before the deadline is acted on (rolled back, or paused for a
 * person). An abort, a rejection or a failure rolls the replaced replicas back
 * within the same bounds. Long updates continue as new between batches, so
 * every run's history stays bounded; the status and the approval gate carry over.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  ContinueAsNew,
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { ErrorType } from '../activities/errors';
import { backendName } from '../activities/ports';
import { budgeted, quickApiCall } from './activity-presets';
import { ApprovalGate } from './approval';
import {
  LAUNCH_CONCURRENCY,
  VERIFY_CONCURRENCY,
  VERIFY_REQUESTS,
  VERIFY_REQUEST_TIMEOUT_MS,
  availabilityBudgetMs,
  drainBudgetMs,
  launchBudgetMs,
  retireBudgetMs,
  routerBudgetMs,
  verifyBudgetMs,
} from './budgets';
import type { GateOutcome, GatePolicy } from './approval';
import { abortSignal, rollbackSignal, statusQuery } from './messages';
import type { DecisionInput } from './messages';
import { classifyLive } from './rolling-live';
import {
  configRevisionOf,
  nextBatch,
  planBatches,
  replicaId,
  resolveFenceposts,
  rollingReplicaSetName,
} from './rolling-math';
import type { BatchPlan } from './rolling-math';
import { specFor } from './parse-spec';
import { RollBack, VERIFY_ATTEMPTS, VERIFY_INTERVAL_MS, describeFailure, failureMessage } from './runbook';
import { Compensations } from './saga';
import { isRollingSpec } from './spec';

import { DeploymentTracker } from './tracker';
import type {
  DeploymentResult,
  Outcome,
  RollingBook,
  RollingCarryOver,
  RollingContext,
  RollingInput,
  TrackedReplica,
} from './types';

/**
 * Launching, probing, verifying, draining and retiring run as `budgeted` activities (a timeout derived from the work:
 * workflows/budgets.ts); they heartbeat every second, and a retried wait resumes from its heartbeat.
 */
const WAIT_ATTEMPTS = 20;

/**
 * An abort during a batch's launch cancels the launch (the replicas it was starting are in the book as launching, and
 * the rollback retires them), instead of waiting for every replica to start first (minutes for a slow application).
 * Runs started before let a launch finish before acting on an abort, and replay that way.
 */
export const CANCELLABLE_LAUNCH_PATCH = 'abort-cancels-a-rolling-launch';

/** A run continues as new once its history reaches this many events (unless the server suggests it earlier). */
export const DEFAULT_MAX_HISTORY_EVENTS = 2_000;

export async function rollingUpdateDeployment(input: RollingInput): Promise<DeploymentResult> {
  const spec = await specFor(input, 'rolling', isRollingSpec);
  const strategy = spec.strategy;
  const { platform, router, modules } = spec;
  const tracker = new DeploymentTracker(spec, 'rolling', { searchAttributes: input.searchAttributes !== false });
  const status = tracker.status;
  const resumed = input.resume;
  if (resumed) tracker.resume(resumed.status);
  setHandler(statusQuery, () => status);
  const gate = new ApprovalGate(tracker, spec.version);
  const undo = new Compensations();
  const work = new CancellationScope();
  const historyLimit = input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
  let context: RollingContext | undefined = resumed?.context;
  const book: RollingBook = resumed?.book ?? {
    direction: 'forward',
    from: [],
    to: [],
    launching: [],
    draining: [],
    desired: spec.replicas,
    launchSet: '',
    nextIndex: {},
    batch: 0,
    batches: 0,
    pausesDone: [],
  };
  let abortedBy: DecisionInput | undefined;
  /** The last batch is done: from here on the update completes, whatever is asked. */
  let complete = false;
  /** Rolling back (in this run or an earlier one): an abort has nothing left to stop. */
  let rollingBack = book.direction === 'rollback';

  setHandler(abortSignal, (decision: DecisionInput) => {
    const by = decision?.by || 'unknown';
    const why = abortedBy
      ? 'already aborting'
      : rollingBack
        ? 'already rolling back'
        : complete
          ? 'every batch is done'
          : undefined;
    if (why) {
      tracker.event(`abort from ${by} ignored: ${why}`);
      return;
    }
    abortedBy = { by, reason: decision?.reason };
    tracker.event(`abort requested by ${by}${decision?.reason ? `: ${decision.reason}` : ''}`);
    work.cancel();
  });
  setHandler(rollbackSignal, (decision: DecisionInput) => {
    tracker.event(
      `rollback from ${decision?.by || 'unknown'} ignored: a rolling update has no rollback window ` +
        '(abort rolls the replaced replicas back until the last batch is done)',
    );
  });

  if (book.direction === 'forward') {
    try {
      await work.run(rollOut);
    } catch (err) {
      if (err instanceof ContinueAsNew) throw err;
      return rollBack(describeFailure(err, abortedBy));
    }
    complete = true;
    await completeUpdate();
    return finish('succeeded');
  }
  return rollBack(resumed?.rollbackReason ?? 'rolling back');

  // ---- the runbook ----

  async function rollOut(): Promise<void> {
    if (!context) {
      context = await discover();
      if (book.from.length === 0 && book.to.length >= book.desired) {
        tracker.event(`${spec.version} (${context.targetSet}) already serves with ${book.to.length} replicas`);
        return;
      }
      await ensureTargetSet(context.targetSet);
      if (context.firstDeployment) return firstDeployment(context);
      if (context.adoptedFrom) await adopt(context.adoptedFrom, context.backend);
    }
    await rollBatches();
  }

  async function discover(): Promise<RollingContext> {
    tracker.setPhase('Discovering');
    const live = await tracker.step(
      'discover what serves the modules',
      () => quickApiCall.discoverRolling({ application: spec.application, modules, platform, router }),
      (l) =>
        l.backend
          ? `${l.backend} serves every module with ${l.targets.length} targets`
          : 'platform server (default rule) serves every module',
    );
    const revision = configRevisionOf(spec.platform.env, strategy.configRevision);
    const targetSet = rollingReplicaSetName(spec.application, spec.version, revision);
    const start = classifyLive(live, targetSet, spec.replicas);
    const fenceposts = resolveFenceposts(strategy.maxSurge, strategy.maxUnavailable, spec.replicas);
    const found: RollingContext = {
      backend: backendName(spec.application, 'rolling'),
      targetSet,
      oldSets: start.oldSets.filter((s) => s !== targetSet),
      restoreSet: start.restoreSet,
      oldCount: start.from.length,
      previousVersion: start.previousVersion,
      firstDeployment: start.from.length === 0 && start.to.length === 0,
      initialRules: live.rules,
      adoptedFrom: live.routing === 'blue' || live.routing === 'green' ? (live.backend ?? undefined) : undefined,
      fenceposts,
    };
    Object.assign(book, { from: start.from, to: start.to, launchSet: targetSet, nextIndex: start.nextIndex });
    status.previousVersion = found.previousVersion;
    status.liveVersion = found.previousVersion;
    refresh(found);

    for (const name of start.emptySets) {
      await tracker.step(`retire leftover replica set ${name}`, () =>
        retireCall(spec.replicas).retireReplicaSet({ platform, name }),
      );
    }
    if (start.leftovers.length) {
      await tracker.step(`retire ${start.leftovers.length} leftover replicas that serve nothing`, () =>
        retireCall(start.leftovers.length).retireReplicas({ platform, replicas: refs(start.leftovers) }),
      );
    }
    tracker.event(
      `maxSurge ${String(strategy.maxSurge)} -> ${fenceposts.surge}, maxUnavailable ${String(strategy.maxUnavailable)}` +
        ` -> ${fenceposts.unavailable} of ${spec.replicas} replicas`,
    );
    return found;
  }

  async function ensureTargetSet(name: string): Promise<void> {
    await tracker.step(`ensure replica set ${name}`, () =>
      quickApiCall.ensureRollingReplicaSet({
        platform,
        replicaSet: {
          name,
          application: spec.application,
          version: spec.version,
          color: 'rolling',
          modules,
          replicas: 0,
          env: spec.platform.env,
        },
      }),
    );
  }

  /** Nothing serves from containers yet: launch every replica, publish the backend, switch the modules to it. */
  async function firstDeployment(ctx: RollingContext): Promise<void> {
    tracker.event('nothing serves the modules from containers: launching every replica, then switching the modules');
    undo.push('retire the new replica set', async () => {
      // The backend goes too, unless the modules' rules used it before (a rolling backend left without targets).
      if (Object.keys(ctx.initialRules).length === 0)
        await routerCall(1).removeBackend({ router, backend: ctx.backend });
      await retireCall(spec.replicas).retireReplicaSet({ platform, name: ctx.targetSet });
    });
    Object.assign(book, { batch: 1, batches: 1 });
    const label = 'batch 1/1';
    const launched = await launch(book.desired, label);
    await untilAvailable(launched, label);
    tracker.setPhase('ProductionTrafficShift');
    await mutate(
      `${label}: publish ${ctx.backend} with ${launched.length} targets`,
      () => routerCall(1).publishBackend({ router, backend: ctx.backend, targets: addresses(launched) }),
      () => {
        book.to.push(...launched);
        book.launching = [];
      },
    );
    undo.push('switch the modules back', () =>
      routerCall(modules.length).restoreRules({ router, modules, rules: ctx.initialRules }),
    );
    await tracker.step(`switch ${modules.join(', ')} to ${ctx.backend}`, () =>
      routerCall(modules.length).switchTraffic({ router, modules, backends: [{ backend: ctx.backend, weight: 100 }] }),
    );
    tracker.setPhase('Verifying');
    const results = await tracker.step(
      `verify ${modules.join(', ')} answer from ${spec.version}`,
      () =>
        budgeted(verifyBudgetMs(modules.length, VERIFY_ATTEMPTS, VERIFY_INTERVAL_MS), WAIT_ATTEMPTS).verifyTraffic({
          router,
          modules,
          version: spec.version,
          attempts: VERIFY_ATTEMPTS,
          intervalMs: VERIFY_INTERVAL_MS,
          concurrency: VERIFY_CONCURRENCY,
          requests: VERIFY_REQUESTS,
          requestTimeoutMs: VERIFY_REQUEST_TIMEOUT_MS,
        }),
      (rs) => rs.map((r) => `${r.module}: ${r.result.status}`).join(', '),
    );
    const failed = results.filter((r) => r.result.status === 'not-verified');
    if (failed.length) {
      throw new RollBack(`verification failed: ${failed.map((f) => `${f.module} (${f.result.detail})`).join('; ')}`);
    }
  }

  /** The modules are served by a blue-green backend: serve the same replicas from the rolling backend first. */
  async function adopt(from: string, backend: string): Promise<void> {
    tracker.setPhase('ProductionTrafficShift');
    await tracker.step(`publish ${backend} with the ${book.from.length} replicas of ${from}`, () =>
      routerCall(1).publishBackend({ router, backend, targets: addresses(book.from) }),
    );
    await tracker.step(`switch ${modules.join(', ')} from ${from} to ${backend} (same replicas)`, () =>
      routerCall(modules.length).switchTraffic({ router, modules, backends: [{ backend, weight: 100 }] }),
    );
  }

  /** Batches until none is left, with the pauses between them; continues as new at batch boundaries. */
  async function rollBatches(): Promise<void> {
    const ctx = context as RollingContext;
    if (book.batches === 0) book.batches = planBatches(counts(), ctx.fenceposts).length;
    for (;;) {
      const plan = nextBatch(counts(), ctx.fenceposts);
      if (book.direction === 'forward' && plan) await pauseAfter(book.batch);
      await continueAsNewIfDue();
      if (!plan) return;
      book.batch++;
      await runBatch(plan);
    }
  }

  async function runBatch(plan: BatchPlan): Promise<void> {
    const label = `${book.direction === 'rollback' ? 'rollback ' : ''}batch ${book.batch}/${book.batches}`;
    setCurrentDetails(
      `${label}: take out ${plan.retireFirst}, launch ${plan.launch}, retire ${plan.retireAfter} after` +
        ` (${book.from.length} to replace, ${book.to.length} done)`,
    );
    if (plan.retireFirst) await takeOut(pickFrom(plan.retireFirst), `${label}: take out`);
    if (plan.launch) {
      const launched = await launch(plan.launch, label);
      await untilAvailable(launched, label);
      tracker.setPhase('ProductionTrafficShift');
      await mutate(
        `${label}: register ${launched.length} ${versionOf('to')} replicas`,
        () => routerCall(1).registerTargets({ router, backend: backend(), targets: addresses(launched) }),
        () => {
          book.to.push(...launched);
          book.launching = book.launching.filter((r) => !launched.includes(r));
        },
      );
    }
    if (plan.retireAfter) await takeOut(pickFrom(plan.retireAfter), `${label}: replace`);
  }

  /** Deregister, drain, retire: no new request reaches them, the ones in flight finish, then they stop. */
  async function takeOut(replicas: TrackedReplica[], label: string): Promise<void> {
    const what = `${replicas.length} ${versionOf('from')} replicas`;
    tracker.setPhase('ProductionTrafficShift');
    await mutate(
      `${label}: deregister ${what}`,
      () => routerCall(1).deregisterTargets({ router, backend: backend(), targets: addresses(replicas) }),
      () => {
        book.from = book.from.filter((r) => !replicas.includes(r));
        book.draining.push(...replicas);
      },
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
    await mutate(
      `${label}: retire ${what}`,
      () => retireCall(replicas.length).retireReplicas({ platform, replicas: refs(replicas) }),
      () => {
        book.draining = book.draining.filter((r) => !replicas.includes(r));
      },
    );
  }

  async function launch(count: number, label: string): Promise<TrackedReplica[]> {
    tracker.setPhase('ScalingUp');
    const set = book.launchSet;
    const first = book.nextIndex[set] ?? 0;
    const launched = Array.from({ length: count }, (_, i) => ({ id: replicaId(set, first + i), set, address: '' }));
    book.nextIndex[set] = first + count;
    // An abort may cancel the launch (see CANCELLABLE_LAUNCH_PATCH); runs from before let it finish.
    const step = patched(CANCELLABLE_LAUNCH_PATCH) ? cancellableMutate : mutate;
    return step(
      `${label}: launch ${count} ${versionOf('to')} replicas`,
      async () => {
        book.launching.push(...launched); // before the call: a launch that fails halfway is still cleaned up
        const call = budgeted(launchBudgetMs(platform, count, LAUNCH_CONCURRENCY));
        return call.launchReplicas({ platform, set, ids: launched.map((r) => r.id) });
      },
      (replicas) => {
        for (const r of launched) r.address = replicas.find((x) => x.id === r.id)?.address ?? '';
        return launched;
      },
      (replicas) =>
        replicas.length > 3 ? `${replicas[0]?.id} … ${replicas.at(-1)?.id}` : replicas.map((r) => r.id).join(', '),
    );
  }

  /** Probes the launched replicas until each is available; a stall past the progress deadline is acted on. */
  async function untilAvailable(launched: TrackedReplica[], label: string): Promise<void> {
    for (;;) {
      tracker.setPhase('AwaitingHealthy');
      try {
        const result = await tracker.step(
          `${label}: wait until ${launched.length} new replicas are available`,
          () =>
            budgeted(
              availabilityBudgetMs(spec, launched.length, strategy.progressDeadline, strategy.minReadySeconds * 1000),
              WAIT_ATTEMPTS,
            ).awaitReplicasHealthy({
              platform,
              replicas: refs(launched),
              modules,
              health: spec.health,
              minReadyMs: strategy.minReadySeconds * 1000,
              progressDeadlineMs: strategy.progressDeadline,
              startedAt: Date.now(),
            }),
          (r) => `${r.replicas.length} available`,
        );
        for (const r of launched) r.address = result.replicas.find((x) => x.id === r.id)?.address || r.address;
        return;
      } catch (err) {
        if (failureType(err) !== ErrorType.ProgressDeadlineExceeded) throw err;
        const stalled = `${label} made no progress within the progress deadline: ${failureMessage(err)}`;
        tracker.event(stalled);
        if (book.direction === 'rollback' || strategy.onProgressDeadline === 'rollback') throw new RollBack(stalled);
        tracker.setPhase('AwaitingApproval');
        const outcome = await gate.wait(`progress deadline of ${label}`, {
          mode: 'required',
          timeoutMs: strategy.approval.timeout,
          onTimeout: strategy.approval.onTimeout,
        });
        throwUnlessApproved(outcome, `progress deadline of ${label}`);
        tracker.event(`${label}: waiting for the new replicas again`);
      }
    }
  }

  /** The pause after `batch`, if the spec has one that has not been passed yet. */
  async function pauseAfter(batch: number): Promise<void> {
    const step = strategy.steps.find((s) => s.afterBatch === batch);
    if (!step || book.pausesDone.includes(batch)) return;
    const where = `after batch ${batch}/${book.batches}`;
    let outcome: GateOutcome;
    if ('approval' in step.pause) {
      tracker.setPhase('AwaitingApproval');
      const policy: GatePolicy = {
        mode: strategy.approval.mode,
        timeoutMs: strategy.approval.timeout,
        onTimeout: strategy.approval.onTimeout,
      };
      outcome = await pauseGate(`approval ${where}`, policy, batch);
    } else {
      tracker.setPhase('Paused');
      const policy: GatePolicy = { mode: 'required', timeoutMs: step.pause.duration, onTimeout: 'promote' };
      outcome = await pauseGate(`pause of ${formatMs(step.pause.duration)} ${where}`, policy, batch);
    }
    book.pausesDone.push(batch);
    throwUnlessApproved(outcome, `the pause ${where}`);
  }

  /**
   * Waits at the gate; if the run's history grows past its bound while waiting (signals, updates), continues as
   * new with the pause pending: the next run reopens the gate with the same deadline.
   */
  async function pauseGate(stage: string, policy: GatePolicy, batch: number): Promise<GateOutcome> {
    if (policy.mode === 'automatic') return gate.wait(stage, policy);
    const pending = book.pendingPause?.afterBatch === batch ? book.pendingPause : undefined;
    const deadlineAt = pending?.deadlineAt ?? Date.now() + policy.timeoutMs;
    book.pendingPause = { afterBatch: batch, deadlineAt };
    let outcome: GateOutcome | undefined;
    const scope = new CancellationScope();
    const waiting = scope
      .run(() => gate.wait(stage, { ...policy, timeoutMs: Math.max(1, deadlineAt - Date.now()) }))
      .then((o) => {
        outcome = o;
      });
    void waiting.catch(() => undefined); // its cancellation is handled below, or by the abort
    await condition(() => outcome !== undefined || continueAsNewDue());
    if (!outcome) {
      scope.cancel();
      await waiting.catch(() => undefined);
    }
    if (outcome) {
      book.pendingPause = undefined;
      return outcome;
    }
    await continueAsNewIfDue(true);
    throw new Error('unreachable: continued as new');
  }

  function throwUnlessApproved(outcome: GateOutcome, where: string): void {
    if (outcome.kind === 'rejected') {
      const d = outcome.decision;
      throw new RollBack(`rejected at ${where} by ${d.by}${d.reason ? `: ${d.reason}` : ''}`);
    }
    if (outcome.kind === 'timed-out' && outcome.action === 'rollback')
      throw new RollBack(`approval timed out at ${where}`);
  }

  // ---- continue-as-new ----

  function continueAsNewDue(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= historyLimit;
  }

  /** At a batch boundary only (nothing launching or draining), with every handler finished. */
  async function continueAsNewIfDue(force = false): Promise<void> {
    if (!force && !continueAsNewDue()) return;
    await condition(allHandlersFinished);
    const info = workflowInfo();
    const rolling = status.rolling;
    if (rolling) {
      rolling.run++;
      rolling.runEvents.push(info.historyLength);
    }
    tracker.event(`continued as new after ${info.historyLength} history events (run ${rolling?.run ?? '?'})`);
    const carry: RollingCarryOver = {
      status,
      context: context as RollingContext,
      book,
      rollbackReason: book.direction === 'rollback' ? status.reason : undefined,
    };
    await continueAsNew<typeof rollingUpdateDeployment>({
      spec,
      specNormalized: true, // the spec this run used, normalised: the next run uses it as recorded
      searchAttributes: input.searchAttributes,
      maxHistoryEvents: input.maxHistoryEvents,
      resume: carry,
    });
  }

  // ---- the end: complete, or roll back ----

  async function completeUpdate(): Promise<void> {
    const ctx = context as RollingContext;
    status.liveVersion = spec.version;
    for (const name of ctx.oldSets.filter((s) => s !== ctx.targetSet)) {
      tracker.setPhase('RetiringOld');
      await tracker.step(`retire replica set ${name}`, () =>
        retireCall(spec.replicas).retireReplicaSet({ platform, name }),
      );
    }
    if (ctx.adoptedFrom) {
      const adopted = ctx.adoptedFrom;
      await tracker.step(`remove backend ${adopted}`, () => routerCall(1).removeBackend({ router, backend: adopted }));
    }
    for (const step of strategy.steps.filter((s) => !book.pausesDone.includes(s.afterBatch))) {
      tracker.skip(`pause after batch ${step.afterBatch}`, `the update took ${book.batches} batch(es)`);
    }
  }

  /** Puts the old version back within the same bounds, then ends rolled back (or failed, saying what serves). */
  async function rollBack(reason: string): Promise<never> {
    rollingBack = true;
    if (book.direction === 'forward') {
      status.reason = reason;
      tracker.event(`rolling back: ${reason}`);
    }
    if (!context) {
      // Nothing was changed yet (discovery itself failed, or the abort came first).
      return end(abortedBy ? 'rolled-back' : 'failed', reason);
    }
    tracker.setPhase('RollingBack');
    try {
      await CancellationScope.nonCancellable(async () => {
        const ctx = context as RollingContext;
        if (ctx.firstDeployment) {
          const report = await undo.run((name, ok, error) => tracker.compensated(name, ok, error));
          if (report.failed.length) {
            throw new Error(report.failed.map((f) => `${f.name} (${f.error})`).join('; '));
          }
          book.to = [];
          book.launching = [];
          return;
        }
        if (book.direction === 'forward') await turnAround(ctx);
        await rollBatches();
        await restoreRouting(ctx);
      });
    } catch (err) {
      if (err instanceof ContinueAsNew) throw err;
      return end('failed', `${reason}; the rollback failed: ${describeFailure(err, undefined)}`);
    }
    status.liveVersion = context.firstDeployment ? null : context.previousVersion;
    return end('rolled-back', reason);
  }

  /** From rolling forward to rolling back: tidy the batch that was interrupted, then swap the roles. */
  async function turnAround(ctx: RollingContext): Promise<void> {
    if (book.launching.length) {
      const idle = book.launching;
      await mutate(
        `retire ${idle.length} new replicas that never served`,
        () => retireCall(idle.length).retireReplicas({ platform, replicas: refs(idle) }),
        () => {
          book.launching = [];
        },
      );
    }
    if (book.draining.length) {
      const draining = book.draining;
      await mutate(
        `register again ${draining.length} old replicas that were draining`,
        () => routerCall(1).registerTargets({ router, backend: ctx.backend, targets: addresses(draining) }),
        () => {
          book.from.push(...draining);
          book.draining = [];
        },
      );
    }
    const newServing = book.to;
    if (!ctx.restoreSet) {
      // The version did not change (a scale of the same set): nothing to put back.
      Object.assign(book, { direction: 'rollback', from: [], batch: 0, batches: 0, desired: book.to.length });
      return;
    }
    Object.assign(book, {
      direction: 'rollback',
      from: newServing,
      to: book.from,
      desired: ctx.oldCount,
      launchSet: ctx.restoreSet,
      batch: 0,
      batches: 0,
    });
    refresh(ctx);
  }

  async function restoreRouting(ctx: RollingContext): Promise<void> {
    if (ctx.restoreSet && ctx.restoreSet !== ctx.targetSet) {
      const target = ctx.targetSet;
      await tracker.step(`retire replica set ${target}`, () =>
        retireCall(spec.replicas).retireReplicaSet({ platform, name: target }),
      );
    }
    if (!ctx.adoptedFrom) return;
    const adopted = ctx.adoptedFrom;
    const old = book.to;
    await tracker.step(`publish ${adopted} with the ${old.length} old replicas`, () =>
      routerCall(1).publishBackend({ router, backend: adopted, targets: addresses(old) }),
    );
    await tracker.step(`switch ${modules.join(', ')} back to ${adopted}`, () =>
      routerCall(modules.length).restoreRules({ router, modules, rules: ctx.initialRules }),
    );
    await tracker.step(`remove backend ${ctx.backend}`, () =>
      routerCall(1).removeBackend({ router, backend: ctx.backend }),
    );
  }

  /** Ends rolled back or failed: the workflow fails with the result in its details (as blue-green does). */
  async function end(outcome: Outcome, reason: string): Promise<never> {
    const result = await finish(outcome, reason);
    throw ApplicationFailure.create({
      type: outcome === 'rolled-back' ? 'DeploymentRolledBack' : 'DeploymentFailed',
      message: reason,
      nonRetryable: true,
      details: [result],
    });
  }

  async function finish(outcome: Outcome, reason?: string): Promise<DeploymentResult> {
    status.outcome = outcome;
    status.reason = reason;
    refresh(context);
    tracker.setPhase(outcome === 'succeeded' ? 'Succeeded' : outcome === 'rolled-back' ? 'RolledBack' : 'Failed');
    const serving =
      `${status.rolling?.healthy ?? 0} replicas serve ` +
      `(${status.rolling?.old ?? 0} of ${status.previousVersion ?? 'the old version'}, ${status.rolling?.new ?? 0} of ${spec.version})`;
    tracker.event(
      outcome === 'succeeded' ? `${spec.version} is live: ${serving}` : `${outcome}: ${reason ?? ''}; ${serving}`,
    );
    setCurrentDetails(`${outcome}: ${serving}`);
    await condition(allHandlersFinished);
    return { outcome, reason, liveColor: null, liveVersion: status.liveVersion, status };
  }

  // ---- bookkeeping ----

  /**
   * Runs a step that changes the world to completion even if an abort arrives meanwhile (its effect must be
   * known to undo it), and records its effect in the same breath. Refuses to start once an abort is requested.
   */
  async function mutate<T, R = T>(
    name: string,
    call: () => Promise<T>,
    apply: (result: T) => R,
    detail?: (result: R) => string,
  ): Promise<R> {
    if (abortedBy && !rollingBack) throw new CancelledFailure('aborted');
    return CancellationScope.nonCancellable(() =>
      tracker.step(
        name,
        async () => {
          const applied = apply(await call());
          refresh(context);
          return applied;
        },
        detail,
      ),
    );
  }

  /**
   * As mutate, for a step whose effect is recorded before it runs (a launch: the replicas are in book.launching), so
   * an abort may cancel it halfway: the rollback then undoes whatever it had done.
   */
  async function cancellableMutate<T, R = T>(
    name: string,
    call: () => Promise<T>,
    apply: (result: T) => R,
    detail?: (result: R) => string,
  ): Promise<R> {
    if (abortedBy && !rollingBack) throw new CancelledFailure('aborted');
    return tracker.step(
      name,
      async () => {
        const applied = apply(await call());
        refresh(context);
        return applied;
      },
      detail,
    );
  }

  /** A router call changing `changes` modules' rules (or one backend). */
  function routerCall(changes: number) {
    return budgeted(routerBudgetMs(router, changes));
  }

  /** Retiring `count` replicas, LAUNCH_CONCURRENCY at once. */
  function retireCall(count: number) {
    return budgeted(retireBudgetMs(platform, count, LAUNCH_CONCURRENCY));
  }

  function counts() {
    return { desired: book.desired, from: book.from.length, to: book.to.length };
  }

  /** The replicas to replace next: the most recent ones of the last set first. */
  function pickFrom(n: number): TrackedReplica[] {
    return book.from.slice(Math.max(0, book.from.length - n));
  }

  function backend(): string {
    return (context as RollingContext).backend;
  }

  function versionOf(role: 'from' | 'to'): string {
    const forward = book.direction === 'forward';
    const old = status.previousVersion ?? 'old';
    return (role === 'to') === forward ? spec.version : old;
  }

  function refresh(ctx: RollingContext | undefined): void {
    const forward = book.direction === 'forward';
    const oldServing = forward ? book.from.length : book.to.length;
    const newServing = forward ? book.to.length : book.from.length;
    const newAlive = newServing + (forward ? book.launching.length : 0);
    status.replicas = { desired: spec.replicas, launched: newAlive, healthy: oldServing + newServing };
    status.rolling = {
      batch: book.batch,
      batches: book.batches,
      direction: book.direction,
      old: oldServing,
      new: newServing,
      healthy: oldServing + newServing,
      maxSurge: ctx?.fenceposts.surge ?? 0,
      maxUnavailable: ctx?.fenceposts.unavailable ?? 0,
      replicaSet: ctx?.targetSet ?? '',
      replacing: ctx?.oldSets ?? [],
      run: status.rolling?.run ?? 1,
      runEvents: status.rolling?.runEvents ?? [],
    };
  }
}

function addresses(replicas: TrackedReplica[]): string[] {
  return replicas.map((r) => r.address).filter((a) => a !== '');
}

function refs(replicas: TrackedReplica[]): { set: string; id: string }[] {
  return replicas.map((r) => ({ set: r.set, id: r.id }));
}

function failureType(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
