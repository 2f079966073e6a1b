/**
 * Typed errors with stable names. Permanent problems are thrown from
 * activities as non-retryable ApplicationFailures whose `type` is one of
 * these names; workflows match on `failure.type`, never on `instanceof`.
 * Everything else is retried with backoff.
 *
 * Pure module (only @temporalio/common): workflows may import the names.
 */
import { ApplicationFailure } from '@temporalio/common';

export const ErrorType = {
  /** The deployment spec failed validation. */
  SpecInvalid: 'SpecInvalidError',
  /** Replicas did not become healthy before the deadline. */
  ReplicasUnhealthy: 'ReplicasUnhealthyError',
  /** The router's rules do not read back as written. */
  RuleReadbackMismatch: 'RuleReadbackMismatchError',
  /** The router rejected a request (bad backend, invalid rule, missing permission...). */
  RouterRequestRejected: 'RouterRequestRejectedError',
  /** The platform rejected a request (bad command, unknown replica set...). */
  PlatformRequestRejected: 'PlatformRequestRejectedError',
  /** Modules route to a mix of colors/backends that Cutover did not create. */
  InconsistentRouting: 'InconsistentRoutingError',
  /** A driver kind named in the spec is not available in this worker. */
  DriverUnavailable: 'DriverUnavailableError',
  /** A referenced cloud resource (target group, listener...) does not exist. */
  ResourceNotFound: 'ResourceNotFoundError',
  /** An OutSystems bundle is missing, unreadable, too large, or holds an entry that would escape its directory. */
  BundleInvalid: 'BundleInvalidError',
  /** A hook profile's build command failed. */
  BuildFailed: 'BuildFailedError',
  /** A Container Run / Update Configurations found no build or release to deploy. */
  BuildNotFound: 'BuildNotFoundError',
  /** A hook path (TargetPath, ResultPath, ConfigPath) is outside the configured roots. */
  HookPathRejected: 'HookPathRejectedError',
  /** The router lacks an optional capability the deployment needs (preview routes, weighted rules). */
  NotSupported: 'NotSupportedError',
  /** A rolling batch made no progress (no new replica became healthy) within the progress deadline. */
  ProgressDeadlineExceeded: 'ProgressDeadlineExceededError',
  /** A canary analysis condition (CEL) does not parse, fails on the measured value's type, or is not a bool. */
  AnalysisCondition: 'AnalysisConditionError',
  /** A canary analysis provider string names an `{{args.<name>}}` the workflow does not pass. */
  AnalysisArgUnknown: 'AnalysisArgUnknownError',
  /** A metrics provider refused the query itself (invalid PromQL, metric math, JSONPath): retrying cannot help. */
  AnalysisQueryRejected: 'AnalysisQueryRejectedError',
} as const;

export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

/** Every permanent error type: activity presets list these as non-retryable. */
export const NON_RETRYABLE_ERROR_TYPES: string[] = Object.values(ErrorType);

/** Throws-ready non-retryable failure of a stable type. */
export function permanentFailure(type: ErrorTypeName, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: true,
    details: details === undefined ? undefined : [details],
  });
}

/**
 * Drivers throw plain Errors whose `name` is one of the stable names for
 * permanent problems; this turns them into non-retryable failures at the
 * activity boundary and lets everything else through (retried).
 */
export function classifyError(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof Error && NON_RETRYABLE_ERROR_TYPES.includes(err.name)) {
    return permanentFailure(err.name as ErrorTypeName, err.message);
  }
  return err;
}

/** A driver-side error with a stable name (see ErrorType). */
export class CutoverError extends Error {
  constructor(type: ErrorTypeName, message: string) {
    super(message);
    this.name = type;
  }
}
