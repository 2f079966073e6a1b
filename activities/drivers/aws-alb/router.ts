/**
 * The Router port over an Application Load Balancer, in the OutSystems layout: the listener's default action
 * forwards to the platform server's target group (backend "default"); each module has a rule `path-pattern
 * /<Module>*` forwarding to target groups (a backend = a target group); a preview rule adds an http-header
 * condition in front of it.
 *
 * - Every write is idempotent under retry: rules are found by their conditions (never remembered), a rule is
 *   created only when none exists for the module, a retried CreateRule that finds its priority taken re-reads.
 * - Before a target group gets traffic it is attached with weight 0 (so the ALB starts health-checking it) and
 *   its targets must be healthy in DescribeTargetHealth; then the weights move (all at once, or in steps).
 * - verify() reads the rule back and checks target health; it checks the answering version only when the
 *   load balancer's URL is configured (otherwise: not-supported).
 */
import { CutoverError, ErrorType } from '../../errors';
import type {
  ModuleRule,
  PreviewRoutes,
  Router,
  Verification,
  VerifyOptions,
  WeightedBackend,
  TrafficSampling,
  WeightedRules,
} from '../../ports';
import { sampleThroughUrl, verifyThroughUrl } from '../http-verify';
import { checkWeights } from '../weights';
import type { AlbForward, AlbRule, AlbTarget, ElbV2Api } from './api';
import { PriorityInUseError, TAG_MANAGED_BY, TAG_MODULE, TAG_ROLE } from './api';
import type { AwsAlbRouterConfig } from './config';
import { DEFAULT_BACKEND } from './config';
import type { Clock } from './health';
import { isReady, waitUntilDrained, waitUntilHealthy } from './health';
import {
  choosePriority,
  fromTarget,
  isModuleRule,
  isPreviewRule,
  renderPathPatterns,
  sameForward,
  shiftSteps,
  targetKey,
  toTarget,
} from './naming';
import { TargetGroups, unknownBackend } from './target-groups';

export interface AlbRouterDeps {
  api: ElbV2Api;
  clock: Clock;
  /** Between two DescribeTargetHealth calls while waiting (default 2 s). */
  pollMs?: number;
}

/**
 * Capabilities: preview routes (a rule with an http-header condition) and weights (a weighted forward action); no
 * in-flight counts (not observable through the ELBv2 API: deregisterTargets waits out the deregistration delay).
 */
export class AlbRouter implements Router {
  readonly type = 'aws-alb';
  readonly preview: PreviewRoutes = {
    setRule: (module, backend) => this.setPreviewRule(module, backend),
    removeRule: (module) => this.removePreviewRule(module),
  };
  /** A forward action takes at most 5 target groups. */
  readonly weights: WeightedRules = { maxBackends: 5 };
  /** Only with `publicUrl`: requests through the ALB show the split it applies. */
  readonly sampling?: TrafficSampling;
  private readonly pollMs: number;
  private readonly groups: TargetGroups;

  constructor(
    private readonly config: AwsAlbRouterConfig,
    private readonly deps: AlbRouterDeps,
  ) {
    this.pollMs = deps.pollMs ?? 2_000;
    this.groups = new TargetGroups(config, deps.api);
    const publicUrl = config.publicUrl;
    if (publicUrl) {
      this.sampling = {
        sample: (module, requests, options) =>
          sampleThroughUrl({ publicUrl, module, requests, what: 'the ALB', ...options }),
      };
    }
  }

  private get api(): ElbV2Api {
    return this.deps.api;
  }

  // ---- rules ----

  async readRules(modules: string[]): Promise<Record<string, ModuleRule>> {
    const rules = await this.api.describeRules(this.config.listenerArn);
    await this.groups.learnBackendNames(rules);
    const out: Record<string, ModuleRule> = {};
    for (const module of modules) {
      const live = this.findModuleRule(rules, module);
      if (!live) continue;
      const preview = this.findPreviewRule(rules, module)?.forward?.[0];
      const backends: WeightedBackend[] = live.forward
        ? live.forward.map((f) => ({ backend: this.groups.backendOf(f.targetGroupArn), weight: f.weight }))
        : [{ backend: `rule-${String(live.priority)}-${live.actionTypes.join('+')}`, weight: 100 }];
      // A rule sending all its traffic to the platform server's target group is the default rule in effect.
      if (backends.filter((b) => b.weight > 0).every((b) => b.backend === DEFAULT_BACKEND)) continue;
      out[module] = {
        module,
        backends,
        ...(preview ? { preview: this.groups.backendOf(preview.targetGroupArn) } : {}),
      };
    }
    return out;
  }

