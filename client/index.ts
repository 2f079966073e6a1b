/**
 * Cutover's public API for integrators: the typed client, the spec schema
 * and its types, the messages, and the status/result shapes.
 */
export { CutoverClient, DeploymentAlreadyRunningError, SpecInvalidError } from './client';
export type { DeploymentSummary, StartOptions } from './client';
export { temporalConfigFromEnv } from './connection';
export type { TemporalConfig } from './connection';
export { deploymentSpecSchema, formatSpecIssues, parseDuration, validateSpec } from '../workflows/spec';
export type { DeploymentSpec, DeploymentSpecInput, SpecIssue, SpecResult } from '../workflows/spec';
export type { ApproveInput, DecisionInput, PromoteInput, PromoteResult } from '../workflows/messages';
export { deploymentId, TASK_QUEUE, WORKFLOW_TYPES } from '../workflows/types';
export type {
  ApprovalStatus,
  Decision,
  DeploymentInput,
  DeploymentResult,
  DeploymentStatus,
  Outcome,
  Phase,
  StepRecord,
} from '../workflows/types';
