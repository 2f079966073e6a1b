/** Validates a workflow's spec input as its first step; a bad spec fails at once, naming every field. */
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../activities/errors';
import { formatSpecIssues, validateSpec } from './spec';
import type { DeploymentSpec } from './spec';

export function parseSpecFor<T extends DeploymentSpec>(
  raw: unknown,
  strategy: string,
  isStrategy: (spec: DeploymentSpec) => spec is T,
): T {
  const result = validateSpec(raw);
  if (!result.ok) {
    throw ApplicationFailure.create({
      type: ErrorType.SpecInvalid,
      message: `invalid deployment spec: ${formatSpecIssues(result.issues)}`,
      nonRetryable: true,
      details: [result.issues],
    });
  }
  if (!isStrategy(result.spec)) {
    throw ApplicationFailure.create({
      type: ErrorType.SpecInvalid,
      message: `strategy.type: expected "${strategy}" for this workflow, got "${result.spec.strategy.type}"`,
      nonRetryable: true,
    });
  }
  return result.spec;
}
