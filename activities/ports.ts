/**
 * The two ports every driver implements. Shaped around what every back end can
 * do (local processes, Kubernetes Deployments, ECS services; local proxy,
 * nginx upstreams, ALB target groups, Kubernetes Services), not around one.
 *
 * No provider SDK type appears here: drivers translate at their edge.
 */

export type Color = 'blue' | 'green';

/** Which side of an application a replica set serves: a blue-green color, or "rolling" (a rolling update's one backend). */
export type Slot = Color | 'rolling';

/**
 * The slot of a replica set (spec, state or summary). Records and activity results written before the field was
 * named `slot` carry it as `color` (local platform state files, Kubernetes ConfigMaps, workflow histories): every
 * reader goes through here.
 */
export function slotOf(set: { slot?: Slot; color?: Slot }): Slot {
  const slot = set.slot ?? set.color;
  if (slot === undefined) throw new TypeError('replica set record has neither slot nor color');
  return slot;
}

/** A replica set spec as written now: `slot`, never the older `color` (an activity scheduled before the rename). */
export function withSlot(spec: ReplicaSetSpec): ReplicaSetSpec {
  const { color: _legacy, ...rest } = spec as ReplicaSetSpec & { color?: Slot };
  return { ...rest, slot: slotOf(spec) };
}

/** One running copy of one version of an application. */
export interface Replica {
  /** Stable id, unique within its replica set (e.g. "shop-2-0-0-green-0"). */
  id: string;
  /** Where the replica can be reached directly, e.g. "http://127.0.0.1:41234". Empty when not reachable from here. */
  address: string;
  /** Platform's own view: the process/pod is running (not necessarily healthy). */
  running: boolean;
  /**
   * Why it is not running, when the platform knows something worth saying (a pod that cannot be scheduled, one that
   * ended and was replaced); absent while it merely starts.
   */
  reason?: string;
}

export interface ReplicaSetSpec {
  /** Deterministic name, see replicaSetName(). */
  name: string;
  application: string;
  version: string;
  /** "blue"/"green" for blue-green; "rolling" for rolling updates. */
  slot: Slot;
  modules: string[];
  replicas: number;
  /** Non-secret configuration handed to each replica. */
  env: Record<string, string>;
}

export interface ReplicaSetState {
  name: string;
  application: string;
  version: string;
  slot: Slot;
  /** Replicas the platform is asked to keep. */
  desired: number;
  replicas: Replica[];
}

/**
 * Options of the platform calls that wait for replicas to start. `signal` ends the wait early (an abort reaching a
 * cancelled activity): what was started stays recorded, so a retire finds it and stops it.
 */
export interface StartOptions {
  signal?: AbortSignal;
}

/** `detail` says how a healthy answer was reached when that is not obvious (e.g. from an orchestrator's readiness). */
export type ProbeResult = { healthy: true; detail?: string } | { healthy: false; reason: string };

