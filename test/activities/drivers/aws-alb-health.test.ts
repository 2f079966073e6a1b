/**
 * The ALB driver's waiting logic, against a stub ELBv2 API with a fake clock: moto reports every registered target
 * healthy at once and never shows a target draining, so what a real ALB does in between (initial, unhealthy,
 * unused/NotInUse, draining for the deregistration delay) is scripted here.
 */
import type {
  AlbForward,
  AlbRule,
  AlbTarget,
  AlbTargetHealth,
  ElbV2Api,
} from '../../../activities/drivers/aws-alb/api';
import { newAwsAlbDriver } from '../../../activities/drivers/aws-alb';
import type { Clock } from '../../../activities/drivers/aws-alb/health';
import { isReady, waitUntilDrained, waitUntilHealthy } from '../../../activities/drivers/aws-alb/health';
import { awsAlbRouterSchema } from '../../../workflows/spec';

const ARN = (name: string) =>
  `arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/${name}/0123456789abcdef`;
const LISTENER =
  'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/lb/0123456789abcdef/0123456789abcdef';
const t1: AlbTarget = { id: '10.0.1.11', port: 8080 };
const t2: AlbTarget = { id: '10.0.1.12', port: 8080 };

function fakeClock(): Clock & { slept: number[] } {
  let now = 0;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  };
}

const h = (target: AlbTarget, state: string, reason?: string): AlbTargetHealth => ({
  target,
  state,
  ...(reason ? { reason } : {}),
});

/** describeTargetHealth answers the scripted rounds in turn, then keeps answering the last one. */
function scripted(rounds: AlbTargetHealth[][]): Pick<ElbV2Api, 'describeTargetHealth'> & { calls: number } {
  const stub = {
    calls: 0,
    describeTargetHealth: async () => rounds[Math.min(stub.calls++, rounds.length - 1)] ?? [],
  };
  return stub;
}

const group = { arn: ARN('shop-green'), label: 'shop-green' };
const options = (clock: Clock, timeoutMs = 30_000) => ({ timeoutMs, pollMs: 2_000, clock });

describe('waiting for healthy targets', () => {
  test('initial -> healthy: polls until every target is healthy', async () => {
    const clock = fakeClock();
    const api = scripted([
      [h(t1, 'initial', 'Elb.RegistrationInProgress'), h(t2, 'initial', 'Elb.RegistrationInProgress')],
      [h(t1, 'healthy'), h(t2, 'initial', 'Elb.InitialHealthChecking')],
      [h(t1, 'healthy'), h(t2, 'healthy')],
    ]);
    await waitUntilHealthy(api, group, [t1, t2], true, options(clock));
    expect(api.calls).toBe(3);
    expect(clock.slept).toEqual([2_000, 2_000]);
  });

  test('still unhealthy at the deadline: a non-retryable error naming every target and why', async () => {
    const clock = fakeClock();
    const api = scripted([
      [h(t1, 'unhealthy', 'Target.ResponseCodeMismatch'), h(t2, 'initial', 'Elb.InitialHealthChecking')],
    ]);
    const failure = waitUntilHealthy(api, group, [t1, t2], true, options(clock, 10_000));
    await expect(failure).rejects.toMatchObject({
      name: 'ReplicasUnhealthyError',
      message: expect.stringContaining(
        'targets of shop-green are not healthy in the load balancer after 10s (6 checks): ' +
          '10.0.1.11:8080 unhealthy (Target.ResponseCodeMismatch); 10.0.1.12:8080 initial (Elb.InitialHealthChecking)',
      ),
    });
    expect(clock.now()).toBe(10_000);
  });

  test('a target not listed yet (registration is eventually consistent) is waited for', async () => {
    const clock = fakeClock();
    const api = scripted([
      [h(t1, 'healthy')],
      [h(t1, 'healthy'), h(t2, 'unused', 'Target.NotRegistered')],
      [h(t1, 'healthy'), h(t2, 'healthy')],
    ]);
    await waitUntilHealthy(api, group, [t1, t2], true, options(clock));
    expect(api.calls).toBe(3);
  });

  test('unused/NotInUse: nothing to wait for when no rule forwards to the group; pending once one does', () => {
    const notInUse = h(t1, 'unused', 'Target.NotInUse');
    expect(isReady(notInUse, false)).toBe(true);
    expect(isReady(notInUse, true)).toBe(false);
    expect(isReady(h(t1, 'unavailable', 'Target.HealthCheckDisabled'), true)).toBe(true);
    expect(isReady(h(t1, 'draining', 'Target.DeregistrationInProgress'), false)).toBe(false);
  });

  test('no target registered at all: refused at the deadline rather than switching to an empty group', async () => {
    const clock = fakeClock();
    await expect(waitUntilHealthy(scripted([[]]), group, undefined, true, options(clock, 4_000))).rejects.toMatchObject(
      {
        name: 'ReplicasUnhealthyError',
        message: expect.stringContaining('no target is registered'),
      },
    );
  });
});

