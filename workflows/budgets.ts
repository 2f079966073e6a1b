/**
 * How long each long activity may take, derived from the work it covers and the spec's own budgets, so that nothing
 * times out because an application is slow but healthy (issue 15): a launch gets the platform's start timeout per
 * wave of replicas started together, a verification gets modules x attempts x requests x the request timeout, a
 * wait for health gets `health.deadline` plus one round of probes. Liveness is separate: every activity heartbeats
 * each second (activities/activity.ts) under a 15 s heartbeat timeout, so a dead worker is still noticed in seconds.
 *
 * Timeouts are not part of what replay compares (only an activity's type and id are), so changing these is safe for
 * runs in flight. Pure module: workflows and activities both import it.
 */
import type { DeploymentSpec, PlatformConfig, RouterConfig } from './spec';
import { DEFAULT_START_TIMEOUT_MS } from './spec';

/** Modules whose verification runs at once in one verifyTraffic. */
export const VERIFY_CONCURRENCY = 8;
/** Requests through the load balancer per module and attempt. */
export const VERIFY_REQUESTS = 5;
/** Timeout of one of those requests: a page may be slow, and still be the right version. */
export const VERIFY_REQUEST_TIMEOUT_MS = 10_000;
/** Replicas launched, probed or retired at once by one rolling-update activity. */
export const LAUNCH_CONCURRENCY = 8;
/** Added to every budget: the calls around the work (state reads, records, a router read-back). */
export const MARGIN_MS = 60_000;
/** A local replica's graceful stop, then SIGKILL (activities/drivers/local/platform.ts: 15 s + 5 s). */
const LOCAL_STOP_MS = 20_000;
/** A platform whose launch is API calls only (Kubernetes creates pods; readiness is then awaitHealthy's). */
const API_CALLS_MS = 10 * 60_000;

function waves(count: number, perWave: number): number {
  return Math.max(1, Math.ceil(count / Math.max(1, perWave)));
}

/** How long one local replica may take to listen on its PORT (`platform.startTimeout`; runs from before: default). */
export function startTimeoutOf(platform: PlatformConfig): number {
  return platform.kind === 'local' ? (platform.startTimeout ?? DEFAULT_START_TIMEOUT_MS) : 0;
}

function stopOf(platform: PlatformConfig): number {
  return platform.kind === 'kubernetes' ? platform.gracePeriod + 10_000 : LOCAL_STOP_MS;
}

/** Launching `count` replicas, `perWave` of them at once (a scale may also retire some). */
export function launchBudgetMs(platform: PlatformConfig, count: number, perWave: number): number {
  if (platform.kind !== 'local') return API_CALLS_MS;
  return waves(count, perWave) * (startTimeoutOf(platform) + stopOf(platform)) + MARGIN_MS;
}

/** Retiring `count` replicas, `perWave` at once. */
export function retireBudgetMs(platform: PlatformConfig, count: number, perWave: number): number {
  return waves(count, perWave) * stopOf(platform) + (platform.kind === 'local' ? 0 : API_CALLS_MS) + MARGIN_MS;
}

/** Verifying `modules` through the load balancer, `attempts` times each at most, `intervalMs` apart. */
export function verifyBudgetMs(modules: number, attempts: number, intervalMs: number): number {
  const perAttempt = VERIFY_REQUESTS * VERIFY_REQUEST_TIMEOUT_MS + intervalMs;
  return waves(modules, VERIFY_CONCURRENCY) * attempts * perAttempt + MARGIN_MS;
}

/** One round of probes: every module's health page of `replicas` replicas, `perWave` replicas at once. */
function probeRoundMs(spec: DeploymentSpec, replicas: number, perWave: number): number {
  return waves(replicas, perWave) * spec.modules.length * spec.health.timeout + spec.health.interval;
}

/** Blue-green's wait for health: until `health.deadline` (fixed when the wait began), then one last round. */
export function healthBudgetMs(spec: DeploymentSpec, replicas: number): number {
  return spec.health.deadline + probeRoundMs(spec, replicas, 1) + MARGIN_MS;
}

/**
 * A rolling batch's wait for its new replicas: each may use the progress deadline (it restarts whenever one becomes
 * available), then minReadySeconds.
 */
export function availabilityBudgetMs(
  spec: DeploymentSpec,
  replicas: number,
  progressDeadlineMs: number,
  minReadyMs: number,
): number {
  return replicas * progressDeadlineMs + minReadyMs + probeRoundMs(spec, replicas, 2 * LAUNCH_CONCURRENCY) + MARGIN_MS;
}

/** Waiting for targets to drain. */
export function drainBudgetMs(timeoutMs: number): number {
  return timeoutMs + MARGIN_MS;
}

/** One local router admin call's own timeout is 10 s; a rule change makes two (write, read back). */
const LOCAL_RULE_CHANGE_MS = 20_000;
/** nginx: `nginx -t` and the check through nginx after each reload, besides the reload itself. */
const NGINX_CHECK_MS = 15_000;

/** kubernetes-service: read, patch (a conflict re-reads and patches again), list pods: each call's deadline is 10 s. */
const KUBE_CALLS_MS = 40_000;

/**
 * One router call that changes the rules of `modules` modules (or, with 1, one backend): nginx reloads once per
 * change, each waiting up to reload.drain + reload.timeout (a reload lasts as long as the longest request in
 * flight); the ALB driver may shift weights in steps and waits for target health per module.
 */
export function routerBudgetMs(router: RouterConfig, modules: number): number {
  const changes = Math.max(1, modules);
  switch (router.kind) {
    case 'nginx':
      return changes * (router.reload.drain + router.reload.timeout + NGINX_CHECK_MS) + MARGIN_MS;
    case 'aws-alb': {
      const shift = router.shift ? router.shift.steps.length * router.shift.interval : 0;
      return changes * (shift + router.targetHealthTimeout + router.drainTimeout) + MARGIN_MS;
    }
    case 'kubernetes-service':
      // One selector patch for every module (the others find it made): a few API calls, a Ready pod of the backend,
      // the EndpointSlices (each wait up to endpointsTimeout), kube-proxy.
      return changes * (KUBE_CALLS_MS + 2 * router.endpointsTimeout + router.proxySync) + MARGIN_MS;
    default:
      return changes * LOCAL_RULE_CHANGE_MS + MARGIN_MS;
  }
}
