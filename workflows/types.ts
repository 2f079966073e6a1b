/**
 * Contract types shared by workflows, activities and clients: inputs, results,
 * status and phases. Pure types (plus a few constants); safe in workflow code.
 */
import type { Color, ModuleRule, ReplicaSetState, Verification } from '../activities/ports';
import type { DeploymentSpec, DeploymentSpecInput } from './spec';

export const TASK_QUEUE = 'cutover';

/** Workflow type names, as typed into the Temporal UI's Start Workflow form. */
export const WORKFLOW_TYPES = {
  blueGreen: 'blueGreenDeployment',
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
  | 'RetiringOld'
  | 'RollingBack'
  | 'Succeeded'
  | 'RolledBack'
  | 'Failed';

export const FINAL_PHASES: readonly Phase[] = ['Succeeded', 'RolledBack', 'Failed'];

export type Outcome = 'succeeded' | 'rolled-back' | 'failed';

/** Workflow input: the spec as written (validated again inside the workflow, so UI-started runs are safe too). */
export interface DeploymentInput {
  spec: DeploymentSpecInput | DeploymentSpec;
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
  strategy: 'blue-green';
  version: string;
  phase: Phase;
  /** The color serving production traffic now; null = the platform server (default rule). */
  liveColor: Color | null;
  liveVersion: string | null;
  previousVersion: string | null;
  targetColor: Color | null;
  replicas: { desired: number; launched: number; healthy: number };
  approval: ApprovalStatus;
  /** End of the rollback window (ISO time), while in it. */
  rollbackWindowEndsAt?: string;
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
  liveColor: Color | null;
  liveVersion: string | null;
  status: DeploymentStatus;
}

// ---- activity contracts ----

export interface LiveState {
  /** Color whose backend every module's rule points to; null when the default rule serves the modules. */
  liveColor: Color | null;
  liveVersion: string | null;
  /** Explicit rules found, by module (absent = default rule). */
  rules: Record<string, ModuleRule>;
  replicaSets: ReplicaSetState[];
}

export interface ModuleVerification {
  module: string;
  result: Verification;
}
