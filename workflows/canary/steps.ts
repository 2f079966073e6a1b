/**
 * The canary's steps, each a few named tracker steps with its undo pushed beside it: find the stable version, bring
 * the canary up (launch, probe, publish), set a weight (switch with read-back, then the split measured through the
 * load balancer), scale the canary, route marked requests to it, promote it, and retire the stable version.
 */
import { sleep } from '@temporalio/workflow';
import type { SplitMeasurement } from '../../activities/canary';
import { slotOf } from '../../activities/ports';
import type { WeightedBackend } from '../../activities/ports';
import { budgeted, quickApiCall } from '../activity-presets';
import { VERIFY_REQUEST_TIMEOUT_MS } from '../budgets';
import { RollBack, verifyModules } from '../runbook';
import type { CanaryRun } from './run';
import { DRAIN_TIMEOUT_MS } from './run';

/** Requests sent through the load balancer to measure one split (spread over the modules; at least 50 each). */
export const SPLIT_REQUESTS = 1_000;
const SPLIT_CONCURRENCY = 8;
/** A split outside its tolerance is measured again this often (a load balancer may take a moment to apply it). */
const SPLIT_ATTEMPTS = 3;
const SPLIT_RETRY_MS = 2_000;

/** 1. What serves: a canary needs a version live on containers (blue, green, or a rolling update's backend). */
export async function discoverStable(run: CanaryRun): Promise<void> {
  const { spec, tracker, status } = run;
  const { platform, router, modules } = spec;
  tracker.setPhase('Discovering');
  const live = await tracker.step(
    'discover the stable version',
    () => quickApiCall.discoverLiveSets({ application: spec.application, modules, platform, router }),
    (l) =>
      l.liveColor
        ? `${l.liveColor} serves ${l.liveVersion ?? 'unknown version'}`
        : 'platform server (default rule) serves every module',
  );
  if (!live.liveColor) {
    throw new RollBack(
      'a canary needs a version live on containers to compare against: the platform server serves the modules ' +
        '(migrate with strategy blue-green first)',
    );
  }
  run.live = live;
  run.stableSlot = live.liveColor;
  run.canaryColor = live.liveColor === 'green' ? 'blue' : 'green';
  run.canary.stableVersion = live.liveVersion;
  Object.assign(status, {
    liveColor: live.liveColor,
    liveVersion: live.liveVersion,
    previousVersion: live.liveVersion,
    targetColor: run.canaryColor,
  });
  for (const stale of live.replicaSets.filter((s) => slotOf(s) === run.canaryColor && s.name !== run.canaryName)) {
    await tracker.step(`retire leftover ${stale.name}`, () =>
      run.retireCall(stale.launched).retireReplicaSet({ platform, name: stale.name }),
    );
  }
}

/** 2. The canary set beside the stable one, probed and published as its own backend (no traffic yet). */
export async function launchCanary(run: CanaryRun, replicas: number): Promise<void> {
  pushRetireCanary(run);
  await scaleCanary(run, replicas);
  run.tracker.setPhase('TestTrafficShift');
}

/** The undo of launching the canary: after the delay (traffic is back on stable by then), drain and retire it. */
export function pushRetireCanary(run: CanaryRun): void {
  const { spec } = run;
  run.undo.push('retire the canary', async () => {
    // Traffic is back on the stable version (verified) by now; the canary stays up a while for a look.
    if (run.strategy.abortScaleDownDelay > 0 && run.canary.splits.length > 0)
      await sleep(run.strategy.abortScaleDownDelay);
    await run.drainCall().drainReplicaSets({
      platform: spec.platform,
      router: spec.router,
      replicaSets: [run.canaryName],
      timeoutMs: DRAIN_TIMEOUT_MS,
    });
    await run.routerCall(1).removeBackend({ router: spec.router, backend: run.canaryBackend });
    await run.retireCall(spec.replicas).retireReplicaSet({ platform: spec.platform, name: run.canaryName });
  });
}

const SEND_BACK = 'send every request back to the stable version';

