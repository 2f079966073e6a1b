/**
 * A workflow's spec, as its first step: a spec normalised before start is used as recorded; a spec as written (the
 * Temporal UI) is validated here, and a bad one fails at once, naming every field.
 */
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../activities/errors';
import { formatSpecIssues, validateSpec } from './spec';
import type { DeploymentSpec } from './spec';

export function parseSpecFor<T extends DeploymentSpec>(
  input: { spec?: unknown; specNormalized?: boolean } | undefined,
  strategy: string,
  isStrategy: (spec: DeploymentSpec) => spec is T,
): T {
  if (input?.specNormalized === true && typeof input.spec === 'object' && input.spec !== null) {
    // Validated once before start and recorded in the start event: the schema of today must not re-interpret it.
    const spec = input.spec as DeploymentSpec;
    if (typeof spec.strategy !== 'object' || spec.strategy === null || !isStrategy(spec)) {
      throw wrongStrategy(strategy, spec);
    }
    return spec;
  }
  const result = validateSpec(input?.spec);
  if (!result.ok) {
    throw ApplicationFailure.create({
      type: ErrorType.SpecInvalid,
      message: `invalid deployment spec: ${formatSpecIssues(result.issues)}`,
      nonRetryable: true,
      details: [result.issues],
    });
  }
  if (!isStrategy(result.spec)) throw wrongStrategy(strategy, result.spec);
  return result.spec;
}

function wrongStrategy(strategy: string, spec: DeploymentSpec): ApplicationFailure {
  return ApplicationFailure.create({
    type: ErrorType.SpecInvalid,
    message: `strategy.type: expected "${strategy}" for this workflow, got "${spec.strategy?.type}"`,
    nonRetryable: true,
  });
}
