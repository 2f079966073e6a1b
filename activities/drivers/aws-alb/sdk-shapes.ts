/**
 * Translation between the driver's shapes (./api) and the AWS SDK's, in both directions: `toAlbActions()`,
 * `toAlbConditions()`, `fromAlbRule()`, ... With sdk.ts and sdk-errors.ts, the only files that see SDK types.
 */
import type {
  Action,
  Rule,
  RuleCondition,
  Tag,
  TargetDescription,
  TargetGroup,
  TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { AlbConditions, AlbForward, AlbRule, AlbTarget, AlbTargetGroup, AlbTargetHealth, NewRule } from './api';

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

export function toAlbTags(tags: Record<string, string>): Tag[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

export function toAlbTargets(targets: AlbTarget[]): TargetDescription[] {
  return targets.map((t) => ({ Id: t.id, Port: t.port }));
}

/** The target groups an action forwards to (a plain TargetGroupArn counts as weight 100). */
export function fromAlbForward(action: Action): AlbForward[] | undefined {
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

export function fromAlbTargetGroup(tg: TargetGroup): AlbTargetGroup {
  return {
    arn: tg.TargetGroupArn ?? '',
    name: tg.TargetGroupName ?? '',
    ...(tg.VpcId ? { vpcId: tg.VpcId } : {}),
    ...(tg.Port !== undefined ? { port: tg.Port } : {}),
    ...(tg.Protocol ? { protocol: tg.Protocol } : {}),
    ...(tg.TargetType ? { targetType: tg.TargetType } : {}),
  };
}

export function fromAlbTargetHealth(d: TargetHealthDescription): AlbTargetHealth {
  return {
    target: { id: d.Target?.Id ?? '', port: d.Target?.Port ?? 0 },
    state: d.TargetHealth?.State ?? 'unavailable',
    ...(d.TargetHealth?.Reason ? { reason: d.TargetHealth.Reason } : {}),
    ...(d.TargetHealth?.Description ? { description: d.TargetHealth.Description } : {}),
  };
}