  async setModuleRule(module: string, backends: WeightedBackend[]): Promise<void> {
    checkWeights(backends);
    const desired: AlbForward[] = [];
    for (const b of backends)
      desired.push({ targetGroupArn: await this.groups.arnForRule(b.backend), weight: b.weight });
    let rules = await this.api.describeRules(this.config.listenerArn);
    let rule = this.findModuleRule(rules, module);
    if (rule && !rule.forward) throw this.foreignRule(module, rule);
    if (rule && sameForward(rule.forward, desired)) return;

    // 1. Every target group about to get traffic must be health-checked and healthy first.
    const current = new Map((rule?.forward ?? []).map((f) => [f.targetGroupArn, f.weight]));
    const platform = await this.groups.platformTargetGroup();
    const incoming = desired.filter(
      (f) => f.weight > 0 && (current.get(f.targetGroupArn) ?? 0) === 0 && f.targetGroupArn !== platform,
    );
    for (const f of incoming) {
      let checked = rules.some((r) => r.forward?.some((x) => x.targetGroupArn === f.targetGroupArn));
      if (!checked) {
        // Attach it with weight 0: the ALB starts health checks, and no request goes there yet.
        const attached = [...(rule?.forward ?? []), { targetGroupArn: f.targetGroupArn, weight: 0 }];
        if (rule?.forward) {
          rule = await this.api.modifyRuleForward(rule.arn, attached);
          checked = true;
        } else if (platform) {
          const behind = [{ targetGroupArn: platform, weight: 100 }, ...attached];
          rule = await this.createRule(module, 'module', behind, rules);
          checked = true;
        }
        // Without a rule or a platform target group to attach behind, the ALB cannot health-check the group before
        // it gets traffic: its targets must at least be registered, and verify() checks their health afterwards.
        rules = rule ? [...rules.filter((r) => r.arn !== rule?.arn), rule] : rules;
      }
      await waitUntilHealthy(this.api, this.groups.ref(f.targetGroupArn), undefined, checked, this.waitOptions());
    }

    // 2. Move the weights: in steps (optional), then to the desired ones.
    if (rule?.forward && this.config.shift) {
      for (const step of shiftSteps(rule.forward, desired, this.config.shift.steps)) {
        rule = this.expectForward(await this.api.modifyRuleForward(rule.arn, step), step);
        await this.deps.clock.sleep(this.config.shift.interval);
      }
    }
    if (rule?.forward) {
      if (!sameForward(rule.forward, desired)) {
        this.expectForward(await this.api.modifyRuleForward(rule.arn, desired), desired);
      }
    } else {
      this.expectForward(await this.createRule(module, 'module', desired, rules), desired);
    }
  }

  async removeModuleRule(module: string): Promise<void> {
    const rules = await this.api.describeRules(this.config.listenerArn);
    const rule = this.findModuleRule(rules, module);
    if (rule) await this.api.deleteRule(rule.arn);
  }

  private async setPreviewRule(module: string, backend: string): Promise<void> {
    const arn = await this.groups.arnForRule(backend);
    const forward = [{ targetGroupArn: arn, weight: 100 }];
    const rules = await this.api.describeRules(this.config.listenerArn);
    const existing = this.findPreviewRule(rules, module);
    if (existing && !sameForward(existing.forward, forward)) await this.api.modifyRuleForward(existing.arn, forward);
    if (!existing) await this.createRule(module, 'preview', forward, rules);
    // The preview rule puts the group in use: marked requests must find healthy targets.
    await waitUntilHealthy(this.api, this.groups.ref(arn), undefined, true, this.waitOptions());
  }

  private async removePreviewRule(module: string): Promise<void> {
    const rules = await this.api.describeRules(this.config.listenerArn);
    const rule = this.findPreviewRule(rules, module);
    if (rule) await this.api.deleteRule(rule.arn);
  }

  // ---- backends (target groups) ----

