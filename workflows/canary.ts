/**
 * Canary release: the new version beside the stable one, taking a growing share of every module's traffic step by
 * step (`strategy.steps`: setWeight, pause, analysis, setCanaryScale, setHeaderRoute), judged by metrics (inline
 * analysis steps, and background analysis from a step on), then promoted: full scale, every request, verified; the
 * stable version retired. Every weight is read back and the split measured through the load balancer before its
 * step counts; the stable version keeps every replica until the canary takes every request.
 *
 * An abort, a failed analysis, a split that is not what was set, or a rejected gate sends every request back to the
 * stable version (read back and verified), then retires the canary after `abortScaleDownDelay`. The result says
 * which: rolled back (the stable version serves, verified) or failed (a compensation failed: needs attention).
 */
import {
  CancellationScope,
  ContinueAsNew,
  allHandlersFinished,
  condition,
  continueAsNew,
  workflowInfo,
} from '@temporalio/workflow';
import { RollBack, endedAfterUndo, undoAfter } from './runbook';
import { runAnalysis } from './analysis/run';
import type { AnalysisVerdict } from './analysis/run';
import { CanaryRun } from './canary/run';
import {
  discoverStable,
  launchCanary,
  promote,
  restoreUndo,
  replicasFor,
  retireStable,
  scaleCanary,
  setHeaderRoute,
  setWeight,
} from './canary/steps';
import { specFor } from './parse-spec';
import { isCanarySpec } from './spec';
import type { CanaryStep } from './spec';
import type { AnalysisCarry, CanaryCarryOver, CanaryInput, DeploymentResult, Outcome } from './types';

