/**
 * moto for the ALB driver's tests: the starter and the ALB world live in examples/moto-stack.ts (the benchmarks use
 * them too) and are re-exported here; the rule table, target group and fault helpers below are the tests' own.
 */
import {
  DescribeTagsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { newSdkElbV2Api } from '../../activities/drivers/aws-alb';
import type { ElbV2Api } from '../../activities/drivers/aws-alb';
import { REGION } from '../../examples/moto-stack';
import type { AlbWorld } from '../../examples/moto-stack';

export { REGION, createAlbWorld, startMoto, useMotoCredentials } from '../../examples/moto-stack';
export type { AlbWorld, Moto } from '../../examples/moto-stack';

export interface RuleRow {
  priority: number | 'default';
  paths: string[];
  header?: string;
  /** "<target group name>=<weight>" */
  forward: string[];
}

/** Every rule of the listener, by priority, with target group names instead of ARNs: easy to compare. */
export async function ruleTable(world: AlbWorld): Promise<RuleRow[]> {
  const rules = await world.api.describeRules(world.listenerArn);
  return rules
    .map((r) => ({
      priority: r.priority,
      paths: r.conditions.pathPatterns,
      ...(r.conditions.httpHeader ? { header: r.conditions.httpHeader.name } : {}),
      forward: (r.forward ?? []).map((f) => `${/targetgroup\/([^/]+)\//.exec(f.targetGroupArn)?.[1]}=${f.weight}`),
    }))
    .sort((a, b) => (a.priority === 'default' ? 1 : b.priority === 'default' ? -1 : a.priority - b.priority));
}

/** A target group's name, tags and deregistration delay, or undefined if there is none of that name. */
export async function describeTargetGroup(
  world: AlbWorld,
  name: string,
): Promise<
  { arn: string; tags: Record<string, string>; deregistrationDelay: string; targetType?: string } | undefined
> {
  let found;
  try {
    found = (await world.client.send(new DescribeTargetGroupsCommand({ Names: [name] }))).TargetGroups?.[0];
  } catch {
    return undefined;
  }
  if (!found?.TargetGroupArn) return undefined;
  const arn = found.TargetGroupArn;
  const tags = (await world.client.send(new DescribeTagsCommand({ ResourceArns: [arn] }))).TagDescriptions?.[0]?.Tags;
  const attributes = (await world.client.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn })))
    .Attributes;
  return {
    arn,
    tags: Object.fromEntries((tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
    deregistrationDelay: attributes?.find((a) => a.Key === 'deregistration_delay.timeout_seconds')?.Value ?? '?',
    targetType: found.TargetType,
  };
}

/** An ElbV2Api that counts calls per operation (the SDK client with a counting middleware). */
export function countingApi(endpoint: string): {
  api: ElbV2Api;
  calls: Map<string, number>;
  total(): number;
  reset(): void;
} {
  const calls = new Map<string, number>();
  const api = newSdkElbV2Api({
    region: REGION,
    endpoint,
    onCall: (op) => calls.set(op, (calls.get(op) ?? 0) + 1),
  });
  return {
    api,
    calls,
    total: () => [...calls.values()].reduce((sum, n) => sum + n, 0),
    reset: () => calls.clear(),
  };
}

/** An ELBv2 error document as AWS sends it (Query protocol), for a fault layer answering in moto's place. */
export function elbv2ErrorBody(code: string, message: string, type: 'Sender' | 'Receiver' = 'Sender'): string {
  return (
    '<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">' +
    `<Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error>` +
    '<RequestId>00000000-0000-4000-8000-000000000000</RequestId></ErrorResponse>'
  );
}

/** Matches an ELBv2 call (Query protocol: a form POST naming its Action) whose parameters mention `mentioning`. */
export function elbv2Call(action: string, mentioning?: string): (request: { method: string; body: string }) => boolean {
  return ({ method, body }) => {
    if (method !== 'POST') return false;
    const params = new URLSearchParams(body);
    if (params.get('Action') !== action) return false;
    return mentioning === undefined || [...params.values()].some((v) => v.includes(mentioning));
  };
}
