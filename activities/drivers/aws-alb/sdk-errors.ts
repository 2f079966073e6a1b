/**
 * SDK errors as the driver's error classes: permanent ones (wrong ARN, missing permission, invalid request) become
 * CutoverErrors that the activity boundary makes non-retryable, with a message naming the operation and the
 * resource; everything else stays a plain, retryable Error.
 */
import { CutoverError, ErrorType } from '../../errors';

const NOT_FOUND = new Set([
  'ListenerNotFound',
  'LoadBalancerNotFound',
  'TargetGroupNotFound',
  'RuleNotFound',
  'ListenerNotFoundException',
  'LoadBalancerNotFoundException',
  'TargetGroupNotFoundException',
  'RuleNotFoundException',
]);

const DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'AuthFailure',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'UnrecognizedClientException',
  'MissingAuthenticationToken',
  'OptInRequired',
]);

const INVALID = new Set([
  'ValidationError',
  'InvalidConfigurationRequest',
  'InvalidConfigurationRequestException',
  'InvalidTarget',
  'InvalidTargetException',
  'InvalidLoadBalancerAction',
  'InvalidLoadBalancerActionException',
  'IncompatibleProtocols',
  'IncompatibleProtocolsException',
  'InvalidParameterValue',
  'InvalidParameterCombination',
  'MissingParameter',
  'OperationNotPermitted',
  'OperationNotPermittedException',
  'ResourceInUse',
  'ResourceInUseException',
  'DuplicateTargetGroupName',
  'DuplicateTargetGroupNameException',
  'TooManyRules',
  'TooManyRulesException',
  'TooManyTargetGroups',
  'TooManyTargetGroupsException',
  'TooManyTargets',
  'TooManyTargetsException',
  'TooManyActions',
  'TooManyActionsException',
  'TooManyTags',
  'TooManyTagsException',
  'TooManyRegistrationsForTargetId',
  'TooManyRegistrationsForTargetIdException',
  'TooManyUniqueTargetGroupsPerLoadBalancer',
  'TooManyUniqueTargetGroupsPerLoadBalancerException',
  'TargetGroupAssociationLimit',
  'TargetGroupAssociationLimitException',
]);

interface SdkError {
  name?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** The AWS error code of an SDK error ("ListenerNotFound"), without the SDK's "Exception" suffix. */
export function awsErrorCode(err: unknown): string {
  const e = (err ?? {}) as SdkError;
  return String(e.Code ?? e.name ?? 'Error').replace(/Exception$/, '');
}

export function isCode(err: unknown, ...codes: string[]): boolean {
  return codes.includes(awsErrorCode(err));
}

/** Turns an SDK error into the driver's error classes, with a message naming the operation and the resource. */
export function classifyAlbError(err: unknown, operation: string, resource: string): Error {
  const e = (err ?? {}) as SdkError;
  const code = awsErrorCode(err);
  const status = e.$metadata?.httpStatusCode;
  const detail = `ELBv2 ${operation} on ${resource} failed: ${code}: ${e.message ?? String(err)}`;
  if (code === 'PriorityInUse') return new Error(detail);
  if (NOT_FOUND.has(code) || NOT_FOUND.has(`${code}Exception`)) {
    return new CutoverError(
      ErrorType.ResourceNotFound,
      `${detail} (check the ARN in the router section of the spec, and the region)`,
    );
  }
  if (DENIED.has(code)) {
    return new CutoverError(
      ErrorType.RouterRequestRejected,
      `${detail} (the worker's AWS identity needs elasticloadbalancing:${operation}; see docs/routers.md, "IAM permissions")`,
    );
  }
  if (INVALID.has(code) || INVALID.has(`${code}Exception`)) {
    return new CutoverError(ErrorType.RouterRequestRejected, detail);
  }
  // Throttling and 5xx have already been retried by the SDK; the activity retries them again.
  return new Error(status ? `${detail} (HTTP ${status})` : detail);
}