  async ensureBackend(backend: string, targets: string[]): Promise<void> {
    const wanted = targets.map(toTarget);
    const group = await this.groups.group(backend, true);
    if (!group) throw new Error(`unreachable: no target group for ${backend}`);
    const registered = (await this.api.describeTargetHealth(group.arn))
      .filter((h) => h.state !== 'draining')
      .map((h) => h.target);
    const have = new Set(registered.map(targetKey));
    const want = new Set(wanted.map(targetKey));
    const missing = uniqueTargets(wanted.filter((t) => !have.has(targetKey(t))));
    const extra = registered.filter((t) => !want.has(targetKey(t)));
    if (missing.length) await this.api.registerTargets(group.arn, missing);
    if (extra.length) await this.api.deregisterTargets(group.arn, extra);
  }

  async describeBackend(backend: string): Promise<string[] | undefined> {
    const group = await this.groups.group(backend, false);
    if (!group) return undefined;
    return (await this.api.describeTargetHealth(group.arn))
      .filter((h) => h.state !== 'draining')
      .map((h) => fromTarget(h.target, group.protocol));
  }

  async removeBackend(backend: string): Promise<void> {
    const group = await this.groups.group(backend, false);
    if (!group) return;
    if (group.preCreated) {
      // Not ours to delete: leave it empty.
      const registered = (await this.api.describeTargetHealth(group.arn)).map((h) => h.target);
      if (registered.length) await this.api.deregisterTargets(group.arn, registered);
      return;
    }
    await this.api.deleteTargetGroup(group.arn);
    this.groups.forget(backend);
  }

  async registerTargets(backend: string, targets: string[]): Promise<void> {
    const wanted = uniqueTargets(targets.map(toTarget));
    const group = await this.groups.group(backend, false);
    if (!group) throw unknownBackend(backend);
    if (wanted.length) await this.api.registerTargets(group.arn, wanted);
    const rules = await this.api.describeRules(this.config.listenerArn);
    const inUse = rules.some((r) => r.forward?.some((f) => f.targetGroupArn === group.arn));
    await waitUntilHealthy(this.api, { arn: group.arn, label: backend }, wanted, inUse, this.waitOptions());
  }

  async deregisterTargets(backend: string, targets: string[]): Promise<void> {
    const leaving = uniqueTargets(targets.map(toTarget));
    const group = await this.groups.group(backend, false);
    if (!group) return;
    const keys = new Set(leaving.map(targetKey));
    const registered = (await this.api.describeTargetHealth(group.arn)).filter(
      (h) => keys.has(targetKey(h.target)) && h.state !== 'draining',
    );
    if (registered.length)
      await this.api.deregisterTargets(
        group.arn,
        registered.map((h) => h.target),
      );
    // Honour the deregistration delay: return only once nothing can reach them any more.
    await waitUntilDrained(this.api, { arn: group.arn, label: backend }, leaving, {
      ...this.waitOptions(),
      timeoutMs: this.config.drainTimeout,
    });
  }

  async verify(module: string, expectedVersion: string, options: VerifyOptions = {}): Promise<Verification> {
    const rules = await this.api.describeRules(this.config.listenerArn);
    await this.groups.learnBackendNames(rules);
    const rule = this.findModuleRule(rules, module);
    if (!rule?.forward) {
      return {
        status: 'not-verified',
        detail: rule
          ? `${module}: its rule does not forward (${rule.actionTypes.join(', ')})`
          : `${module}: no rule on the listener: the default action (platform server) serves it`,
      };
    }
    const total = rule.forward.reduce((sum, f) => sum + f.weight, 0);
    const parts: string[] = [];
    let unhealthy = false;
    for (const f of rule.forward.filter((x) => x.weight > 0)) {
      const health = await this.api.describeTargetHealth(f.targetGroupArn);
      const ready = health.filter((h) => isReady(h, true)).length;
      if (ready === 0) unhealthy = true;
      const share = Math.round((f.weight * 100) / total);
      parts.push(`${share}% to ${this.groups.backendOf(f.targetGroupArn)} (${ready}/${health.length} targets healthy)`);
    }
    const summary = `${module}: rule ${String(rule.priority)} forwards ${parts.join(', ')}`;
    if (unhealthy) return { status: 'not-verified', detail: `${summary}: no healthy target behind a weighted group` };
    if (!this.config.publicUrl) {
      return {
        status: 'not-supported',
        detail: `${summary}; the answering version cannot be checked without sending requests through the load balancer (router.publicUrl is not set)`,
      };
    }
    const answer = await verifyThroughUrl({ publicUrl: this.config.publicUrl, module, expectedVersion, ...options });
    return { status: answer.status, detail: `${answer.detail}; ${summary}` };
  }

