/**
 * ElbV2Api over the AWS SDK v3 — the only file of the driver that sees SDK types. Translates in both directions
 * (`toAlbActions()`, `toAlbConditions()`, `fromAlbRule()`, ...) and turns SDK errors into the driver's error
 * classes: permanent ones (wrong ARN, missing permission, invalid request) become CutoverErrors that the activity
 * boundary makes non-retryable; everything else stays a plain, retryable Error.
 *
 * Credentials come only from the standard AWS chain (environment, shared config/SSO profile, web identity, ECS/EC2
 * metadata): never from the spec, which lands in workflow history.
 *
 * Retries: the SDK's standard mode retries throttling and 5xx/transient errors itself (exponential backoff with
 * jitter, `maxAttempts` in all); what still fails is retried by the activity's own policy.
 */
import {
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DeleteRuleCommand,
  DeleteTargetGroupCommand,
  DeregisterTargetsCommand,
  DescribeListenersCommand,
  DescribeRulesCommand,
  DescribeTagsCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyRuleCommand,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type {
  Action,
  Rule,
  RuleCondition,
  Tag,
  TargetDescription,
  TargetGroup,
  TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { CutoverError, ErrorType } from '../../errors';
import type {
  AlbConditions,
  AlbForward,
  AlbRule,
  AlbTarget,
  AlbTargetGroup,
  AlbTargetHealth,
  ElbV2Api,
  NewRule,
  NewTargetGroup,
} from './api';
import { PriorityInUseError } from './api';

export interface SdkElbV2Options {
  region: string;
  /** Another endpoint (moto in tests). */
  endpoint?: string;
  /** Attempts per call, retries included (SDK standard retry mode). Default 6. */
  maxAttempts?: number;
  /** Called once per API call (not per retry attempt) with the operation name, e.g. to count calls. */
  onCall?: (operation: string) => void;
}

// ---- translation: driver shapes <-> SDK shapes ----

export function toAlbActions(forward: AlbForward[]): Action[] {
  return [
    {
      Type: 'forward',
      ForwardConfig: {
        TargetGroups: forward.map((f) => ({ TargetGroupArn: f.targetGroupArn, Weight: f.weight })),
        TargetGroupStickinessConfig: { Enabled: false },
      },
    },
  ];
}

export function toAlbConditions(rule: Pick<NewRule, 'pathPatterns' | 'httpHeader'>): RuleCondition[] {
  const conditions: RuleCondition[] = [{ Field: 'path-pattern', PathPatternConfig: { Values: rule.pathPatterns } }];
  if (rule.httpHeader) {
    conditions.push({
      Field: 'http-header',
      HttpHeaderConfig: { HttpHeaderName: rule.httpHeader.name, Values: rule.httpHeader.values },
    });
  }
  return conditions;
}

function toAlbTags(tags: Record<string, string>): Tag[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

function toAlbTargets(targets: AlbTarget[]): TargetDescription[] {
  return targets.map((t) => ({ Id: t.id, Port: t.port }));
}

/** The target groups an action forwards to (a plain TargetGroupArn counts as weight 100). */
function fromAlbForward(action: Action): AlbForward[] | undefined {
  if (action.Type !== 'forward') return undefined;
  const tuples = action.ForwardConfig?.TargetGroups;
  if (tuples && tuples.length > 0) {
    return tuples
      .filter((t) => t.TargetGroupArn)
      .map((t) => ({ targetGroupArn: t.TargetGroupArn as string, weight: t.Weight ?? 1 }));
  }
  if (action.TargetGroupArn) return [{ targetGroupArn: action.TargetGroupArn, weight: 100 }];
  return undefined;
}

export function fromAlbConditions(conditions: RuleCondition[] = []): AlbConditions {
  const out: AlbConditions = { pathPatterns: [], other: false };
  let paths = 0;
  for (const c of conditions) {
    if (c.Field === 'path-pattern') {
      paths++;
      out.pathPatterns = c.PathPatternConfig?.Values ?? c.Values ?? [];
      if (c.RegexValues?.length) out.other = true;
    } else if (c.Field === 'http-header' && c.HttpHeaderConfig?.HttpHeaderName && !out.httpHeader) {
      out.httpHeader = { name: c.HttpHeaderConfig.HttpHeaderName, values: c.HttpHeaderConfig.Values ?? [] };
    } else {
      out.other = true;
    }
  }
  if (paths > 1) out.other = true;
  return out;
}

export function fromAlbRule(rule: Rule): AlbRule {
  const actions = rule.Actions ?? [];
  const forward = actions.length === 1 && actions[0] ? fromAlbForward(actions[0]) : undefined;
  const priority = rule.IsDefault || rule.Priority === 'default' ? 'default' : Number(rule.Priority);
  return {
    arn: rule.RuleArn ?? '',
    priority,
    conditions: fromAlbConditions(rule.Conditions),
    forward,
    actionTypes: actions.map((a) => String(a.Type)),
  };
}

function fromAlbTargetGroup(tg: TargetGroup): AlbTargetGroup {
  return {
    arn: tg.TargetGroupArn ?? '',
    name: tg.TargetGroupName ?? '',
    ...(tg.VpcId ? { vpcId: tg.VpcId } : {}),
    ...(tg.Port !== undefined ? { port: tg.Port } : {}),
    ...(tg.Protocol ? { protocol: tg.Protocol } : {}),
    ...(tg.TargetType ? { targetType: tg.TargetType } : {}),
  };
}

function fromAlbTargetHealth(d: TargetHealthDescription): AlbTargetHealth {
  return {
    target: { id: d.Target?.Id ?? '', port: d.Target?.Port ?? 0 },
    state: d.TargetHealth?.State ?? 'unavailable',
    ...(d.TargetHealth?.Reason ? { reason: d.TargetHealth.Reason } : {}),
    ...(d.TargetHealth?.Description ? { description: d.TargetHealth.Description } : {}),
  };
}

// ---- errors ----

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

function isCode(err: unknown, ...codes: string[]): boolean {
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

// ---- the client ----

export function newSdkElbV2Api(options: SdkElbV2Options): ElbV2Api {
  const client = new ElasticLoadBalancingV2Client({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    maxAttempts: options.maxAttempts ?? 6,
    retryMode: 'standard',
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 15_000 },
  });
  if (options.onCall) {
    const onCall = options.onCall;
    client.middlewareStack.add(
      (next, context) => (args) => {
        onCall(String(context.commandName ?? 'unknown').replace(/Command$/, ''));
        return next(args);
      },
      { step: 'initialize', name: 'cutoverCallCounter' },
    );
  }

  async function call<T>(operation: string, resource: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw classifyAlbError(err, operation, resource);
    }
  }

  const api: ElbV2Api = {
    async describeListener(listenerArn) {
      const out = await call('DescribeListeners', listenerArn, () =>
        client.send(new DescribeListenersCommand({ ListenerArns: [listenerArn] })),
      );
      const listener = out.Listeners?.[0];
      if (!listener) throw new CutoverError(ErrorType.ResourceNotFound, `listener ${listenerArn} does not exist`);
      const action = listener.DefaultActions?.length === 1 ? listener.DefaultActions[0] : undefined;
      return {
        arn: listener.ListenerArn ?? listenerArn,
        loadBalancerArn: listener.LoadBalancerArn ?? '',
        defaultForward: action ? fromAlbForward(action) : undefined,
      };
    },

    async describeRules(listenerArn) {
      const rules: AlbRule[] = [];
      let marker: string | undefined;
      do {
        const out = await call('DescribeRules', listenerArn, () =>
          client.send(new DescribeRulesCommand({ ListenerArn: listenerArn, PageSize: 400, Marker: marker })),
        );
        rules.push(...(out.Rules ?? []).map(fromAlbRule));
        marker = out.NextMarker;
      } while (marker);
      return rules;
    },

    async createRule(rule: NewRule) {
      try {
        const out = await client.send(
          new CreateRuleCommand({
            ListenerArn: rule.listenerArn,
            Priority: rule.priority,
            Conditions: toAlbConditions(rule),
            Actions: toAlbActions(rule.forward),
            Tags: toAlbTags(rule.tags),
          }),
        );
        const created = out.Rules?.[0];
        if (!created) throw new Error(`ELBv2 CreateRule on ${rule.listenerArn} returned no rule`);
        return fromAlbRule(created);
      } catch (err) {
        if (isCode(err, 'PriorityInUse')) throw new PriorityInUseError(rule.priority);
        if (err instanceof Error && !('$metadata' in err)) throw err;
        throw classifyAlbError(err, 'CreateRule', `${rule.listenerArn} (priority ${rule.priority})`);
      }
    },

    async modifyRuleForward(ruleArn, forward) {
      let out;
      try {
        out = await client.send(new ModifyRuleCommand({ RuleArn: ruleArn, Actions: toAlbActions(forward) }));
      } catch (err) {
        // The rule vanished between reading and writing (someone deleted it): retry from a fresh read.
        if (isCode(err, 'RuleNotFound')) throw new Error(`ELBv2 ModifyRule: rule ${ruleArn} no longer exists`);
        throw classifyAlbError(err, 'ModifyRule', ruleArn);
      }
      const modified = out.Rules?.[0];
      if (!modified) throw new Error(`ELBv2 ModifyRule on ${ruleArn} returned no rule`);
      return fromAlbRule(modified);
    },

    async deleteRule(ruleArn) {
      try {
        await client.send(new DeleteRuleCommand({ RuleArn: ruleArn }));
      } catch (err) {
        if (isCode(err, 'RuleNotFound')) return;
        throw classifyAlbError(err, 'DeleteRule', ruleArn);
      }
    },

    async findTargetGroup(name) {
      try {
        const out = await client.send(new DescribeTargetGroupsCommand({ Names: [name] }));
        const tg = out.TargetGroups?.[0];
        return tg ? fromAlbTargetGroup(tg) : undefined;
      } catch (err) {
        if (isCode(err, 'TargetGroupNotFound')) return undefined;
        throw classifyAlbError(err, 'DescribeTargetGroups', `target group ${name}`);
      }
    },

    async createTargetGroup(spec: NewTargetGroup) {
      try {
        const out = await client.send(
          new CreateTargetGroupCommand({
            Name: spec.name,
            Protocol: spec.protocol,
            ProtocolVersion: 'HTTP1',
            Port: spec.port,
            VpcId: spec.vpcId,
            TargetType: 'ip',
            HealthCheckEnabled: true,
            HealthCheckProtocol: spec.protocol,
            HealthCheckPath: spec.healthCheck.path,
            HealthCheckIntervalSeconds: spec.healthCheck.intervalSeconds,
            HealthCheckTimeoutSeconds: spec.healthCheck.timeoutSeconds,
            HealthyThresholdCount: spec.healthCheck.healthyThreshold,
            UnhealthyThresholdCount: spec.healthCheck.unhealthyThreshold,
            Matcher: { HttpCode: spec.healthCheck.matcher },
            Tags: toAlbTags(spec.tags),
          }),
        );
        const tg = out.TargetGroups?.[0];
        if (!tg) throw new Error(`ELBv2 CreateTargetGroup ${spec.name} returned no target group`);
        return { ...fromAlbTargetGroup(tg), existed: false };
      } catch (err) {
        // A retried call (or a concurrent worker) created it first: AWS answers so when the settings differ.
        if (isCode(err, 'DuplicateTargetGroupName')) {
          const existing = await api.findTargetGroup(spec.name);
          if (existing) return { ...existing, existed: true };
        }
        if (err instanceof Error && !('$metadata' in err)) throw err;
        throw classifyAlbError(err, 'CreateTargetGroup', `target group ${spec.name}`);
      }
    },

    async setDeregistrationDelay(targetGroupArn, seconds) {
      await call('ModifyTargetGroupAttributes', targetGroupArn, () =>
        client.send(
          new ModifyTargetGroupAttributesCommand({
            TargetGroupArn: targetGroupArn,
            Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: String(seconds) }],
          }),
        ),
      );
    },

    async deleteTargetGroup(targetGroupArn) {
      try {
        await client.send(new DeleteTargetGroupCommand({ TargetGroupArn: targetGroupArn }));
      } catch (err) {
        if (isCode(err, 'TargetGroupNotFound')) return;
        throw classifyAlbError(err, 'DeleteTargetGroup', targetGroupArn);
      }
    },

    async describeTags(arns) {
      const out: Record<string, Record<string, string>> = {};
      for (let i = 0; i < arns.length; i += 20) {
        const batch = arns.slice(i, i + 20);
        const page = await call('DescribeTags', batch.join(', '), () =>
          client.send(new DescribeTagsCommand({ ResourceArns: batch })),
        );
        for (const d of page.TagDescriptions ?? []) {
          if (!d.ResourceArn) continue;
          out[d.ResourceArn] = Object.fromEntries((d.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
        }
      }
      return out;
    },

    async registerTargets(targetGroupArn, targets) {
      await call('RegisterTargets', targetGroupArn, () =>
        client.send(new RegisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: toAlbTargets(targets) })),
      );
    },

    async deregisterTargets(targetGroupArn, targets) {
      await call('DeregisterTargets', targetGroupArn, () =>
        client.send(new DeregisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: toAlbTargets(targets) })),
      );
    },

    async describeTargetHealth(targetGroupArn) {
      const out = await call('DescribeTargetHealth', targetGroupArn, () =>
        client.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn })),
      );
      return (out.TargetHealthDescriptions ?? []).map(fromAlbTargetHealth);
    },
  };
  return api;
}