export async function canaryDeployment(input: CanaryInput): Promise<DeploymentResult> {
  const spec = await specFor(input, 'canary', isCanarySpec);
  const run = new CanaryRun(input, spec);
  const { strategy, tracker, canary } = run;
  const steps = strategy.steps;
  const resumed = input.resume;
  let scale: 'match' | 'fixed' = resumed?.scale ?? 'match';
  let carriedAnalysis = resumed?.analysis;
  let carriedPause = resumed?.pauseDeadline;
  let background: Promise<AnalysisVerdict> | undefined;
  let backgroundDone = false;
  let backgroundSuspended = false;

  try {
    await run.work.run(async () => {
      if (resumed) {
        // A continued run: the steps done so far left these undos.
        restoreUndo(run);
      } else {
        // 1. The stable version, and no leftovers in the canary's color.
        await discoverStable(run);
        // 2. The canary beside it: launched, probed, published (no traffic yet).
        await launchCanary(run, firstScale(steps, run));
      }
      // 3. The steps, in order (a continued run from where the last one stopped).
      for (let index = resumed?.nextStep ?? 0; index < steps.length; index++) {
        const step = steps[index] as CanaryStep;
        if (index !== resumed?.nextStep && run.continueAsNewDue()) await continueAsNewAt(index);
        canary.step = index + 1;
        canary.current = describeStep(step);
        const from = strategy.backgroundAnalysis?.startingStep;
        if (from !== undefined && index >= from && !background) background = startBackground(resumed?.background);
        if (step.setWeight !== undefined) await setWeight(run, step.setWeight, scale);
        else if (step.pause !== undefined) {
          const deadline = carriedPause ?? Date.now() + (step.pause.duration ?? strategy.approval.timeout);
          carriedPause = undefined;
          await pause(step.pause.duration === undefined, deadline, index);
        } else if (step.analysis !== undefined) {
          const verdict = await runAnalysis(run.analysisHost, {
            label: `step ${index + 1}`,
            ...step.analysis,
            resume: carriedAnalysis,
            suspend: () => run.continueAsNewDue(),
          });
          carriedAnalysis = undefined;
          if (verdict.outcome === 'suspended') await continueAsNewAt(index, { analysis: verdict.carry });
          await judge(verdict);
        } else if (step.setCanaryScale !== undefined) {
          const s = step.setCanaryScale;
          scale = s.matchTrafficWeight ? 'match' : 'fixed';
          if (!s.matchTrafficWeight) {
            await scaleCanary(run, s.replicas ?? Math.max(1, Math.ceil((spec.replicas * (s.weight ?? 0)) / 100)));
          }
        } else if (step.setHeaderRoute !== undefined) await setHeaderRoute(run, step.setHeaderRoute.remove);
      }
      // 4. Promotion: full scale, every request, verified.
      canary.current = 'promote';
      await promote(run);
      backgroundDone = true;
      if (background) await judge(await background);
    });

    // 5. The point of no return: retire the stable version.
    run.pastPointOfNoReturn = true;
    run.undo.clear();
    await retireStable(run);
    return await finish('succeeded');
  } catch (err) {
    if (isContinueAsNew(err)) throw err;
    backgroundDone = true;
    return await rollBackAndFail(err);
  }

  /**
   * Continues as new at step `index` (not started yet, or resumed: an analysis in progress, an open pause): the
   * background analysis is suspended and carried too, every handler finished first.
   */
  async function continueAsNewAt(
    index: number,
    carried: { analysis?: AnalysisCarry; pauseDeadline?: number } = {},
  ): Promise<never> {
    backgroundSuspended = true;
    const bg = background ? await background : undefined;
    await condition(allHandlersFinished);
    const info = workflowInfo();
    canary.run++;
    canary.runEvents.push(info.historyLength);
    tracker.event(
      `continued as new at step ${index + 1} after ${info.historyLength} history events (run ${canary.run})`,
    );
    const resume: CanaryCarryOver = {
      status: run.status,
      live: run.live,
      canaryColor: run.canaryColor,
      nextStep: index,
      scale,
      ...carried,
      ...(bg?.outcome === 'suspended' ? { background: bg.carry } : {}),
    };
    return continueAsNew<typeof canaryDeployment>({
      spec: run.spec,
      specNormalized: true,
      searchAttributes: input.searchAttributes,
      maxHistoryEvents: input.maxHistoryEvents,
      resume,
    });
  }

  // ---- the steps, in runbook order ----

  /**
   * `pause: {duration}` (promote ends it early, reject rolls back) or `pause: {}`: until promoted, up to
   * `strategy.approval.timeout`, then `strategy.approval.onTimeout`. The deadline holds across runs: a pause during
   * which the history grows long (background analysis) continues as new and the next run waits out the rest.
   */
  async function pause(open: boolean, deadline: number, index: number): Promise<void> {
    tracker.setPhase('Paused');
    const gate = run.gate.wait(open ? `promotion at step ${canary.step}` : `pause of step ${canary.step}`, {
      mode: 'required',
      timeoutMs: Math.max(0, deadline - Date.now()),
      onTimeout: open ? strategy.approval.onTimeout : 'promote',
    });
    // Watched only while the gate is open: the watch ends with it.
    const watch = new CancellationScope();
    const due = watch.run(() => condition(() => run.continueAsNewDue())).then(() => 'due' as const);
    due.catch(() => undefined);
    const outcome = await Promise.race([gate, due]);
    watch.cancel();
    if (outcome === 'due') await continueAsNewAt(index, { pauseDeadline: deadline });
    else {
      if (outcome.kind === 'rejected') throw new RollBack(rejection(outcome.decision));
      if (outcome.kind === 'timed-out' && outcome.action === 'rollback') {
        throw new RollBack('nobody promoted the canary');
      }
    }
  }

  /** An analysis verdict: successful goes on; failed rolls back; inconclusive (or too few samples) pauses or acts. */
  async function judge(verdict: AnalysisVerdict): Promise<void> {
    if (verdict.outcome === 'successful' || verdict.outcome === 'stopped') return;
    if (verdict.outcome === 'failed') throw new RollBack(`analysis ${verdict.record.label} failed: ${verdict.reason}`);
    const policy = verdict.outcome === 'insufficient' ? spec.analysis?.insufficientSamples.policy : 'pause';
    if (policy === 'fail') throw new RollBack(`analysis ${verdict.record.label}: ${verdict.reason}`);
    if (policy === 'pass') {
      tracker.event(
        `analysis ${verdict.record.label}: ${verdict.reason}; passed by policy (insufficientSamples.policy pass)`,
      );
      return;
    }
    tracker.setPhase('AwaitingApproval');
    const outcome = await run.gate.wait(`${verdict.outcome} analysis ${verdict.record.label}`, {
      mode: 'required',
      timeoutMs: strategy.inconclusive.timeout,
      onTimeout: strategy.inconclusive.onTimeout,
    });
    if (outcome.kind === 'rejected') throw new RollBack(rejection(outcome.decision));
    if (outcome.kind === 'timed-out' && outcome.action === 'rollback') {
      throw new RollBack(`analysis ${verdict.record.label} ${verdict.outcome} and nobody decided: ${verdict.reason}`);
    }
  }

  /** Background analysis: runs beside the steps until promotion; a failure fails the rollout at once. */
  function startBackground(resume: AnalysisCarry | undefined): Promise<AnalysisVerdict> {
    const request = strategy.backgroundAnalysis as NonNullable<typeof strategy.backgroundAnalysis>;
    const running = runAnalysis(run.analysisHost, {
      label: 'background',
      ...request,
      resume,
      stopped: () => backgroundDone,
      suspend: () => backgroundSuspended,
    }).then((verdict) => {
      if (verdict.outcome === 'failed') run.fail('background analysis', verdict.reason);
      return verdict;
    });
    // Cancelled with the forward work when the canary rolls back: nobody awaits it then.
    running.catch(() => undefined);
    return running;
  }

  async function rollBackAndFail(err: unknown): Promise<DeploymentResult> {
    const report = await undoAfter(tracker, run.undo, err, run.abortedBy);
    if (report.undone) {
      Object.assign(run.status, { liveColor: run.live?.liveColor ?? null, liveVersion: run.live?.liveVersion ?? null });
    }
    throw endedAfterUndo(report, await finish(report.rolledBack ? 'rolled-back' : 'failed', report.detail));
  }

  async function finish(outcome: Outcome, reason?: string): Promise<DeploymentResult> {
    const status = run.status;
    status.outcome = outcome;
    status.reason = reason;
    tracker.setPhase(outcome === 'succeeded' ? 'Succeeded' : outcome === 'rolled-back' ? 'RolledBack' : 'Failed');
    tracker.event(
      outcome === 'succeeded'
        ? `${spec.version} is live on ${run.canaryColor}`
        : outcome === 'rolled-back'
          ? `rolled back: the stable version ${canary.stableVersion ?? ''} serves every request (verified): ${reason ?? ''}`
          : `failed, needs attention: ${reason ?? ''}`,
    );
    await condition(allHandlersFinished);
    return { outcome, reason, liveColor: status.liveColor, liveVersion: status.liveVersion, status };
  }
}

