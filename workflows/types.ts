/**
 * Contract types shared by workflows, activities and clients: inputs, results,
 * status and phases. Pure types (plus a few constants); safe in workflow code.
 */
import type { Color, ModuleRule, ReplicaSetState, Slot, Verification } from '../activities/ports';
import type { DeploymentSpec, DeploymentSpecInput } from './spec';
import type { MetricLedger } from './analysis/verdict';
import type { AnalysisRecord, CanaryProgress } from './progress-types';

export type { AnalysisRecord, AnalysisRunOutcome, CanaryProgress, MetricRecord, SplitRecord } from './progress-types';

/** What can serve an application's production traffic: a blue-green color, or a rolling update's backend. */
export type LiveSide = Slot;

export const TASK_QUEUE = 'cutover';

/** Workflow type names, as typed into the Temporal UI's Start Workflow form. */
export const WORKFLOW_TYPES = {
  blueGreen: 'blueGreenDeployment',
  rolling: 'rollingUpdateDeployment',
  canary: 'canaryDeployment',
} as const;

/** Business workflow id: one deployment per application and environment at a time. */
export function deploymentId(environment: string, application: string): string {
  return `deploy-${environment}-${application}`;
}

/** Phases, in the order a blue-green deployment moves through them (ECS lifecycle vocabulary where it fits). */
export type Phase =
  | 'Validating'
  | 'Discovering'
  | 'ScalingUp'
  | 'AwaitingHealthy'
  | 'TestTrafficShift'
  | 'AwaitingApproval'
  | 'ScalingUpFull'
  | 'ProductionTrafficShift'
  | 'Verifying'
  | 'RollbackWindow'
  | 'Draining'
  | 'Paused'
  | 'RetiringOld'
  | 'RollingBack'
  | 'Succeeded'
  | 'RolledBack'
  | 'Failed';

export const FINAL_PHASES: readonly Phase[] = ['Succeeded', 'RolledBack', 'Failed'];

export type Outcome = 'succeeded' | 'rolled-back' | 'failed';

/**
 * Workflow input. `spec` is either the spec as written (a UI-started run: validated inside the workflow) or, with
 * `specNormalized: true`, the normalised spec the client (and so the CLI) computed once before start. A normalised
 * spec is used as recorded in the start event, never re-run through the schema, so a later schema or default change
 * cannot change a run already started (CONTRIBUTING.md, the replay rule).
 */
export interface DeploymentInput {
  spec: DeploymentSpecInput | DeploymentSpec;
  /** The spec is the schema's output, validated before start: use it as is. */
  specNormalized?: boolean;
  /** Upsert search attributes (default true; only servers without them registered need false). */
  searchAttributes?: boolean;
}

export type StepState = 'running' | 'done' | 'failed' | 'skipped' | 'compensated';

export interface StepRecord {
  name: string;
  state: StepState;
  startedAt: string;
  endedAt?: string;
  detail?: string;
}

export interface Decision {
  by: string;
  at: string;
  reason?: string;
  version?: string;
}

export interface ApprovalStatus {
  mode: 'required' | 'automatic';
  /** True while the deployment waits at the gate. */
  pending: boolean;
  /** When the gate times out (ISO time), while pending. */
  deadline?: string;
  onTimeout: 'rollback' | 'promote';
  approved?: Decision;
  rejected?: Decision;
  timedOut?: boolean;
}

export interface DeploymentStatus {
  deploymentId: string;
  application: string;
  environment: string;
  strategy: 'blue-green' | 'rolling' | 'canary';
  version: string;
  phase: Phase;
  /**
   * What serves production traffic now: a color, "rolling" (the backend of a rolling update), or null (the platform
   * server, through the default rule).
   */
  liveColor: LiveSide | null;
  liveVersion: string | null;
  previousVersion: string | null;
  targetColor: Color | null;
  replicas: { desired: number; launched: number; healthy: number };
  approval: ApprovalStatus;
  /** End of the rollback window (ISO time), while in it. */
  rollbackWindowEndsAt?: string;
  /** Rolling updates only: batch progress and replica counts. */
  rolling?: RollingProgress;
  /** Canary releases only: the step, the weight, the measured splits and the analysis ledger. */
  canary?: CanaryProgress;
  /** Blue-green's pre- and post-promotion analyses, with their ledgers (a canary keeps its own in `canary`). */
  analyses?: AnalysisRecord[];
  steps: StepRecord[];
  /** Recent notable events, newest last (bounded). */
  events: { at: string; message: string }[];
  outcome?: Outcome;
  reason?: string;
  /**
   * Deployments started by an OutSystems hook: when LifeTime stops waiting for the hook's result file (ISO time)
   * and the hook operation's workflow id. Filled in by the client from the deployment's memo.
   */
  hook?: { deadline: string; workflowId: string; stage: string; operationId: string };
}