  // ---- helpers ----

  private findModuleRule(rules: AlbRule[], module: string): AlbRule | undefined {
    return rules.find((r) => isModuleRule(r, module, this.config.pathPatterns));
  }

  private findPreviewRule(rules: AlbRule[], module: string): AlbRule | undefined {
    return rules.find((r) => isPreviewRule(r, module, this.config.pathPatterns, this.config.previewHeader));
  }

  private foreignRule(module: string, rule: AlbRule): CutoverError {
    return new CutoverError(
      ErrorType.RouterRequestRejected,
      `the rule of ${module} (priority ${String(rule.priority)}) does ${rule.actionTypes.join(' + ')}, not a plain ` +
        'forward: Cutover does not change rules it cannot reproduce; make it a forward rule or remove it',
    );
  }

  /**
   * Creates a rule for the module at a free priority: a preview rule in front of the module's rule, a module rule
   * behind its preview rule. A retried call that lost its answer finds the priority taken: then the rule is re-read
   * (it may be ours) or the next free priority is tried.
   */
  private async createRule(
    module: string,
    role: 'module' | 'preview',
    forward: AlbForward[],
    rules: AlbRule[],
  ): Promise<AlbRule> {
    let known = rules;
    for (let attempt = 1; ; attempt++) {
      const live = this.findModuleRule(known, module);
      const preview = this.findPreviewRule(known, module);
      const existing = role === 'module' ? live : preview;
      if (existing) {
        if (!existing.forward) throw this.foreignRule(module, existing);
        return sameForward(existing.forward, forward) ? existing : this.api.modifyRuleForward(existing.arn, forward);
      }
      const used = new Set(known.map((r) => r.priority).filter((p): p is number => typeof p === 'number'));
      const bound =
        role === 'preview'
          ? { below: typeof live?.priority === 'number' ? live.priority : undefined }
          : { above: typeof preview?.priority === 'number' ? preview.priority : undefined };
      const priority = choosePriority(role, module, used, this.config.rulePriorities, bound);
      if (priority === undefined) {
        throw new CutoverError(
          ErrorType.RouterRequestRejected,
          `no free rule priority for the ${role} rule of ${module} in ${this.config.rulePriorities.first}..` +
            `${this.config.rulePriorities.last} (${used.size} rules on the listener): widen router.rulePriorities`,
        );
      }
      const pathPatterns = live?.conditions.pathPatterns ?? renderPathPatterns(this.config.pathPatterns, module);
      try {
        return await this.api.createRule({
          listenerArn: this.config.listenerArn,
          priority,
          pathPatterns,
          ...(role === 'preview' ? { httpHeader: { name: this.config.previewHeader, values: ['*'] } } : {}),
          forward,
          tags: { [TAG_MANAGED_BY]: 'cutover', [TAG_MODULE]: module, [TAG_ROLE]: role },
        });
      } catch (err) {
        if (!(err instanceof PriorityInUseError) || attempt >= 5) throw err;
        known = await this.api.describeRules(this.config.listenerArn);
      }
    }
  }

  /** A rule read back from the API (CreateRule/ModifyRule answer) must forward exactly as asked. */
  private expectForward(rule: AlbRule, forward: AlbForward[]): AlbRule {
    if (!sameForward(rule.forward, forward)) {
      throw new CutoverError(
        ErrorType.RuleReadbackMismatch,
        `rule ${rule.arn} reads back as ${JSON.stringify(rule.forward)}, not ${JSON.stringify(forward)}`,
      );
    }
    return rule;
  }

  private waitOptions() {
    return { timeoutMs: this.config.targetHealthTimeout, pollMs: this.pollMs, clock: this.deps.clock };
  }
}

function uniqueTargets(targets: AlbTarget[]): AlbTarget[] {
  const seen = new Map<string, AlbTarget>();
  for (const t of targets) seen.set(targetKey(t), t);
  return [...seen.values()];
}
