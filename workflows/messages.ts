/**
 * Messages every deployment workflow understands. Defined once; the wire name
 * is the constant's stem, so the Temporal UI's signal form takes "approve",
 * "reject", "abort", "rollback", the query form "status", the update "promote".
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { DeploymentStatus } from './types';

export interface ApproveInput {
  /** Who approves (required: approvals are an audit trail). */
  by: string;
  /** If given, must equal the version being deployed, or the approval is ignored. */
  version?: string;
  comment?: string;
}

export interface DecisionInput {
  by: string;
  reason?: string;
}

export interface PromoteInput {
  by: string;
  /** The version the caller believes it is promoting; refused if it is not the one waiting. */
  version: string;
  comment?: string;
}

export interface MetricDryRunInput {
  /** The analysis metric's name (as in the spec's template). */
  metric: string;
  /** Who switches it (recorded). */
  by: string;
  reason?: string;
}

export interface PromoteResult {
  accepted: true;
  version: string;
  phase: string;
}

/** Approve the deployment waiting at its approval gate. Ignored (and recorded) at any other time. */
export const approveSignal = defineSignal<[ApproveInput]>('approve');
/** Reject at the approval gate: the deployment rolls back. */
export const rejectSignal = defineSignal<[DecisionInput]>('reject');
/** Abort at any stage: everything done so far is undone, in reverse. */
export const abortSignal = defineSignal<[DecisionInput]>('abort');
/** Switch traffic back to the previous version during the rollback window. */
export const rollbackSignal = defineSignal<[DecisionInput]>('rollback');
/** Approve with an answer: refused unless waiting for approval of exactly this version. */
export const promoteUpdate = defineUpdate<PromoteResult, [PromoteInput]>('promote');
/** Canary releases: the metric is still measured and shown, but no longer decides (recorded with who sent it). */
export const metricDryRunSignal = defineSignal<[MetricDryRunInput]>('metricDryRun');
/** Phase, steps, replica counts, live color, approvals, pending gate. */
export const statusQuery = defineQuery<DeploymentStatus>('status');
