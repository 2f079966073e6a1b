/**
 * A workflow's spec, as its first step. A spec normalised before start (the client, the CLI) is used as recorded. A
 * spec as written (the Temporal UI) is normalised by the `normalizeSpec` local activity, whose result the history
 * records, so a later schema change cannot change the run; a bad one fails at once, naming every field. Runs started
 * before that patch validated in the workflow itself, and replay that way.
 */
import { ApplicationFailure } from '@temporalio/common';
import { patched, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { ErrorType } from '../activities/errors';
import { formatSpecIssues, validateSpec } from './spec';
import type { DeploymentSpec, SpecResult } from './spec';

/** A spec as written is normalised by a local activity (recorded) instead of by the workflow's own copy of the schema. */
export const SPEC_RECORDED_PATCH = 'spec-normalized-by-local-activity';

/** The schema is pure code: quick, and retried only against a worker that crashed meanwhile. */
const specCall = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 5 },
});

type SpecInput = { spec?: unknown; specNormalized?: boolean } | undefined;

/** The spec of a run: as recorded, else normalised once by the local activity (recorded in the history). */
export async function specFor<T extends DeploymentSpec>(
  input: SpecInput,
  strategy: string,
  isStrategy: (spec: DeploymentSpec) => spec is T,
): Promise<T> {
  if (input?.specNormalized === true || !patched(SPEC_RECORDED_PATCH)) {
    return parseSpecFor(input, strategy, isStrategy);
  }
  return checkedSpec(await normalizeSpec(input?.spec), strategy, isStrategy);
}

/** Normalises a spec as written through the recorded local activity (hook operations build their deployments' specs). */
export function normalizeSpec(spec: unknown): Promise<SpecResult> {
  return specCall.normalizeSpec({ spec });
}

/** Synchronous: a normalised spec as recorded, or a spec as written validated by the workflow's copy of the schema. */
export function parseSpecFor<T extends DeploymentSpec>(
  input: SpecInput,
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
  return checkedSpec(validateSpec(input?.spec), strategy, isStrategy);
}

function checkedSpec<T extends DeploymentSpec>(
  result: SpecResult,
  strategy: string,
  isStrategy: (spec: DeploymentSpec) => spec is T,
): T {
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
