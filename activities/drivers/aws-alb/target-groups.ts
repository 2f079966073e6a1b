/**
 * Which target group is which backend, for the ALB router: pre-created groups (router.targetGroupArns), groups found
 * by their deterministic name and Cutover's tag, groups created from the targetGroups policy, and the platform
 * server's group behind the listener's default action (backend "default"). Remembers what it resolved, per driver.
 */
import { CutoverError, ErrorType } from '../../errors';
import type { AlbRule, AlbTargetGroup, ElbV2Api } from './api';
import { TAG_BACKEND, TAG_MANAGED_BY } from './api';
import type { AwsAlbRouterConfig } from './config';
import { DEFAULT_BACKEND } from './config';
import { targetGroupName, targetGroupNameFromArn } from './naming';

export interface ResolvedGroup {
  arn: string;
  /** Pre-created (named in targetGroupArns): never deleted, only emptied. */
  preCreated: boolean;
  protocol: string;
}

export class TargetGroups {
  private readonly groups = new Map<string, ResolvedGroup>();
  private readonly backendByArn = new Map<string, string>();
  /** The platform server's target group ARN; null once looked up and not found (the default action is no forward). */
  private platformArn: string | null | undefined;

  constructor(
    private readonly config: AwsAlbRouterConfig,
    private readonly api: ElbV2Api,
  ) {
    for (const [backend, arn] of Object.entries(config.targetGroupArns ?? {})) {
      this.groups.set(backend, { arn, preCreated: true, protocol: 'HTTP' });
      this.backendByArn.set(arn, backend);
    }
  }

  /** The target group a rule may forward to: "default" is the platform server's; others must exist already. */
  async arnForRule(backend: string): Promise<string> {
    if (backend === DEFAULT_BACKEND) {
      const platform = await this.platformTargetGroup();
      if (!platform) {
        throw new CutoverError(
          ErrorType.RouterRequestRejected,
          'backend "default": the listener\'s default action does not forward to a target group; set router.platformTargetGroupArn',
        );
      }
      return platform;
    }
    const group = await this.group(backend, false);
    if (!group) throw unknownBackend(backend);
    return group.arn;
  }

  async platformTargetGroup(): Promise<string | undefined> {
    if (this.platformArn === undefined) {
      if (this.config.platformTargetGroupArn) {
        this.platformArn = this.config.platformTargetGroupArn;
      } else {
        const listener = await this.api.describeListener(this.config.listenerArn);
        const forward = listener.defaultForward;
        this.platformArn = forward?.length === 1 && forward[0] ? forward[0].targetGroupArn : null;
      }
      if (this.platformArn) this.backendByArn.set(this.platformArn, DEFAULT_BACKEND);
    }
    return this.platformArn ?? undefined;
  }

  /**
   * The target group of a backend: pre-created (targetGroupArns), else found by its deterministic name and
   * checked to be Cutover's (tag), else created (when `create` and a targetGroups policy is configured).
   */
  async group(backend: string, create: boolean): Promise<ResolvedGroup | undefined> {
    const known = this.groups.get(backend);
    if (known) return known;
    const policy = this.config.targetGroups;
    const name = targetGroupName(policy?.namePrefix ?? '', backend);
    let found: AlbTargetGroup | undefined = await this.api.findTargetGroup(name);
    let created = false;
    if (found) {
      const tags = (await this.api.describeTags([found.arn]))[found.arn] ?? {};
      if (tags[TAG_BACKEND] !== backend) {
        throw new CutoverError(
          ErrorType.RouterRequestRejected,
          `target group ${name} exists but is not Cutover's target group of backend "${backend}" (tag ${TAG_BACKEND} ` +
            `is ${JSON.stringify(tags[TAG_BACKEND] ?? null)}): name it in router.targetGroupArns to use it, or rename it`,
        );
      }
    } else {
      if (!create) return undefined;
      if (!policy) {
        throw new CutoverError(
          ErrorType.ResourceNotFound,
          `no target group for backend "${backend}": add it to router.targetGroupArns, or set router.targetGroups ` +
            'so that Cutover creates it',
        );
      }
      const result = await this.api.createTargetGroup({
        name,
        vpcId: policy.vpcId,
        port: policy.port,
        protocol: policy.protocol,
        healthCheck: {
          path: policy.healthCheck.path,
          intervalSeconds: Math.max(5, Math.round(policy.healthCheck.interval / 1000)),
          timeoutSeconds: Math.max(2, Math.round(policy.healthCheck.timeout / 1000)),
          healthyThreshold: policy.healthCheck.healthyThreshold,
          unhealthyThreshold: policy.healthCheck.unhealthyThreshold,
          matcher: policy.healthCheck.matcher,
        },
        tags: { [TAG_MANAGED_BY]: 'cutover', [TAG_BACKEND]: backend },
      });
      created = !result.existed;
      found = result;
    }
    if (policy && (created || found.vpcId === policy.vpcId)) {
      // Also after a crash between creating the group and setting its delay: set once per driver instance.
      await this.api.setDeregistrationDelay(found.arn, Math.round(policy.deregistrationDelay / 1000));
    }
    const group: ResolvedGroup = { arn: found.arn, preCreated: false, protocol: found.protocol ?? 'HTTP' };
    this.groups.set(backend, group);
    this.backendByArn.set(found.arn, backend);
    return group;
  }

  ref(arn: string): { arn: string; label: string } {
    return { arn, label: this.backendOf(arn) };
  }

  /** Backend names of every target group the rules forward to (tags read once per group). */
  async learnBackendNames(rules: AlbRule[]): Promise<void> {
    await this.platformTargetGroup();
    const unknown = [...new Set(rules.flatMap((r) => (r.forward ?? []).map((f) => f.targetGroupArn)))].filter(
      (arn) => !this.backendByArn.has(arn),
    );
    if (unknown.length === 0) return;
    const tags = await this.api.describeTags(unknown);
    for (const arn of unknown) {
      const backend = tags[arn]?.[TAG_BACKEND];
      // A group Cutover did not create keeps its own name: the workflow then sees a foreign backend.
      this.backendByArn.set(arn, backend ?? targetGroupNameFromArn(arn));
    }
  }

  backendOf(arn: string): string {
    return this.backendByArn.get(arn) ?? targetGroupNameFromArn(arn);
  }

  /** Forgets a backend's group (it was deleted). */
  forget(backend: string): void {
    this.groups.delete(backend);
  }
}

export function unknownBackend(backend: string): CutoverError {
  return new CutoverError(
    ErrorType.RouterRequestRejected,
    `unknown backend "${backend}": no target group for it (publish the backend first)`,
  );
}