export interface DeploymentResult {
  outcome: Outcome;
  reason?: string;
  liveColor: LiveSide | null;
  liveVersion: string | null;
  status: DeploymentStatus;
}

// ---- activity contracts ----

export interface LiveState {
  /**
   * Whose backend every module's rule points to: a color, "rolling" (an application last updated by a rolling
   * update, which blue-green takes over), or null when the default rule serves the modules.
   */
  liveColor: LiveSide | null;
  liveVersion: string | null;
  /** Explicit rules found, by module (absent = default rule). */
  rules: Record<string, ModuleRule>;
  replicaSets: ReplicaSetState[];
}

/** One replica set as discovery summarises it: a name and counts, never its replicas (bounded at any count). */
export interface ReplicaSetSummary {
  name: string;
  application: string;
  version: string;
  slot: Slot;
  /** Replicas the platform is asked to keep. */
  desired: number;
  /** Replicas the platform has launched. */
  launched: number;
}

/** What discovery finds, with the application's replica sets summarised (blue-green-bounded-payloads). */
export interface LiveSets extends Omit<LiveState, 'replicaSets'> {
  replicaSets: ReplicaSetSummary[];
}

export interface ModuleVerification {
  module: string;
  result: Verification;
}

// ---- rolling update ----

/** Where a rolling update stands (the `rolling` section of its status). */
export interface RollingProgress {
  /** The batch running now, or the last one completed (0 before the first). */
  batch: number;
  /** Batches in the plan (recomputed when a rollback starts). */
  batches: number;
  /** "forward" while rolling out, "rollback" while putting the old version back. */
  direction: 'forward' | 'rollback';
  /** Replicas of the version being replaced that still serve (registered). */
  old: number;
  /** Replicas of the version being rolled out that serve (registered). */
  new: number;
  /** Replicas serving traffic right now (old + new registered). */
  healthy: number;
  /** maxSurge / maxUnavailable resolved to replica counts. */
  maxSurge: number;
  maxUnavailable: number;
  /** The replica set being rolled out, and the set(s) being replaced. */
  replicaSet: string;
  replacing: string[];
  /** Workflow runs so far (continue-as-new keeps the history of each bounded). */
  run: number;
  /** History events of each earlier run, counted when it continued as new. */
  runEvents: number[];
}

/** A replica the rolling update keeps track of. */
export interface TrackedReplica {
  id: string;
  set: string;
  address: string;
}

/** What a rolling update learnt when it started, and keeps for its whole life (across runs). */
export interface RollingContext {
  /** The backend (upstream / target group) replicas are registered in: `<application>-rolling`. */
  backend: string;
  /** The replica set new replicas are launched into (version + configuration revision). */
  targetSet: string;
  /** Sets the replaced replicas belong to (retired once the update completes). */
  oldSets: string[];
  /** The old set that old-version replicas are relaunched into on rollback (null: nothing to restore). */
  restoreSet: string | null;
  /** Serving replicas of the old version when the update started: what a rollback restores. */
  oldCount: number;
  previousVersion: string | null;
  /** Nothing served the modules from containers: launch everything, then switch the modules' rules. */
  firstDeployment: boolean;
  /** The modules' rules as found (restored when a first deployment or an adoption rolls back). */
  initialRules: Record<string, ModuleRule>;
  /** The modules were served by a blue-green backend, adopted into the rolling backend. */
  adoptedFrom?: string;
  fenceposts: { surge: number; unavailable: number };
}

/**
 * The replica bookkeeping of a rolling update (workflows/rolling/book.ts), as carried across runs; at a batch boundary
 * `launching` and `draining` are empty. `old` and `new` are the versions', whichever way the update runs.
 */