/** The undo of the first weight above 0: every module's rule as it was, read back, and the stable version verified. */
export function pushSendBack(run: CanaryRun): void {
  const { spec, tracker, canary } = run;
  const { router, modules } = spec;
  const previous = run.live.rules;
  run.undo.push(SEND_BACK, async () => {
    await run.routerCall(modules.length).restoreRules({ router, modules, rules: previous });
    canary.weight = 0;
    await verifyModules(
      tracker,
      router,
      modules,
      canary.stableVersion ?? '',
      'the stable version does not answer after the switch back',
    );
  });
}

/** The undo of a header route to the canary. */
export function pushRemoveHeaderRoute(run: CanaryRun): void {
  const { router, modules } = run.spec;
  run.undo.push('remove the header route', () => run.routerCall(modules.length).removePreview({ router, modules }));
}

/** A continued run's undo stack, as the steps done so far left it (the same undos in the same order). */
export function restoreUndo(run: CanaryRun): void {
  const { canary } = run;
  pushRetireCanary(run);
  if (canary.splits.some((s) => s.weight > 0)) pushSendBack(run);
  if (canary.headerRoute) pushRemoveHeaderRoute(run);
}

/** Scales the canary to `replicas` (never below what it has while it may take traffic), probes, republishes. */
export async function scaleCanary(run: CanaryRun, replicas: number): Promise<void> {
  const { spec, tracker, status, canary } = run;
  const { platform, router, modules } = spec;
  if (replicas <= canary.canaryReplicas) {
    if (replicas < canary.canaryReplicas) {
      tracker.event(`canary kept at ${canary.canaryReplicas} replicas (it is not scaled down while it takes traffic)`);
    }
    return;
  }
  tracker.setPhase('ScalingUp');
  const replicaSet = {
    name: run.canaryName,
    application: spec.application,
    version: spec.version,
    slot: run.canaryColor,
    modules,
    replicas,
    env: spec.platform.env,
  };
  const summary = await tracker.step(
    `scale the canary to ${replicas} (${spec.version})`,
    () => run.launchCall(replicas).scaleUpReplicaSet({ platform, replicaSet }),
    (s) => `${s.launched} replicas launched`,
  );
  status.replicas.launched = summary.launched;
  tracker.setPhase('AwaitingHealthy');
  const health = await tracker.step(
    `wait until ${replicas} canary replicas are healthy`,
    () =>
      run.healthCall(replicas).awaitReplicaSetHealthy({
        platform,
        replicaSet: run.canaryName,
        expected: replicas,
        modules,
        health: spec.health,
        deadlineAt: Date.now() + spec.health.deadline,
      }),
    (h) => `${h.healthy}/${replicas} healthy`,
  );
  status.replicas.healthy = health.healthy;
  await tracker.step(`publish the canary backend ${run.canaryBackend}`, () =>
    run.routerCall(1).publishReplicaSet({ platform, router, backend: run.canaryBackend, replicaSet: run.canaryName }),
  );
  canary.canaryReplicas = replicas;
}

/** Replicas the canary needs to take `weight` percent of the traffic (at least one). */
export function replicasFor(run: CanaryRun, weight: number): number {
  return Math.max(1, Math.ceil((run.spec.replicas * weight) / 100));
}

/**
 * 3. A weight: every module's rule split between stable and canary, read back (switchTraffic refuses a mismatch),
 * then the split measured through the load balancer until it matches; the step counts only then.
 */
export async function setWeight(run: CanaryRun, weight: number, canaryScale: 'match' | 'fixed'): Promise<void> {
  const { spec, tracker, canary } = run;
  const { router, modules } = spec;
  if (canaryScale === 'match') await scaleCanary(run, replicasFor(run, weight));
  if (weight > 0 && !run.undo.has(SEND_BACK)) pushSendBack(run);
  tracker.setPhase('ProductionTrafficShift');
  await tracker.step(`set the canary's weight to ${weight}%`, () =>
    run.routerCall(modules.length).switchTraffic({ router, modules, backends: split(run, weight) }),
  );
  canary.weight = weight;
  await measureSplit(run, weight);
}

function split(run: CanaryRun, weight: number): WeightedBackend[] {
  if (weight >= 100) return [{ backend: run.canaryBackend, weight: 100 }];
  if (weight <= 0) return [{ backend: run.stableBackend, weight: 100 }];
  return [
    { backend: run.stableBackend, weight: 100 - weight },
    { backend: run.canaryBackend, weight },
  ];
}

