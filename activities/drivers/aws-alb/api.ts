/**
 * The narrow ELBv2 interface the ALB driver needs (like Argo Rollouts' `ELBv2APIClient` in `utils/aws`): only the
 * calls it makes, in the driver's own terms. `sdk.ts` implements it over `@aws-sdk/client-elastic-load-balancing-v2`
 * (the only file that sees SDK types); tests implement it with stubs.
 *
 * Every method throws either a CutoverError (permanent: wrong ARN, missing permission, invalid request), a
 * PriorityInUseError, or a plain Error (transient: throttling and 5xx after the SDK's own retries, network).
 */

/** One target group behind a forward action, with its weight (0..999). */
export interface AlbForward {
  targetGroupArn: string;
  weight: number;
}

/** The conditions of a rule, as far as the driver understands them. */
export interface AlbConditions {
  /** Values of the rule's path-pattern condition (empty when it has none). */
  pathPatterns: string[];
  /** The rule's http-header condition, if any. */
  httpHeader?: { name: string; values: string[] };
  /** True when the rule has any other condition (host-header, query-string, ..., or two path conditions). */
  other: boolean;
}

export interface AlbRule {
  arn: string;
  /** 1..50000, or "default" for the listener's default rule. */
  priority: number | 'default';
  conditions: AlbConditions;
  /** The forward action's target groups; undefined when the rule does anything else (redirect, authenticate, ...). */
  forward: AlbForward[] | undefined;
  /** Action types of a rule that does not only forward (for messages). */
  actionTypes: string[];
}

export interface AlbListener {
  arn: string;
  loadBalancerArn: string;
  /** Target groups of the default action, when it is a forward action. */
  defaultForward: AlbForward[] | undefined;
}

export interface AlbTargetGroup {
  arn: string;
  name: string;
  vpcId?: string;
  port?: number;
  protocol?: string;
  targetType?: string;
}

/** A registered target: an IP address (target type `ip`) and a port. */
export interface AlbTarget {
  id: string;
  port: number;
}

/** initial | healthy | unhealthy | unused | draining | unavailable (kept open: AWS may add states). */
export type AlbTargetState = string;

export interface AlbTargetHealth {
  target: AlbTarget;
  state: AlbTargetState;
  /** e.g. Target.NotInUse, Target.ResponseCodeMismatch, Target.DeregistrationInProgress. */
  reason?: string;
  description?: string;
}

export interface NewTargetGroup {
  name: string;
  vpcId: string;
  port: number;
  protocol: 'HTTP' | 'HTTPS';
  healthCheck: {
    path: string;
    intervalSeconds: number;
    timeoutSeconds: number;
    healthyThreshold: number;
    unhealthyThreshold: number;
    matcher: string;
  };
  tags: Record<string, string>;
}

export interface NewRule {
  listenerArn: string;
  priority: number;
  pathPatterns: string[];
  httpHeader?: { name: string; values: string[] };
  forward: AlbForward[];
  tags: Record<string, string>;
}

export interface ElbV2Api {
  /** DescribeListeners for one listener. */
  describeListener(listenerArn: string): Promise<AlbListener>;
  /** DescribeRules of a listener (every page), the default rule included. */
  describeRules(listenerArn: string): Promise<AlbRule[]>;
  /** CreateRule; throws PriorityInUseError when the priority is taken. */
  createRule(rule: NewRule): Promise<AlbRule>;
  /** ModifyRule: replaces the actions with one forward action; the conditions stay as they are. */
  modifyRuleForward(ruleArn: string, forward: AlbForward[]): Promise<AlbRule>;
  /** DeleteRule; a no-op when the rule is already gone. */
  deleteRule(ruleArn: string): Promise<void>;
  /** DescribeTargetGroups by name; undefined when there is none. */
  findTargetGroup(name: string): Promise<AlbTargetGroup | undefined>;
  /** CreateTargetGroup (target type ip); returns the existing group when one of that name exists already. */
  createTargetGroup(spec: NewTargetGroup): Promise<AlbTargetGroup & { existed: boolean }>;
  /** ModifyTargetGroupAttributes: deregistration_delay.timeout_seconds. */
  setDeregistrationDelay(targetGroupArn: string, seconds: number): Promise<void>;
  /** DeleteTargetGroup; a no-op when it is already gone. */
  deleteTargetGroup(targetGroupArn: string): Promise<void>;
  /** DescribeTags (any number of ARNs: batched by 20). */
  describeTags(arns: string[]): Promise<Record<string, Record<string, string>>>;
  registerTargets(targetGroupArn: string, targets: AlbTarget[]): Promise<void>;
  deregisterTargets(targetGroupArn: string, targets: AlbTarget[]): Promise<void>;
  /** DescribeTargetHealth of every registered target. */
  describeTargetHealth(targetGroupArn: string): Promise<AlbTargetHealth[]>;
}

/** CreateRule refused the priority: another rule (maybe ours, from a retried call) holds it. */
export class PriorityInUseError extends Error {
  constructor(readonly priority: number) {
    super(`rule priority ${priority} is in use`);
    this.name = 'PriorityInUseError';
  }
}

/** Tags on what Cutover creates. */
export const TAG_MANAGED_BY = 'cutover:managed-by';
export const TAG_BACKEND = 'cutover:backend';
export const TAG_MODULE = 'cutover:module';
export const TAG_ROLE = 'cutover:role';
