/**
 * The activities: every side effect a deployment takes, each idempotent (a
 * retry or a restarted worker never launches a second copy or loses one),
 * speaking only through the Platform and Router ports.
 */
import type { PlatformConfig, RouterConfig, HealthCheck } from '../workflows/spec';
import type { LiveSets, LiveState, ModuleVerification } from '../workflows/types';
import type { Drivers } from './drivers';
import { activity } from './activity';
import { CutoverError, ErrorType } from './errors';
import type {
  ModuleRule,
  PreviewRoutes,
  Replica,
  ReplicaSetSpec,
  ReplicaSetState,
  Router,
  WeightedBackend,
} from './ports';
import { slotOf } from './ports';
import { discoverRouting } from './discovery';
import { createBlueGreenActivities, probeUntilHealthy, provision } from './blue-green';
import type { ProbeProgress } from './blue-green';
import { createHookActivities } from './outsystems';
import { createRollingActivities } from './rolling';
import { createSpecActivities } from './spec';
import { createCanaryActivities } from './canary';
import { createAnalysisActivities } from './analysis';
import { eachLimited } from './limited';
import { VERIFY_CONCURRENCY, VERIFY_REQUESTS, VERIFY_REQUEST_TIMEOUT_MS } from '../workflows/budgets';

export interface DiscoverInput {
  application: string;
  modules: string[];
  platform: PlatformConfig;
  router: RouterConfig;
}

export interface ProvisionInput {
  platform: PlatformConfig;
  replicaSet: ReplicaSetSpec;
}

export interface AwaitHealthyInput {
  platform: PlatformConfig;
  replicaSet: string;
  /** How many replicas must be healthy. */
  expected: number;
  modules: string[];
  health: HealthCheck;
  /** Absolute deadline (epoch ms), fixed by the workflow so a retried attempt keeps it. */
  deadlineAt: number;
}

export interface AwaitHealthyResult {
  healthy: number;
  replicas: Replica[];
}

export interface TrafficInput {
  router: RouterConfig;
  modules: string[];
  backends: WeightedBackend[];
}

export interface RestoreInput {
  router: RouterConfig;
  modules: string[];
  /** The rules as they were before (absent module = default rule). */
  rules: Record<string, ModuleRule>;
}

export interface VerifyInput {
  router: RouterConfig;
  modules: string[];
  version: string;
  /** Verifications of one module before it counts as not answering from `version`. */
  attempts: number;
  intervalMs: number;
  /** Modules verified at once (default VERIFY_CONCURRENCY). */
  concurrency?: number;
  /** Requests per module and attempt (default VERIFY_REQUESTS) and the timeout of each (VERIFY_REQUEST_TIMEOUT_MS). */
  requests?: number;
  requestTimeoutMs?: number;
}

/** Carried in heartbeats: answers so far (progress per request), and the modules verified (a retry skips them). */
interface VerifyProgress {
  answers: number;
  verified: string[];
  last?: string;
}

export interface DrainInput {
  router: RouterConfig;
  targets: string[];
  timeoutMs: number;
}

/** The router's preview routes, or a non-retryable NotSupportedError naming the router. */
function previewRoutes(router: Router): PreviewRoutes {
  if (router.preview) return router.preview;
  throw new CutoverError(
    ErrorType.NotSupported,
    `the ${router.type} router has no preview routes: disable strategy.preview, or use a router that has them`,
  );
}

/** Refuses (non-retryable) a split between more backends than the router's weighted rules take (1 without them). */
function checkSplit(router: Router, backends: WeightedBackend[]): void {
  const split = backends.filter((b) => b.weight > 0).length;
  const most = router.weights?.maxBackends ?? 1;
  if (split > most) {
    throw new CutoverError(
      ErrorType.NotSupported,
      `the ${router.type} router cannot split a module's traffic between ${split} backends` +
        (router.weights ? ` (at most ${most})` : ' (it has no weighted rules)'),
    );
  }
}

function sameBackends(a: WeightedBackend[], b: WeightedBackend[]): boolean {
  const norm = (x: WeightedBackend[]) =>
    JSON.stringify(x.filter((w) => w.weight > 0).sort((p, q) => p.backend.localeCompare(q.backend)));
  return norm(a) === norm(b);
}