describe('waiting for deregistered targets to drain', () => {
  test('draining for the deregistration delay, then gone', async () => {
    const clock = fakeClock();
    const api = scripted([
      [h(t1, 'draining', 'Target.DeregistrationInProgress'), h(t2, 'healthy')],
      [h(t1, 'draining', 'Target.DeregistrationInProgress'), h(t2, 'healthy')],
      [h(t2, 'healthy')],
    ]);
    await waitUntilDrained(api, group, [t1], options(clock));
    expect(api.calls).toBe(3);
  });

  test('still draining at the deadline: a retryable error (the replicas must not be retired yet)', async () => {
    const clock = fakeClock();
    const api = scripted([[h(t1, 'draining', 'Target.DeregistrationInProgress')]]);
    const failure = waitUntilDrained(api, group, [t1], options(clock, 6_000));
    await expect(failure).rejects.toMatchObject({
      name: 'Error',
      message: expect.stringContaining('still draining after 6s: 10.0.1.11:8080 draining'),
    });
  });

  test('unused/NotRegistered counts as gone', async () => {
    const clock = fakeClock();
    await waitUntilDrained(scripted([[h(t1, 'unused', 'Target.NotRegistered')]]), group, [t1], options(clock));
    expect(clock.slept).toEqual([]);
  });
});

/** A tiny in-memory ALB: rules and registrations are real state; health follows a script per target. */
class StubElb implements ElbV2Api {
  rules: AlbRule[] = [
    {
      arn: 'rule/default',
      priority: 'default',
      conditions: { pathPatterns: [], other: false },
      forward: [{ targetGroupArn: ARN('platform'), weight: 100 }],
      actionTypes: ['forward'],
    },
  ];
  registered = new Map<string, AlbTarget[]>();
  health: (tg: string, t: AlbTarget, round: number) => AlbTargetHealth = (_tg, t) => h(t, 'healthy');
  rounds = 0;
  log: string[] = [];

  async describeListener() {
    return { arn: LISTENER, loadBalancerArn: 'lb', defaultForward: this.rules[0]?.forward };
  }
  async describeRules() {
    return this.rules.map((r) => ({ ...r }));
  }
  async createRule(rule: Parameters<ElbV2Api['createRule']>[0]) {
    const created: AlbRule = {
      arn: `rule/${rule.priority}`,
      priority: rule.priority,
      conditions: {
        pathPatterns: rule.pathPatterns,
        other: false,
        ...(rule.httpHeader ? { httpHeader: rule.httpHeader } : {}),
      },
      forward: rule.forward,
      actionTypes: ['forward'],
    };
    this.rules.push(created);
    this.log.push(`create ${fmt(rule.forward)}`);
    return created;
  }
  async modifyRuleForward(arn: string, forward: AlbForward[]) {
    const rule = this.rules.find((r) => r.arn === arn);
    if (!rule) throw new Error('no rule');
    rule.forward = forward;
    this.log.push(`modify ${fmt(forward)}`);
    return { ...rule };
  }
  async deleteRule(arn: string) {
    this.rules = this.rules.filter((r) => r.arn !== arn);
  }
  async findTargetGroup() {
    return undefined;
  }
  async createTargetGroup(): Promise<never> {
    throw new Error('not in this stub');
  }
  async setDeregistrationDelay() {}
  async deleteTargetGroup() {}
  async describeTags() {
    return {};
  }
  async registerTargets(tg: string, targets: AlbTarget[]) {
    this.registered.set(tg, [...(this.registered.get(tg) ?? []), ...targets]);
    this.log.push(`register ${targets.map((t) => t.id).join(',')}`);
  }
  async deregisterTargets(tg: string, targets: AlbTarget[]) {
    const keys = new Set(targets.map((t) => t.id));
    this.registered.set(
      tg,
      (this.registered.get(tg) ?? []).filter((t) => !keys.has(t.id)),
    );
    this.log.push(`deregister ${targets.map((t) => t.id).join(',')}`);
  }
  async describeTargetHealth(tg: string) {
    const round = this.rounds++;
    this.log.push('health');
    return (this.registered.get(tg) ?? []).map((t) => this.health(tg, t, round));
  }
}

function fmt(forward: AlbForward[]): string {
  return forward.map((f) => `${/targetgroup\/([^/]+)\//.exec(f.targetGroupArn)?.[1]}=${f.weight}`).join(',');
}

