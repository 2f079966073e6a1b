/**
 * ElbV2Api over the AWS SDK v3. With sdk-shapes.ts (translation both ways: `toAlbActions()`, `fromAlbRule()`, ...)
 * and sdk-errors.ts (SDK errors as the driver's error classes: permanent ones become CutoverErrors that the activity
 * boundary makes non-retryable; everything else stays a plain, retryable Error), the only files that see SDK types.
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
import { CutoverError, ErrorType } from '../../errors';
import type { AlbRule, ElbV2Api, NewRule, NewTargetGroup } from './api';
import { PriorityInUseError } from './api';
import { classifyAlbError, isCode } from './sdk-errors';
import {
  fromAlbForward,
  fromAlbRule,
  fromAlbTargetGroup,
  fromAlbTargetHealth,
  toAlbActions,
  toAlbConditions,
  toAlbTags,
  toAlbTargets,
} from './sdk-shapes';

export { awsErrorCode, classifyAlbError } from './sdk-errors';

export interface SdkElbV2Options {
  region: string;
  /** Another endpoint (moto in tests). */
  endpoint?: string;
  /** Attempts per call, retries included (SDK standard retry mode). Default 6. */
  maxAttempts?: number;
  /** Called once per API call (not per retry attempt) with the operation name, e.g. to count calls. */
  onCall?: (operation: string) => void;
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