/** Every request of a measurement may take the verification's request timeout, `SPLIT_CONCURRENCY` at a time. */
function splitBudgetMs(requests: number): number {
  return 60_000 + Math.ceil(requests / SPLIT_CONCURRENCY) * VERIFY_REQUEST_TIMEOUT_MS;
}

async function measureSplit(run: CanaryRun, weight: number): Promise<void> {
  const { spec, tracker, canary } = run;
  const requests = Math.max(50, Math.ceil(SPLIT_REQUESTS / spec.modules.length));
  let last: SplitMeasurement | undefined;
  for (let attempt = 1; attempt <= SPLIT_ATTEMPTS; attempt++) {
    tracker.setPhase('Verifying');
    last = await tracker.step(
      `measure the split at ${weight}% through the load balancer`,
      () =>
        budgeted(splitBudgetMs(requests * spec.modules.length)).measureSplit({
          router: spec.router,
          modules: spec.modules,
          canaryVersion: spec.version,
          stableVersion: canary.stableVersion ?? '',
          weight,
          requests,
          concurrency: SPLIT_CONCURRENCY,
        }),
      (m) => m.detail,
    );
    canary.splits.push({
      step: canary.step,
      weight,
      status: last.status,
      requests: last.requests,
      share: last.share,
      tolerance: last.tolerance,
      detail: last.detail,
    });
    if (canary.splits.length > 2 * spec.strategy.steps.length + 4) canary.splits.shift();
    if (last.withinTolerance) return;
    if (attempt < SPLIT_ATTEMPTS) await sleep(SPLIT_RETRY_MS);
  }
  throw new RollBack(`weight ${weight}% was applied but not effective: ${last?.detail ?? 'no measurement'}`);
}

/** Marked requests (the router's preview header) go to the canary, or no longer do. */
export async function setHeaderRoute(run: CanaryRun, remove: boolean): Promise<void> {
  const { spec, tracker, canary } = run;
  const { router, modules } = spec;
  if (remove) {
    await tracker.step('remove the header route to the canary', () =>
      run.routerCall(modules.length).removePreview({ router, modules }),
    );
    run.undo.discard('remove the header route');
    canary.headerRoute = false;
    return;
  }
  pushRemoveHeaderRoute(run);
  await tracker.step(`route marked requests to the canary (${run.canaryBackend})`, () =>
    run.routerCall(modules.length).setPreview({ router, modules, backend: run.canaryBackend }),
  );
  canary.headerRoute = true;
}

/** 4. Promotion: the canary at full scale takes every request, read back, measured and verified. */
export async function promote(run: CanaryRun): Promise<void> {
  const { spec, tracker, status, canary } = run;
  await scaleCanary(run, spec.replicas);
  if (canary.weight < 100) await setWeight(run, 100, 'fixed');
  await verifyModules(tracker, spec.router, spec.modules, spec.version, 'the promoted canary does not answer');
  if (canary.headerRoute) await setHeaderRoute(run, true);
  Object.assign(status, { liveColor: run.canaryColor, liveVersion: spec.version });
  tracker.event(`${spec.version} (${run.canaryColor}) takes every request`);
}

/** 5. Past the point of no return: drain and retire the stable version. */
export async function retireStable(run: CanaryRun): Promise<void> {
  const { spec, tracker, live } = run;
  const { platform, router } = spec;
  const stableSets = live.replicaSets.filter((s) => slotOf(s) === run.stableSlot);
  tracker.setPhase('RetiringOld');
  await tracker.step(
    `drain ${run.stableSlot}`,
    () =>
      run.drainCall().drainReplicaSets({
        platform,
        router,
        replicaSets: stableSets.map((s) => s.name),
        timeoutMs: DRAIN_TIMEOUT_MS,
      }),
    (r) =>
      r.observed ? (r.drained ? 'no request in flight' : `${r.remaining} requests still in flight`) : 'not observable',
  );
  for (const set of stableSets) {
    await tracker.step(`retire ${set.name}`, () =>
      run.retireCall(set.launched).retireReplicaSet({ platform, name: set.name }),
    );
  }
  await tracker.step(`remove backend ${run.stableBackend}`, () =>
    run.routerCall(1).removeBackend({ router, backend: run.stableBackend }),
  );
}