/** The canary's size before its first step: what its first weight needs (or a setCanaryScale before it), at least 1. */
function firstScale(steps: readonly CanaryStep[], run: CanaryRun): number {
  for (const step of steps) {
    if (step.setWeight !== undefined) return replicasFor(run, step.setWeight);
    if (step.setCanaryScale?.replicas !== undefined) return Math.max(1, step.setCanaryScale.replicas);
  }
  return 1;
}

function describeStep(step: CanaryStep): string {
  if (step.setWeight !== undefined) return `setWeight ${step.setWeight}`;
  if (step.pause !== undefined) {
    return step.pause.duration ? `pause ${Math.round(step.pause.duration / 1000)}s` : 'pause until promoted';
  }
  if (step.analysis !== undefined) return `analysis ${step.analysis.templates.join(', ')}`;
  if (step.setCanaryScale !== undefined) return `setCanaryScale ${JSON.stringify(step.setCanaryScale)}`;
  return step.setHeaderRoute?.remove ? 'remove the header route' : 'setHeaderRoute';
}

function isContinueAsNew(err: unknown): boolean {
  return err instanceof ContinueAsNew;
}

function rejection(decision: { by: string; reason?: string }): string {
  return `rejected by ${decision.by}${decision.reason ? `: ${decision.reason}` : ''}`;
}
