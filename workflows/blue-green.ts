/**
 * Blue-green deployment (also the way to migrate an application off the
 * platform server): start green beside blue, probe it, optionally preview it,
 * wait for approval, switch every module's rule to green, read the rules back
 * and verify through the load balancer, keep blue for a rollback window, then
 * retire blue. Any failure or abort undoes what was done, in reverse.
 *
 * The runbook is here, each step's undo beside it; green's replica set on the two payload paths (scale up, wait
 * until healthy, publish, drain) is in workflows/blue-green/sets.ts.
 */
import { CancellationScope, allHandlersFinished, condition, patched, setHandler } from '@temporalio/workflow';
import type { Color, ReplicaSetState } from '../activities/ports';
import { backendName, replicaSetName, slotOf } from '../activities/ports';
import { budgeted, quickApiCall } from './activity-presets';
import { ApprovalGate } from './approval';
import { retireBudgetMs, routerBudgetMs } from './budgets';
import { abortSignal, rollbackSignal, statusQuery } from './messages';
import type { DecisionInput } from './messages';
import type { AnalysisVerdict } from './analysis/run';
import { passed, promotionAnalysis } from './blue-green-analysis';
import { BOUNDED_PAYLOADS_PATCH, BlueGreenSets, addresses, launchedOf } from './blue-green/sets';
import { specFor } from './parse-spec';
import { RollBack, endedAfterUndo, undoAfter, verifyModules } from './runbook';
import { Compensations } from './saga';
import { isBlueGreenSpec } from './spec';
import type { BlueGreenStrategy } from './spec';
import { DeploymentTracker } from './tracker';
import type { DeploymentInput, DeploymentResult, LiveSets, LiveState, Outcome, ReplicaSetSummary } from './types';

export { BOUNDED_PAYLOADS_PATCH } from './blue-green/sets';