function stubDriver(stub: StubElb, clock: Clock) {
  const { kind: _kind, ...config } = awsAlbRouterSchema.parse({
    kind: 'aws-alb',
    region: 'eu-west-1',
    listenerArn: LISTENER,
    platformTargetGroupArn: ARN('platform'),
    targetGroupArns: { 'shop-blue': ARN('shop-blue'), 'shop-green': ARN('shop-green') },
    targetHealthTimeout: '20s',
    drainTimeout: '30s',
  });
  return newAwsAlbDriver(config, { api: stub, clock, pollMs: 2_000 });
}

describe('the driver gates traffic on DescribeTargetHealth', () => {
  test('switch: green attached at weight 0, traffic only once its targets are healthy', async () => {
    const stub = new StubElb();
    const clock = fakeClock();
    const router = stubDriver(stub, clock);
    stub.registered.set(ARN('shop-blue'), [t1]);
    await router.setModuleRule('Catalog', [{ backend: 'shop-blue', weight: 100 }]);
    stub.registered.set(ARN('shop-green'), [t1, t2]);
    stub.health = (_tg, t, round) => (round < 4 ? h(t, 'initial', 'Elb.InitialHealthChecking') : h(t, 'healthy'));
    stub.rounds = 0;
    stub.log.length = 0;

    await router.setModuleRule('Catalog', [{ backend: 'shop-green', weight: 100 }]);
    expect(stub.log).toEqual([
      'modify shop-blue=100,shop-green=0',
      'health',
      'health',
      'health',
      'health',
      'health',
      'modify shop-green=100',
    ]);
  });

  test('switch to unhealthy targets: refused at the deadline, green never got a request', async () => {
    const stub = new StubElb();
    const clock = fakeClock();
    const router = stubDriver(stub, clock);
    stub.registered.set(ARN('shop-blue'), [t1]);
    await router.setModuleRule('Catalog', [{ backend: 'shop-blue', weight: 100 }]);
    stub.registered.set(ARN('shop-green'), [t2]);
    stub.health = (_tg, t) => h(t, 'unhealthy', 'Target.Timeout');

    await expect(router.setModuleRule('Catalog', [{ backend: 'shop-green', weight: 100 }])).rejects.toMatchObject({
      name: 'ReplicasUnhealthyError',
      message: expect.stringContaining('10.0.1.12:8080 unhealthy (Target.Timeout)'),
    });
    expect(stub.rules.find((r) => r.arn !== 'rule/default')?.forward).toEqual([
      { targetGroupArn: ARN('shop-blue'), weight: 100 },
      { targetGroupArn: ARN('shop-green'), weight: 0 },
    ]);
    expect(clock.now()).toBe(20_000);
  });

  test('rolling: register waits for healthy, deregister honours the deregistration delay', async () => {
    const stub = new StubElb();
    const clock = fakeClock();
    const router = stubDriver(stub, clock);
    stub.registered.set(ARN('shop-blue'), [t1]);
    await router.setModuleRule('Catalog', [{ backend: 'shop-blue', weight: 100 }]);
    const added = { id: '10.0.1.13', port: 8080 };
    stub.health = (_tg, t, round) => (t.id === added.id && round < 3 ? h(t, 'initial') : h(t, 'healthy'));
    stub.rounds = 0;
    stub.log.length = 0;

    await router.registerTargets('shop-blue', ['http://10.0.1.13:8080']);
    expect(stub.log).toEqual(['register 10.0.1.13', 'health', 'health', 'health', 'health']);

    // After DeregisterTargets, the target drains for 3 rounds (6 s of deregistration delay) before it is gone.
    const draining = new Map<string, number>();
    const deregister = stub.deregisterTargets.bind(stub);
    stub.deregisterTargets = async (tg, targets) => {
      await deregister(tg, targets);
      for (const t of targets) draining.set(t.id, 3);
    };
    const describe = stub.describeTargetHealth.bind(stub);
    stub.describeTargetHealth = async (tg) => {
      const listed = await describe(tg);
      for (const [id, left] of draining) {
        if (left > 0) listed.push(h({ id, port: 8080 }, 'draining', 'Target.DeregistrationInProgress'));
        draining.set(id, left - 1);
      }
      return listed;
    };
    stub.log.length = 0;
    const before = clock.now();
    await router.deregisterTargets('shop-blue', ['http://10.0.1.11:8080']);
    expect(stub.log).toEqual(['health', 'deregister 10.0.1.11', 'health', 'health', 'health', 'health']);
    expect(clock.now() - before).toBe(6_000);
    expect(router.inFlight).toBeUndefined();
  });
});