export interface RollingBook {
  direction: 'forward' | 'rollback';
  /** Serving (registered) replicas of the version being replaced: rolled out forward, put back on rollback. */
  old: TrackedReplica[];
  /** Serving (registered) replicas of the version being rolled out. */
  new: TrackedReplica[];
  /** Launched, not registered yet (always into `launchSet`). */
  launching: TrackedReplica[];
  /** Deregistered, not retired yet. */
  draining: TrackedReplica[];
  /** Replica count this direction ends with. */
  desired: number;
  /** The set replicas are launched into in this direction. */
  launchSet: string;
  /** Next replica index per set (ids are chosen deterministically: `<set>-<index>`). */
  nextIndex: Record<string, number>;
  batch: number;
  batches: number;
  /** afterBatch numbers of the pauses passed. */
  pausesDone: number[];
  /** A pause whose gate was open when the run continued as new: reopened with the same deadline (epoch ms). */
  pendingPause?: { afterBatch: number; deadlineAt: number };
}

/**
 * The book as runs before the runbook rewrite carried it: `from` (serving, to replace) and `to` (serving, of the
 * version rolled to), whose versions swap when the direction turns to "rollback". Read by BatchBook.resume only.
 */
export interface LegacyRollingBook extends Omit<RollingBook, 'old' | 'new'> {
  from: TrackedReplica[];
  to: TrackedReplica[];
}

/** Replicas of one set, counted: the bounded book's unit (the activities choose which ones). */
export interface SetCount {
  set: string;
  count: number;
}

/**
 * The book of a run on the bounded-payload path (ROLLING_BOUNDED_PAYLOADS_PATCH): RollingBook with counts per replica
 * set instead of replica lists, so what a run carries does not grow with the replica count (~40 B per set).
 */
export interface CountedRollingBook extends Omit<RollingBook, 'old' | 'new' | 'launching' | 'draining' | 'nextIndex'> {
  shape: 'counts';
  old: SetCount[];
  new: SetCount[];
  /** Launched into `launchSet`, not registered yet. */
  launching: number;
  draining: SetCount[];
  /** Next replica ordinal per set: a launch numbers on from it, so no id of a retired replica comes back. */
  nextOrdinal: Record<string, number>;
}

/**
 * Everything a rolling update carries into its next run when it continues as
 * new (always at a batch boundary, possibly with a pause pending): the
 * bookkeeping, the context and the visible status (steps, events, approvals),
 * so queries and approvals keep working across runs of the same workflow id.
 */
export interface RollingCarryOver {
  status: DeploymentStatus;
  context: RollingContext;
  /** The book (runs before the runbook rewrite carried the legacy shape; bounded-payload runs the counted one). */
  book: RollingBook | LegacyRollingBook | CountedRollingBook;
  /** Why the rollback runs, when the book's direction is "rollback". */
  rollbackReason?: string;
}

/** Input of the rolling workflow: a deployment input, plus what a continued run carries over. */
export interface RollingInput extends DeploymentInput {
  /** Continue as new once a run's history reaches this many events (default 2,000; the server may suggest earlier). */
  maxHistoryEvents?: number;
  /** Set by the workflow itself when it continues as new. */
  resume?: RollingCarryOver;
}

// ---- canary (its status section and the analysis records: workflows/progress-types.ts) ----

/** What a canary carries into its next run (continue-as-new): where it is, and any analysis in progress. */
export interface CanaryCarryOver {
  status: DeploymentStatus;
  live: LiveSets;
  canaryColor: Color;
  /** 0-based index of the step to run next (an analysis step in progress: that step, resumed). */
  nextStep: number;
  scale: 'match' | 'fixed';
  /** The inline analysis of step `nextStep`, in progress. */
  analysis?: AnalysisCarry;
  /** The pause of step `nextStep`, open: when it ends (epoch ms). */
  pauseDeadline?: number;
  /** The background analysis, in progress. */
  background?: AnalysisCarry;
}

/** An analysis in progress, as the next run resumes it: when it started and what each metric has seen. */
export interface AnalysisCarry {
  /** Epoch ms: the planned ends and the sample deadline count from here. */
  startedAt: number;
  /** Index of its record in `status.canary.analyses`. */
  record: number;
  /** Per metric (compacted: every failed and inconclusive measurement, the latest others). */
  ledgers: MetricLedger[];
}

export interface CanaryInput extends DeploymentInput {
  /** Continue as new once a run's history reaches this many events (default 2,000; the server may suggest earlier). */
  maxHistoryEvents?: number;
  resume?: CanaryCarryOver;
}