export async function blueGreenDeployment(input: DeploymentInput): Promise<DeploymentResult> {
  const spec = await specFor(input, 'blue-green', isBlueGreenSpec);
  const strategy = spec.strategy;
  // Decided once per run, so a run started before the patch keeps the old activities to its end.
  const bounded = patched(BOUNDED_PAYLOADS_PATCH);
  const tracker = new DeploymentTracker(spec, 'blue-green', { searchAttributes: input.searchAttributes !== false });
  const status = tracker.status;
  setHandler(statusQuery, () => status);
  const gate = new ApprovalGate(tracker, spec.version);
  const undo = new Compensations();
  const replicaSets = new BlueGreenSets(spec, tracker, bounded);
  const work = new CancellationScope();
  let abortedBy: DecisionInput | undefined;
  let rollbackBy: DecisionInput | undefined;
  let inRollbackWindow = false;
  let pastPointOfNoReturn = false;

  setHandler(abortSignal, (by: DecisionInput) => {
    if (pastPointOfNoReturn || abortedBy) {
      tracker.event(
        `abort from ${by?.by ?? 'unknown'} ignored: ${abortedBy ? 'already aborting' : 'traffic is on the new version and the rollback window has closed'}`,
      );
      return;
    }
    abortedBy = { by: by?.by || 'unknown', reason: by?.reason };
    tracker.event(`abort requested by ${abortedBy.by}${abortedBy.reason ? `: ${abortedBy.reason}` : ''}`);
    work.cancel();
  });
  setHandler(rollbackSignal, (by: DecisionInput) => {
    if (!inRollbackWindow) {
      tracker.event(
        `rollback from ${by?.by ?? 'unknown'} ignored: not in the rollback window (use abort before the switch)`,
      );
      return;
    }
    rollbackBy = { by: by?.by || 'unknown', reason: by?.reason };
  });

  const platform = spec.platform;
  const router = spec.router;
  const modules = spec.modules;
  let live: LiveState | LiveSets | undefined;
  let green: Color = 'green';

  try {
    await work.run(async () => {
      // 1. Find what is live.
      tracker.setPhase('Discovering');
      live = await tracker.step(
        'discover live version',
        (): Promise<LiveState | LiveSets> =>
          bounded
            ? quickApiCall.discoverLiveSets({ application: spec.application, modules, platform, router })
            : quickApiCall.discoverLive({ application: spec.application, modules, platform, router }),
        (l) =>
          l.liveColor
            ? `${l.liveColor} serves ${l.liveVersion ?? 'unknown version'}`
            : 'platform server (default rule) serves every module',
      );
      green = live.liveColor === 'green' ? 'blue' : 'green';
      status.liveColor = live.liveColor;
      status.liveVersion = live.liveVersion;
      status.previousVersion = live.liveVersion;
      status.targetColor = green;
      const greenName = replicaSetName(spec.application, spec.version, green);
      const greenBackend = backendName(spec.application, green);

      // 2. Clear leftovers of an earlier, interrupted deployment in green's color.
      const sets: (ReplicaSetState | ReplicaSetSummary)[] = live.replicaSets;
      for (const stale of sets.filter((s) => slotOf(s) === green && s.name !== greenName)) {
        await tracker.step(`retire leftover ${stale.name}`, () =>
          retireCall(launchedOf(stale)).retireReplicaSet({ platform, name: stale.name }),
        );
      }

      // 3. Scale up green (a smaller preview count first, if asked).
      tracker.setPhase('ScalingUp');
      const firstCount = strategy.previewReplicas ?? spec.replicas;
      undo.push('retire green', async () => {
        await replicaSets.drain([greenName], replicaSets.greenTargets);
        await routerCall(1).removeBackend({ router, backend: greenBackend });
        await retireCall(spec.replicas).retireReplicaSet({ platform, name: greenName });
      });
      let greenSet = await replicaSets.scaleUp(greenName, green, firstCount);

      // 4. Probe every green replica directly.
      greenSet = await replicaSets.waitUntilHealthy(greenSet, firstCount);

      // 5. Preview: marked requests reach green before anyone approves.
      if (strategy.preview.enabled) {
        tracker.setPhase('TestTrafficShift');
        undo.push('remove preview route', () => routerCall(modules.length).removePreview({ router, modules }));
        await tracker.step(`publish ${green} backend`, () => replicaSets.publish(greenBackend, greenSet));
        await tracker.step(`open preview route (header ${strategy.preview.header})`, () =>
          routerCall(modules.length).setPreview({ router, modules, backend: greenBackend }),
        );
      } else {
        tracker.skip('preview', 'preview disabled');
      }

      // 6. Pre-promotion analysis (if any), then the approval gate: a person decides when the analysis could not.
      let gateMode = strategy.approval.mode;
      const pre = await promotionAnalysis('pre-promotion', spec, tracker, green, live);
      if (pre?.outcome === 'failed') throw new RollBack(`pre-promotion analysis failed: ${pre.reason}`);
      if (pre && !passed(spec, pre)) {
        gateMode = 'required';
        tracker.event(`pre-promotion analysis ${pre.outcome}: ${pre.reason}; the approval gate waits for a person`);
      }
      tracker.setPhase('AwaitingApproval');
      const outcome = await gate.wait('promotion', {
        mode: gateMode,
        timeoutMs: strategy.approval.timeout,
        onTimeout: strategy.approval.onTimeout,
      });
      if (outcome.kind === 'rejected') {
        throw new RollBack(
          `rejected by ${outcome.decision.by}${outcome.decision.reason ? `: ${outcome.decision.reason}` : ''}`,
        );
      }
      if (outcome.kind === 'timed-out' && outcome.action === 'rollback') {
        throw new RollBack('approval timed out');
      }

      if (strategy.preview.enabled) {
        await tracker.step('close preview route', () => routerCall(modules.length).removePreview({ router, modules }));
        undo.discard('remove preview route');
      }

      // 7. Full green before it takes production traffic.
      if (firstCount < spec.replicas) {
        tracker.setPhase('ScalingUpFull');
        greenSet = await replicaSets.scaleUp(greenName, green, spec.replicas);
        greenSet = await replicaSets.waitUntilHealthy(greenSet, spec.replicas);
      }

      // 8. Switch production traffic, read it back, verify through the load balancer.
      tracker.setPhase('ProductionTrafficShift');
      await tracker.step(`publish ${green} backend (${greenSet.launched} targets)`, () =>
        replicaSets.publish(greenBackend, greenSet),
      );
      const previousRules = live.rules;
      undo.push('switch traffic back', () =>
        routerCall(modules.length).restoreRules({ router, modules, rules: previousRules }),
      );
      const batches = strategy.switchMode === 'module-by-module' ? modules.map((m) => [m]) : [modules];
      for (const batch of batches) {
        await tracker.step(`switch ${batch.join(', ')} to ${green}`, () =>
          routerCall(batch.length).switchTraffic({
            router,
            modules: batch,
            backends: [{ backend: greenBackend, weight: 100 }],
          }),
        );
        tracker.setPhase('Verifying');
        await verify(batch);
        tracker.setPhase('ProductionTrafficShift');
      }
      status.liveColor = green;
      status.liveVersion = spec.version;
      tracker.event(`traffic switched to ${green} (${spec.version})`);

      // 9. Rollback window: blue stays up; a rollback signal switches back instantly.
      await rollbackWindow(strategy);
    });

    // 10. Point of no return: retire blue.
    pastPointOfNoReturn = true;
    undo.clear();
    tracker.setPhase('RetiringOld');
    await retireOld(live as LiveState | LiveSets, green);
    return await finish('succeeded');
  } catch (err) {
    return await rollBackAndFail(err);
  }

  // ---- the steps, in runbook order ----

  /** A router call changing `changes` modules' rules (or one backend). */
  function routerCall(changes: number) {
    return budgeted(routerBudgetMs(router, changes));
  }

  /** Retiring a set of `count` replicas: they stop at once. */
  function retireCall(count: number) {
    return budgeted(retireBudgetMs(platform, count, count));
  }

  async function verify(batch: string[]): Promise<void> {
    await verifyModules(tracker, router, batch, spec.version, 'post-switch verification failed');
  }

  async function rollbackWindow(s: BlueGreenStrategy): Promise<void> {
    tracker.setPhase('RollbackWindow');
    // Post-promotion analysis while blue is kept (past the window if it takes longer): a failure switches back.
    const post = promotionAnalysis('post-promotion', spec, tracker, green, live);
    let postVerdict: AnalysisVerdict | undefined;
    post.then((v) => (postVerdict = v)).catch(() => undefined); // a failing one ends the window early
    const failing = (v: AnalysisVerdict | undefined) => v !== undefined && !passed(spec, v);
    if (s.rollbackWindow <= 0) {
      tracker.skip('rollback window', 'rollbackWindow is 0');
      judgePost(await post);
      return;
    }
    status.rollbackWindowEndsAt = new Date(Date.now() + s.rollbackWindow).toISOString();
    inRollbackWindow = true;
    try {
      await tracker.step(`keep ${live?.liveColor ?? 'platform server'} for the rollback window`, async () => {
        await condition(() => rollbackBy !== undefined || failing(postVerdict), s.rollbackWindow);
      });
    } finally {
      inRollbackWindow = false;
      delete status.rollbackWindowEndsAt;
    }
    if (rollbackBy) {
      throw new RollBack(`rollback requested by ${rollbackBy.by}${rollbackBy.reason ? `: ${rollbackBy.reason}` : ''}`);
    }
    judgePost(await post);
  }

  /** A post-promotion verdict: anything but a pass switches back (there is no gate after the switch). */
  function judgePost(verdict: AnalysisVerdict | undefined): void {
    if (verdict && !passed(spec, verdict)) {
      throw new RollBack(`post-promotion analysis ${verdict.outcome}: ${verdict.reason}`);
    }
  }

  async function retireOld(previous: LiveState | LiveSets, newColor: Color): Promise<void> {
    // The other color's sets; or, taking over from a rolling update, the rolling sets (and only those).
    const sets: (ReplicaSetState | ReplicaSetSummary)[] = previous.replicaSets;
    const oldSets = sets.filter((s) =>
      previous.liveColor === 'rolling' ? slotOf(s) === 'rolling' : slotOf(s) !== newColor && slotOf(s) !== 'rolling',
    );
    if (!previous.liveColor) {
      tracker.skip('retire old', 'migrated from the platform server: nothing of ours to retire');
      return;
    }
    const oldBackend = backendName(spec.application, previous.liveColor);
    await tracker.step(
      `drain ${previous.liveColor}`,
      () =>
        replicaSets.drain(
          oldSets.map((s) => s.name),
          bounded ? [] : oldSets.flatMap(addresses),
        ),
      (r) =>
        !r.observed
          ? 'the router cannot count requests in flight: left to its own draining and the graceful stop'
          : r.drained
            ? 'no request in flight'
            : `${r.remaining} requests still in flight after the drain timeout`,
    );
    for (const set of oldSets) {
      await tracker.step(`retire ${set.name}`, () =>
        retireCall(launchedOf(set)).retireReplicaSet({ platform, name: set.name }),
      );
    }
    await tracker.step(`remove backend ${oldBackend}`, () =>
      routerCall(1).removeBackend({ router, backend: oldBackend }),
    );
  }

  async function rollBackAndFail(err: unknown): Promise<DeploymentResult> {
    const report = await undoAfter(tracker, undo, err, abortedBy);
    status.liveColor = live?.liveColor ?? null;
    status.liveVersion = live?.liveVersion ?? null;
    throw endedAfterUndo(report, await finish(report.rolledBack ? 'rolled-back' : 'failed', report.detail));
  }

  async function finish(outcome: Outcome, reason?: string): Promise<DeploymentResult> {
    status.outcome = outcome;
    status.reason = reason;
    tracker.setPhase(outcome === 'succeeded' ? 'Succeeded' : outcome === 'rolled-back' ? 'RolledBack' : 'Failed');
    tracker.event(outcome === 'succeeded' ? `${spec.version} is live on ${green}` : `${outcome}: ${reason ?? ''}`);
    await condition(allHandlersFinished);
    return { outcome, reason, liveColor: status.liveColor, liveVersion: status.liveVersion, status };
  }
}