/**
 * What is live: whose backend the modules route to (one check, activities/discovery.ts), the version it serves (the
 * set with the most replicas behind it: a rolling update cut short leaves two), and the application's replica sets.
 * An application last updated by a rolling update is served by its "-rolling" backend: blue-green takes it over like
 * a color (green comes up beside it, and the rolling replica sets are the "blue" it retires).
 */
async function findLive(drivers: Drivers, input: DiscoverInput): Promise<LiveState> {
  const router = drivers.router(input.router);
  const platform = drivers.platform(input.platform);
  const { rules, side: liveColor, backend } = await discoverRouting(router, input.application, input.modules);
  const replicaSets = await platform.listReplicaSets(input.application);
  let liveVersion: string | null = null;
  if (liveColor && backend) {
    const targets = new Set((await router.describeBackend(backend)) ?? []);
    const serving = (s: ReplicaSetState) => s.replicas.filter((r) => targets.has(r.address)).length;
    const candidates = replicaSets.filter((s) => slotOf(s) === liveColor).sort((a, b) => serving(b) - serving(a));
    liveVersion = candidates[0]?.version ?? null;
  }
  return { liveColor, liveVersion, rules, replicaSets };
}

export function createActivities(drivers: Drivers) {
  return {
    // The OutSystems hook operations' own activities (activities/outsystems/).
    ...createHookActivities(drivers),

    /** The rolling update's own activities (activities/rolling.ts). */
    ...createRollingActivities(drivers),

    /** The spec schema, for specs given as written (activities/spec.ts). */
    ...createSpecActivities(),

    /** One measurement of one analysis metric (activities/analysis/). */
    ...createAnalysisActivities(),

    /** The canary's split measurement through the load balancer (activities/canary.ts). */
    ...createCanaryActivities(drivers),

    /** Blue-green's activities of bounded payloads: replica sets by reference and counts (activities/blue-green.ts). */
    ...createBlueGreenActivities(drivers),

    /** Reads what is live from the router and platform (never from a local file); the routing check is discovery's. */
    async discoverLive(input: DiscoverInput): Promise<LiveState> {
      return activity(async () => findLive(drivers, input));
    },

    /** discoverLive with each replica set summarised as a name and counts (blue-green-bounded-payloads). */
    async discoverLiveSets(input: DiscoverInput): Promise<LiveSets> {
      return activity(async () => {
        const live = await findLive(drivers, input);
        const replicaSets = live.replicaSets.map(({ name, application, version, slot, desired, replicas }) => ({
          name,
          application,
          version,
          slot,
          desired,
          launched: replicas.length,
        }));
        return { ...live, replicaSets };
      });
    },

    /** Ensures the replica set exists with the requested count (idempotent). Before blue-green-bounded-payloads. */
    async provisionReplicaSet(input: ProvisionInput): Promise<ReplicaSetState> {
      return activity(async ({ signal }) => provision(drivers.platform(input.platform), input, signal));
    },

    /** Probes every replica directly until `expected` are healthy; heartbeats, resumes after a crash. Before the patch. */
    async awaitHealthy(input: AwaitHealthyInput): Promise<AwaitHealthyResult> {
      return activity<AwaitHealthyResult, ProbeProgress>(async (progress) => {
        const { healthy, set } = await probeUntilHealthy(drivers.platform(input.platform), input, progress);
        return { healthy, replicas: set.replicas };
      });
    },

    /** Creates or updates a backend with exactly these targets. */
    async publishBackend(input: { router: RouterConfig; backend: string; targets: string[] }): Promise<void> {
      return activity(() => drivers.router(input.router).ensureBackend(input.backend, input.targets));
    },

    async removeBackend(input: { router: RouterConfig; backend: string }): Promise<void> {
      return activity(() => drivers.router(input.router).removeBackend(input.backend));
    },

    async setPreview(input: { router: RouterConfig; modules: string[]; backend: string }): Promise<void> {
      return activity(async () => {
        const preview = previewRoutes(drivers.router(input.router));
        for (const module of input.modules) await preview.setRule(module, input.backend);
      });
    },

    async removePreview(input: { router: RouterConfig; modules: string[] }): Promise<void> {
      return activity(async () => {
        // A router without preview routes has none to remove (the compensation of a refused preview).
        const preview = drivers.router(input.router).preview;
        if (preview) for (const module of input.modules) await preview.removeRule(module);
      });
    },

    /** Points every module's rule at `backends`, then reads the rules back and refuses a mismatch. */
    async switchTraffic(input: TrafficInput): Promise<void> {
      return activity(async () => {
        const router = drivers.router(input.router);
        checkSplit(router, input.backends);
        // One change where the router can (nginx: one reload and its drain, not one per module).
        if (router.batch && input.modules.length > 1) await router.batch.setModuleRules(input.modules, input.backends);
        else for (const module of input.modules) await router.setModuleRule(module, input.backends);
        const after = await router.readRules(input.modules);
        const wrong = input.modules.filter((m) => !after[m] || !sameBackends(after[m].backends, input.backends));
        if (wrong.length) {
          throw new CutoverError(
            ErrorType.RuleReadbackMismatch,
            `rules of ${wrong.join(', ')} do not read back as written (${JSON.stringify(input.backends)})`,
          );
        }
      });
    },

    /** Puts each module's rule back as it was (removing rules that did not exist: migration rollback). */
    async restoreRules(input: RestoreInput): Promise<void> {
      return activity(async () => {
        const router = drivers.router(input.router);
        for (const rule of Object.values(input.rules)) checkSplit(router, rule.backends);
        for (const module of input.modules) {
          const previous = input.rules[module];
          if (previous) await router.setModuleRule(module, previous.backends);
          else await router.removeModuleRule(module);
        }
        const after = await router.readRules(input.modules);
        const wrong = input.modules.filter((m) => {
          const previous = input.rules[m];
          const now = after[m];
          return previous ? !now || !sameBackends(now.backends, previous.backends) : now !== undefined;
        });
        if (wrong.length) {
          throw new CutoverError(ErrorType.RuleReadbackMismatch, `rules of ${wrong.join(', ')} were not restored`);
        }
      });
    },

    /**
     * Verifies through the load balancer that each module answers from `version`, `concurrency` modules at once,
     * each retried until `attempts` verifications; heartbeats with every answer. A module that never answers from
     * `version` comes back not-verified with what it answered (which version, backend and replicas, or the error).
     */
    async verifyTraffic(input: VerifyInput): Promise<ModuleVerification[]> {
      return activity<ModuleVerification[], VerifyProgress>(async (heartbeat) => {
        const router = drivers.router(input.router);
        const progress: VerifyProgress = { answers: 0, verified: [], ...heartbeat.resumed };
        const done = new Set(progress.verified);
        const options = {
          signal: heartbeat.signal,
          requests: input.requests ?? VERIFY_REQUESTS,
          timeoutMs: input.requestTimeoutMs ?? VERIFY_REQUEST_TIMEOUT_MS,
        };
        return eachLimited(input.modules, input.concurrency ?? VERIFY_CONCURRENCY, async (module) => {
          if (done.has(module)) {
            return { module, result: { status: 'verified', detail: `${module}: verified by an earlier attempt` } };
          }
          const onAnswer = (answer: string): void => {
            progress.answers++;
            progress.last = `${module}: ${answer}`;
            heartbeat.report(progress);
          };
          let result = await router.verify(module, input.version, { ...options, onAnswer });
          for (let attempt = 1; attempt < input.attempts && result.status === 'not-verified'; attempt++) {
            await heartbeat.sleep(input.intervalMs);
            result = await router.verify(module, input.version, { ...options, onAnswer });
          }
          if (result.status === 'verified') {
            progress.verified.push(module);
            heartbeat.report(progress);
          }
          return { module, result };
        });
      });
    },

    /**
     * Waits (heartbeating) until no request is in flight to the targets, or the timeout passes. A router that cannot
     * count them (no `inFlight` capability) answers drained at once, as it always did (docs/routers.md).
     */
    async drainTargets(input: DrainInput): Promise<{ drained: boolean; remaining: number }> {
      return activity(async (heartbeat) => {
        const counts = drivers.router(input.router).inFlight;
        const started = Date.now();
        for (;;) {
          let remaining = 0;
          for (const target of input.targets) remaining += (await counts?.count(target)) ?? 0;
          heartbeat.report({ remaining });
          if (remaining === 0) return { drained: true, remaining };
          if (Date.now() - started >= input.timeoutMs) return { drained: false, remaining };
          await heartbeat.sleep(200);
        }
      });
    },

    /** Retires every replica of the set (graceful stop); a no-op if it is gone. */
    async retireReplicaSet(input: { platform: PlatformConfig; name: string }): Promise<void> {
      return activity(() => drivers.platform(input.platform).retireReplicaSet(input.name));
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