export interface Platform {
  readonly kind: string;
  /**
   * Optional hint: how many per-replica calls (launch, probe, retire) the activities may have in flight at once
   * (their lanes). Without it they use their default (LAUNCH_CONCURRENCY).
   */
  readonly concurrency?: number;
  /** Creates the replica set with `spec.replicas` replicas, or returns the existing one (idempotent). */
  ensureReplicaSet(spec: ReplicaSetSpec, options?: StartOptions): Promise<ReplicaSetState>;
  /** Sets the desired replica count (launching or retiring the highest-numbered replicas). */
  scaleReplicaSet(name: string, replicas: number, options?: StartOptions): Promise<ReplicaSetState>;
  /** Launches one replica with the given id in an existing set; returns the existing one if already launched. */
  launchReplica(name: string, replicaId: string, options?: StartOptions): Promise<Replica>;
  /** Retires one replica (graceful stop); a no-op if it is already gone. */
  retireReplica(name: string, replicaId: string): Promise<void>;
  getReplicaSet(name: string): Promise<ReplicaSetState | undefined>;
  /** Everything that exists for an application: the source of truth after a restart. */
  listReplicaSets(application: string): Promise<ReplicaSetState[]>;
  /** Retires every replica of the set and forgets it; a no-op if it does not exist. */
  retireReplicaSet(name: string): Promise<void>;
  /** One health check of one replica (HTTP GET for reachable replicas; readiness for others); `signal` ends it early. */
  probe(replica: Replica, path: string, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult>;
}

/** Where one module's traffic may go, with a weight (0..100). */
export interface WeightedBackend {
  backend: string;
  weight: number;
}

/** A module's explicit rule; absent means the default rule (the platform server) serves it. */
export interface ModuleRule {
  module: string;
  backends: WeightedBackend[];
  /** Backend that requests marked for preview are sent to, if a preview route exists. */
  preview?: string;
}

export type Verification =
  | { status: 'verified'; detail: string }
  | { status: 'not-verified'; detail: string }
  | { status: 'not-supported'; detail: string };

/** How one verification of one module is carried out (each driver has defaults). */
export interface VerifyOptions {
  /** Requests sent through the load balancer (default 5). */
  requests?: number;
  /** Timeout of each request (ms). */
  timeoutMs?: number;
  /** Ends the verification early (an abort). */
  signal?: AbortSignal;
  /** Called with each answer as it arrives ("version 2.0.0 (backend shop-green)"): progress to heartbeat. */
  onAnswer?: (answer: string) => void;
}

/**
 * The core every router implements: rules per module, backends with exact targets, target registration, and a
 * tri-state verification. What only some routers can do is grouped in optional capabilities (`preview`,
 * `inFlight`, `weights`): a router without one leaves it undefined, and the activities take its not-supported path
 * (docs/routers.md, "Writing a router").
 */
export interface Router {
  readonly type: string;
  /** The current explicit rule of each given module (missing key = default rule serves it). */
  readRules(modules: string[]): Promise<Record<string, ModuleRule>>;
  /** Creates the backend if needed and sets exactly these targets (idempotent). */
  ensureBackend(backend: string, targets: string[]): Promise<void>;
  /** Current targets of a backend, or undefined if it does not exist. */
  describeBackend(backend: string): Promise<string[] | undefined>;
  /** Removes a backend no rule uses any more (no-op if absent). */
  removeBackend(backend: string): Promise<void>;
  /**
   * Points a module's explicit rule at these backends (creates the rule if absent). Without the `weights`
   * capability a router is only ever given one backend of weight above 0 (others at weight 0 it may leave out).
   */
  setModuleRule(module: string, backends: WeightedBackend[]): Promise<void>;
  /** Deletes a module's explicit rule so the default rule serves it again (no-op if absent). */
  removeModuleRule(module: string): Promise<void>;
  registerTargets(backend: string, targets: string[]): Promise<void>;
  deregisterTargets(backend: string, targets: string[]): Promise<void>;
  /** Checks through the load balancer that `module` answers from `expectedVersion`. */
  verify(module: string, expectedVersion: string, options?: VerifyOptions): Promise<Verification>;

  /** Preview routes (blue-green's `strategy.preview`); without them a preview is refused (NotSupportedError). */
  readonly preview?: PreviewRoutes;
  /** Counts of requests in flight; without them a drain does not wait (the router's own draining and the graceful stop do). */
  readonly inFlight?: InFlightCounts;
  /** Splitting one module's traffic between backends by weight; without it, rules of one backend only. */
  readonly weights?: WeightedRules;
  /** Setting many modules' rules as one change (a switch); without it, one module at a time. */
  readonly batch?: BatchRules;
  /** Sending requests through the load balancer to see the split; without it, a canary's split is not measured. */
  readonly sampling?: TrafficSampling;
}

/** What answered `requests` requests of one module through the load balancer, counted by version. */
export interface TrafficSample {
  module: string;
  requests: number;
  /** Answers by `x-cutover-version` ("none": answered without one; "HTTP <code>": an error status; "error": none). */
  byVersion: Record<string, number>;
}

/** A router that can send traffic through its load balancer (the local router, nginx, an ALB with a publicUrl). */
export interface TrafficSampling {
  sample(
    module: string,
    requests: number,
    options?: { concurrency?: number; signal?: AbortSignal },
  ): Promise<TrafficSample>;
}

/** Requests marked for preview (a header) go to another backend, without changing live traffic. */
export interface PreviewRoutes {
  /** Routes `module`'s requests marked for preview to `backend`. */
  setRule(module: string, backend: string): Promise<void>;
  /** Removes `module`'s preview route (no-op if absent). */
  removeRule(module: string): Promise<void>;
}

/** What a router can tell about requests still running. */
export interface InFlightCounts {
  /** Requests still in flight to a target. */
  count(target: string): Promise<number>;
}

/**
 * Changing many modules' rules in one change: one nginx reload (with its drain) instead of one per module. Without it
 * a switch sets the rules one module at a time.
 */
export interface BatchRules {
  /** Points every given module's explicit rule at these backends, as one change (as setModuleRule does for one). */
  setModuleRules(modules: string[], backends: WeightedBackend[]): Promise<void>;
}

export interface WeightedRules {
  /** The most backends of weight above 0 one module's rule may split between. */
  readonly maxBackends: number;
}

/** Deterministic replica-set name from application + version + slot (DNS-label safe). */
export function replicaSetName(application: string, version: string, slot: Slot): string {
  const v = version.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  return `${application}-${v}-${slot}`.slice(0, 63).replace(/-+$/, '');
}

/** Backend (upstream / target group / Service) name of one slot of an application. */
export function backendName(application: string, slot: Slot): string {
  return `${application}-${slot}`;
}
