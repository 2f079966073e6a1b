/**
 * The ALB driver against moto's ELBv2 API (a real server process, started here): the OutSystems layout (default
 * action -> platform target group, one path-pattern rule per module), every rule and weight read back after each
 * step of a migration, a blue-green switch (all at once, and in weighted steps), the rollbacks, rolling
 * register/deregister, idempotency under retry, throttling retried with backoff, and the permanent errors.
 *
 * moto reports registered targets healthy at once and never shows draining: the waiting logic is covered by
 * aws-alb-health.test.ts with a stub.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateRuleCommand, CreateTargetGroupCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../../activities';
import type { Drivers } from '../../../activities/drivers';
import { newAwsAlbDriver } from '../../../activities/drivers/aws-alb';
import type { AwsAlbRouterConfig, ElbV2Api } from '../../../activities/drivers/aws-alb';
import { classifyAlbError } from '../../../activities/drivers/aws-alb/sdk';
import type { Router } from '../../../activities/ports';
import { awsAlbRouterSchema } from '../../../workflows/spec';
import type { ModuleVerification } from '../../../workflows/types';
import type { AlbWorld, Moto } from '../../support/moto';
import { REGION, countingApi, createAlbWorld, describeTargetGroup, ruleTable, startMoto } from '../../support/moto';

jest.setTimeout(120_000);

const MODULES = ['Catalog', 'Cart'];
const BLUE = ['http://10.0.1.11:8080', 'http://10.0.1.12:8080'];
const GREEN = ['http://10.0.1.21:8080', 'http://10.0.1.22:8080'];
const DEFAULT_ROW = { priority: 'default', paths: [], forward: ['platform-server=100'] };

let moto: Moto;
let world: AlbWorld;

beforeAll(async () => {
  moto = await startMoto();
});

afterAll(async () => {
  await moto?.stop();
});

beforeEach(async () => {
  await moto.reset();
  world = await createAlbWorld(moto.endpoint);
});

function albConfig(overrides: Record<string, unknown> = {}): AwsAlbRouterConfig {
  const { kind: _kind, ...config } = awsAlbRouterSchema.parse({
    kind: 'aws-alb',
    region: REGION,
    endpoint: moto.endpoint,
    listenerArn: world.listenerArn,
    targetGroups: { vpcId: world.vpcId, port: 8080, healthCheck: { path: '/Catalog/_ping.html' } },
    ...overrides,
  });
  return config;
}

function driver(overrides: Record<string, unknown> = {}, clock?: { now(): number; sleep(ms: number): Promise<void> }) {
  const counter = countingApi(moto.endpoint);
  const router = newAwsAlbDriver(albConfig(overrides), { api: counter.api, pollMs: 10, ...(clock ? { clock } : {}) });
  return { router, counter };
}

function activitiesFor(router: Router) {
  const drivers: Drivers = {
    platform: () => {
      throw new Error('no platform in this test');
    },
    router: () => router,
  };
  return createActivities(drivers);
}

const routerConfig = { kind: 'local', adminUrl: 'http://unused', publicUrl: 'http://unused' } as const;
const sorted = (xs: string[] | undefined) => [...(xs ?? [])].sort();
const inRange = (lo: number, hi: number) => ({
  asymmetricMatch: (p: unknown) => typeof p === 'number' && p >= lo && p <= hi,
  toString: () => `priority in ${lo}..${hi}`,
});

/** Given: v1 live in the blue target group on every module (a finished migration). */
async function givenBlueLive(router: Router): Promise<void> {
  await router.ensureBackend('shop-blue', BLUE);
  for (const m of MODULES) await router.setModuleRule(m, [{ backend: 'shop-blue', weight: 100 }]);
}

describe('migration off the platform server', () => {
  test('preview rules, then the switch creates one rule per module; the rollback deletes them', async () => {
    const { router, counter } = driver();
    expect(await router.readRules(MODULES)).toEqual({});
    expect(await ruleTable(world)).toEqual([DEFAULT_ROW]);

    // Green's target group is created on demand, tagged, with the configured deregistration delay.
    await router.ensureBackend('shop-green', GREEN);
    expect(await describeTargetGroup(world, 'shop-green')).toMatchObject({
      tags: { 'cutover:managed-by': 'cutover', 'cutover:backend': 'shop-green' },
      deregistrationDelay: '30',
      targetType: 'ip',
    });
    expect(sorted(await router.describeBackend('shop-green'))).toEqual(GREEN);

    // Preview: a header rule per module in the lower half of the priority range; live traffic unchanged.
    for (const m of MODULES) await router.preview!.setRule(m, 'shop-green');
    const previews = MODULES.map((m) => ({
      priority: inRange(1000, 1499),
      paths: [`/${m}*`],
      header: 'x-cutover-preview',
      forward: ['shop-green=100'],
    }));
    expect(await ruleTable(world)).toEqual(expect.arrayContaining([...previews, DEFAULT_ROW]));
    expect(await ruleTable(world)).toHaveLength(3);
    expect(await router.readRules(MODULES)).toEqual({}); // the default action still serves live traffic

    // The switch (the workflow's activity): a module rule each, behind its preview rule, read back.
    counter.reset();
    await activitiesFor(router).switchTraffic({
      router: routerConfig,
      modules: MODULES,
      backends: [{ backend: 'shop-green', weight: 100 }],
    });
    const modules = MODULES.map((m) => ({
      priority: inRange(1500, 1999),
      paths: [`/${m}*`],
      forward: ['shop-green=100'],
    }));
    expect(await ruleTable(world)).toEqual(expect.arrayContaining([...previews, ...modules, DEFAULT_ROW]));
    expect(await ruleTable(world)).toHaveLength(5);
    // Migration with the preview rules in place: green is in use already, so no weight-0 attach is needed.
    expect(Object.fromEntries(counter.calls)).toEqual({ DescribeRules: 3, DescribeTargetHealth: 2, CreateRule: 2 });
    expect(await router.readRules(MODULES)).toEqual({
      Catalog: { module: 'Catalog', backends: [{ backend: 'shop-green', weight: 100 }], preview: 'shop-green' },
      Cart: { module: 'Cart', backends: [{ backend: 'shop-green', weight: 100 }], preview: 'shop-green' },
    });
    await expect(router.verify('Catalog', '1.0.0')).resolves.toEqual({
      status: 'not-supported',
      detail: expect.stringContaining('forwards 100% to shop-green (2/2 targets healthy)'),
    });

    // Migration rollback: the rules go, the platform server serves every module again.
    await activitiesFor(router).restoreRules({ router: routerConfig, modules: MODULES, rules: {} });
    await activitiesFor(router).removePreview({ router: routerConfig, modules: MODULES });
    expect(await ruleTable(world)).toEqual([DEFAULT_ROW]);
    await router.removeBackend('shop-green');
    await router.removeBackend('shop-green'); // idempotent
    expect(await describeTargetGroup(world, 'shop-green')).toBeUndefined();
    expect(await router.describeBackend('shop-green')).toBeUndefined();
  });

  test('without a preview, the switch first creates the rule forwarding to the platform server at weight 100', async () => {
    const modifications: string[][] = [];
    const { router, counter } = driver();
    const recording: ElbV2Api = {
      ...counter.api,
      createRule: async (rule) => {
        modifications.push(rule.forward.map((f) => `${f.targetGroupArn.split('/')[1]}=${f.weight}`));
        return counter.api.createRule(rule);
      },
      modifyRuleForward: async (arn, forward) => {
        modifications.push(forward.map((f) => `${f.targetGroupArn.split('/')[1]}=${f.weight}`));
        return counter.api.modifyRuleForward(arn, forward);
      },
    };
    const watched = newAwsAlbDriver(albConfig(), { api: recording, pollMs: 10 });
    await router.ensureBackend('shop-green', GREEN);
    await watched.setModuleRule('Catalog', [{ backend: 'shop-green', weight: 100 }]);

    // Attach with weight 0 (health checks start, no traffic), wait for healthy targets, then all of it.
    expect(modifications).toEqual([['platform-server=100', 'shop-green=0'], ['shop-green=100']]);
    expect(await ruleTable(world)).toEqual([
      { priority: inRange(1500, 1999), paths: ['/Catalog*'], forward: ['shop-green=100'] },
      DEFAULT_ROW,
    ]);
  });
});

describe('blue-green between target groups', () => {
  test('an all-at-once switch costs 3 calls per module + 2, and 2 per module to verify', async () => {
    const { router, counter } = driver();
    await givenBlueLive(router);
    await router.ensureBackend('shop-green', GREEN);
    const activities = activitiesFor(router);

    counter.reset();
    await activities.switchTraffic({
      router: routerConfig,
      modules: MODULES,
      backends: [{ backend: 'shop-green', weight: 100 }],
    });
    const switchCalls = Object.fromEntries(counter.calls);
    counter.reset();
    const verified: ModuleVerification[] = await new MockActivityEnvironment().run(activities.verifyTraffic, {
      router: routerConfig,
      modules: MODULES,
      version: '2.0.0',
      attempts: 1,
      intervalMs: 0,
    });
    const verifyCalls = Object.fromEntries(counter.calls);

    // Catalog: DescribeRules, ModifyRule (attach green at 0), DescribeTargetHealth, ModifyRule (green 100);
    // Cart: green is in use now: DescribeRules, DescribeTargetHealth, ModifyRule; then one DescribeRules read-back.
    expect(switchCalls).toEqual({ DescribeRules: 3, ModifyRule: 3, DescribeTargetHealth: 2 });
    expect(verifyCalls).toEqual({ DescribeRules: 2, DescribeTargetHealth: 2 });
    expect(verified.map((v) => v.result.status)).toEqual(['not-supported', 'not-supported']);
    const table = await ruleTable(world);
    expect(table).toHaveLength(3);
    expect(table).toEqual(
      expect.arrayContaining(
        MODULES.map((m) => ({ priority: inRange(1500, 1999), paths: [`/${m}*`], forward: ['shop-green=100'] })),
      ),
    );
  });

  test('stepped weights: every step read back from the API; rollback switches back the same way', async () => {
    const tables: string[][] = [];
    let watched = 'Catalog';
    const clock = {
      now: () => Date.now(),
      sleep: async () => {
        // Between two steps: what does the load balancer say now?
        const rows = await ruleTable(world);
        tables.push(rows.filter((r) => r.paths[0] === `/${watched}*`).flatMap((r) => r.forward));
      },
    };
    const { router } = driver({ shift: { steps: [25, 50, 75], interval: 0 } }, clock);
    await givenBlueLive(router);
    await router.ensureBackend('shop-green', GREEN);
    tables.length = 0;

    await router.setModuleRule('Catalog', [{ backend: 'shop-green', weight: 100 }]);
    expect(tables).toEqual([
      ['shop-blue=75', 'shop-green=25'],
      ['shop-blue=50', 'shop-green=50'],
      ['shop-blue=25', 'shop-green=75'],
    ]);
    expect((await router.readRules(['Catalog'])).Catalog?.backends).toEqual([{ backend: 'shop-green', weight: 100 }]);
    expect((await router.readRules(['Cart'])).Cart?.backends).toEqual([{ backend: 'shop-blue', weight: 100 }]);

    // Rollback (restoreRules): back to blue, in the same steps.
    tables.length = 0;
    await activitiesFor(router).restoreRules({
      router: routerConfig,
      modules: ['Catalog'],
      rules: { Catalog: { module: 'Catalog', backends: [{ backend: 'shop-blue', weight: 100 }] } },
    });
    expect(tables).toEqual([
      ['shop-green=75', 'shop-blue=25'],
      ['shop-green=50', 'shop-blue=50'],
      ['shop-green=25', 'shop-blue=75'],
    ]);
    expect(await ruleTable(world)).toEqual(
      expect.arrayContaining([{ priority: inRange(1500, 1999), paths: ['/Catalog*'], forward: ['shop-blue=100'] }]),
    );

    // A retried call that already went part of the way (green at 60) only takes the remaining step (75).
    watched = 'Cart';
    const rule = (await world.api.describeRules(world.listenerArn)).find(
      (r) => r.conditions.pathPatterns[0] === '/Cart*',
    );
    const blueArn = (await describeTargetGroup(world, 'shop-blue'))?.arn ?? '';
    const greenArn = (await describeTargetGroup(world, 'shop-green'))?.arn ?? '';
    await world.api.modifyRuleForward(rule?.arn ?? '', [
      { targetGroupArn: blueArn, weight: 40 },
      { targetGroupArn: greenArn, weight: 60 },
    ]);
    tables.length = 0;
    await router.setModuleRule('Cart', [{ backend: 'shop-green', weight: 100 }]);
    expect(tables).toEqual([['shop-blue=25', 'shop-green=75']]);
    expect((await router.readRules(['Cart'])).Cart?.backends).toEqual([{ backend: 'shop-green', weight: 100 }]);
  });

  test('weighted rules read back with their weights; the rollback window switches back to blue', async () => {
    const { router } = driver();
    await givenBlueLive(router);
    await router.ensureBackend('shop-green', GREEN);
    const previous = await router.readRules(MODULES);

    await router.setModuleRule('Cart', [
      { backend: 'shop-blue', weight: 90 },
      { backend: 'shop-green', weight: 10 },
    ]);
    expect((await router.readRules(['Cart'])).Cart?.backends).toEqual([
      { backend: 'shop-blue', weight: 90 },
      { backend: 'shop-green', weight: 10 },
    ]);
    await activitiesFor(router).switchTraffic({
      router: routerConfig,
      modules: MODULES,
      backends: [{ backend: 'shop-green', weight: 100 }],
    });
    await activitiesFor(router).restoreRules({ router: routerConfig, modules: MODULES, rules: previous });
    expect((await ruleTable(world)).map((r) => r.forward)).toEqual([
      ['shop-blue=100'],
      ['shop-blue=100'],
      ['platform-server=100'],
    ]);
    // Blue's group is in use: it cannot go; green's can.
    await expect(router.removeBackend('shop-blue')).rejects.toMatchObject({
      name: 'RouterRequestRejectedError',
      message: expect.stringContaining('ResourceInUse'),
    });
    await router.removeBackend('shop-green');
    expect(await describeTargetGroup(world, 'shop-green')).toBeUndefined();
  });
});

describe('verify with the load balancer URL', () => {
  test('rule read-back and target health, then the answering version through the URL', async () => {
    // moto routes nothing: a stand-in answers for the load balancer's DNS name, as the ALB would from green.
    let version = '2.0.0';
    const lb = http.createServer((_req, res) => {
      res.writeHead(200, { 'x-cutover-version': version }).end('ok');
    });
    await new Promise<void>((resolve) => lb.listen(0, '127.0.0.1', resolve));
    try {
      const publicUrl = `http://127.0.0.1:${(lb.address() as AddressInfo).port}`;
      const { router } = driver({ publicUrl });
      await router.ensureBackend('shop-green', GREEN);
      await router.setModuleRule('Catalog', [{ backend: 'shop-green', weight: 100 }]);

      await expect(router.verify('Catalog', '2.0.0')).resolves.toEqual({
        status: 'verified',
        detail: expect.stringMatching(
          /5\/5 answers from 5x version 2\.0\.0; Catalog: rule \d+ forwards 100% to shop-green/,
        ),
      });
      version = '1.0.0';
      await expect(router.verify('Catalog', '2.0.0')).resolves.toMatchObject({ status: 'not-verified' });
      await expect(router.verify('Cart', '2.0.0')).resolves.toMatchObject({
        status: 'not-verified',
        detail: expect.stringContaining('no rule on the listener'),
      });
    } finally {
      await new Promise((resolve) => lb.close(resolve));
    }
  });
});

describe('rolling: targets inside a target group', () => {
  test('register waits for healthy targets, deregister waits for draining; both idempotent', async () => {
    const { router, counter } = driver();
    await givenBlueLive(router);
    const added = 'http://10.0.1.13:8080';

    counter.reset();
    await router.registerTargets('shop-blue', [added]);
    expect(Object.fromEntries(counter.calls)).toEqual({
      RegisterTargets: 1,
      DescribeRules: 1,
      DescribeTargetHealth: 1,
    });
    await router.registerTargets('shop-blue', [added]);
    expect(sorted(await router.describeBackend('shop-blue'))).toEqual([...BLUE, added].sort());

    await router.deregisterTargets('shop-blue', [BLUE[0] as string]);
    await router.deregisterTargets('shop-blue', [BLUE[0] as string]); // already gone: no call, no error
    expect(sorted(await router.describeBackend('shop-blue'))).toEqual([BLUE[1], added].sort());
    expect(router.inFlight).toBeUndefined(); // not observable: the delay is honoured instead

    // ensureBackend sets exactly these targets.
    await router.ensureBackend('shop-blue', [added]);
    expect(await router.describeBackend('shop-blue')).toEqual([added]);
    await expect(router.registerTargets('shop-nope', [added])).rejects.toMatchObject({
      name: 'RouterRequestRejectedError',
      message: expect.stringContaining('unknown backend "shop-nope"'),
    });
  });
});

describe('idempotency under retry', () => {
  test('a repeated switch writes nothing; a rule created by a lost attempt is found, not duplicated', async () => {
    const { router, counter } = driver();
    await givenBlueLive(router);
    counter.reset();
    await router.setModuleRule('Catalog', [{ backend: 'shop-blue', weight: 100 }]);
    expect(Object.fromEntries(counter.calls)).toEqual({ DescribeRules: 1 });

    // A CreateRule whose answer was lost: the rule exists, the retry modifies it instead of creating a second.
    await router.ensureBackend('shop-green', GREEN);
    const green = await describeTargetGroup(world, 'shop-green');
    await world.client.send(
      new CreateRuleCommand({
        ListenerArn: world.listenerArn,
        Priority: 1700,
        Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/Orders*'] } }],
        Actions: [{ Type: 'forward', TargetGroupArn: green?.arn }],
      }),
    );
    await router.setModuleRule('Orders', [{ backend: 'shop-blue', weight: 100 }]);
    const orders = (await ruleTable(world)).filter((r) => r.paths[0] === '/Orders*');
    expect(orders).toEqual([{ priority: 1700, paths: ['/Orders*'], forward: ['shop-blue=100'] }]);

    // A target group created by a lost attempt (same name, tagged): adopted, not duplicated.
    const { router: second } = driver();
    await second.ensureBackend('shop-green', GREEN);
    expect((await describeTargetGroup(world, 'shop-green'))?.arn).toBe(green?.arn);
  });

  test("a priority taken by someone else's rule: the next free one is used", async () => {
    const { router } = driver({ rulePriorities: { first: 10, last: 13 } });
    await router.ensureBackend('shop-blue', BLUE);
    // Take both module slots (12, 13) but one with a foreign rule for another path.
    await world.client.send(
      new CreateRuleCommand({
        ListenerArn: world.listenerArn,
        Priority: 12,
        Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/Legacy*'] } }],
        Actions: [{ Type: 'forward', TargetGroupArn: world.platformTargetGroupArn }],
      }),
    );
    await router.setModuleRule('Catalog', [{ backend: 'shop-blue', weight: 100 }]);
    expect((await ruleTable(world)).find((r) => r.paths[0] === '/Catalog*')?.priority).toBe(13);
    // Range exhausted for the upper half, and no lower slot fits behind nothing: a clear, permanent error.
    await router.preview!.setRule('Catalog', 'shop-blue');
    await expect(router.setModuleRule('Cart', [{ backend: 'shop-blue', weight: 100 }])).resolves.toBeUndefined();
    await expect(router.setModuleRule('Orders', [{ backend: 'shop-blue', weight: 100 }])).rejects.toMatchObject({
      name: 'RouterRequestRejectedError',
      message: expect.stringMatching(/no free rule priority for the module rule of Orders in 10\.\.13/),
    });
  });
});

describe('rules Cutover did not create (the hand-made OutSystems layout)', () => {
  test('a hand-made module rule is adopted: its actions change, its priority and conditions stay', async () => {
    const app = await world.client.send(
      new CreateTargetGroupCommand({
        Name: 'catalog-app',
        Protocol: 'HTTP',
        Port: 80,
        VpcId: world.vpcId,
        TargetType: 'ip',
      }),
    );
    await world.client.send(
      new CreateRuleCommand({
        ListenerArn: world.listenerArn,
        Priority: 5,
        Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/Catalog', '/Catalog/*'] } }],
        Actions: [{ Type: 'forward', TargetGroupArn: app.TargetGroups?.[0]?.TargetGroupArn }],
      }),
    );
    const { router } = driver();
    // The workflow sees a backend it did not create (and refuses to deploy over it until told otherwise).
    expect(await router.readRules(['Catalog'])).toEqual({
      Catalog: { module: 'Catalog', backends: [{ backend: 'catalog-app', weight: 100 }] },
    });
    await router.ensureBackend('shop-green', GREEN);
    await router.setModuleRule('Catalog', [{ backend: 'shop-green', weight: 100 }]);
    expect(await ruleTable(world)).toEqual([
      { priority: 5, paths: ['/Catalog', '/Catalog/*'], forward: ['shop-green=100'] },
      DEFAULT_ROW,
    ]);
    // A preview rule must come before it: a free priority below 5.
    await router.preview!.setRule('Catalog', 'shop-green');
    expect((await ruleTable(world))[0]).toMatchObject({ priority: inRange(1, 4), header: 'x-cutover-preview' });
  });

  test('a rule that does more than forward is not touched', async () => {
    await world.client.send(
      new CreateRuleCommand({
        ListenerArn: world.listenerArn,
        Priority: 7,
        Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/Cart*'] } }],
        Actions: [{ Type: 'redirect', RedirectConfig: { Path: '/Basket', StatusCode: 'HTTP_301' } }],
      }),
    );
    const { router } = driver();
    await router.ensureBackend('shop-green', GREEN);
    expect((await router.readRules(['Cart'])).Cart?.backends[0]?.backend).toMatch(/^rule-7-redirect$/);
    await expect(router.setModuleRule('Cart', [{ backend: 'shop-green', weight: 100 }])).rejects.toMatchObject({
      name: 'RouterRequestRejectedError',
      message: expect.stringContaining('does redirect, not a plain forward'),
    });
  });
});

describe('permanent errors: non-retryable, with a clear message', () => {
  test('a wrong listener ARN', async () => {
    const missing = world.listenerArn.replace(/[0-9a-f]{16}$/, '0000000000000000');
    const { router } = driver({ listenerArn: missing });
    await expect(router.readRules(MODULES)).rejects.toMatchObject({
      name: 'ResourceNotFoundError',
      message: expect.stringMatching(/ELBv2 DescribeRules on arn:.*0000000000000000 failed: ListenerNotFound/),
    });
    // Through the activity: a non-retryable ApplicationFailure of that type, so the workflow compensates at once.
    await router.ensureBackend('shop-green', GREEN); // target groups do not involve the listener
    await expect(
      activitiesFor(router).switchTraffic({
        router: routerConfig,
        modules: MODULES,
        backends: [{ backend: 'shop-green', weight: 100 }],
      }),
    ).rejects.toMatchObject({
      type: 'ResourceNotFoundError',
      nonRetryable: true,
      message: expect.stringContaining('check the ARN'),
    });
  });

  test('target groups: foreign name clash, no creation policy, names that do not fit', async () => {
    await world.client.send(
      new CreateTargetGroupCommand({
        Name: 'shop-green',
        Protocol: 'HTTP',
        Port: 80,
        VpcId: world.vpcId,
        TargetType: 'ip',
      }),
    );
    const { router } = driver();
    await expect(router.ensureBackend('shop-green', GREEN)).rejects.toMatchObject({
      name: 'RouterRequestRejectedError',
      message: expect.stringContaining("exists but is not Cutover's target group"),
    });
    const { router: noPolicy } = driver({
      targetGroups: undefined,
      targetGroupArns: { 'shop-blue': world.platformTargetGroupArn },
    });
    await expect(noPolicy.ensureBackend('shop-orange', GREEN)).rejects.toMatchObject({
      name: 'ResourceNotFoundError',
      message: expect.stringContaining('no target group for backend "shop-orange"'),
    });
    // A long backend name gets a shortened, hashed, valid name.
    const long = 'a-very-long-application-name-for-tests-green';
    await router.ensureBackend(long, GREEN);
    expect(sorted(await router.describeBackend(long))).toEqual(GREEN);
  });

  test('bad requests: unknown backend, a target that is not an IP, weights', async () => {
    const { router } = driver();
    await expect(router.setModuleRule('Catalog', [{ backend: 'shop-nope', weight: 100 }])).rejects.toMatchObject({
      name: 'RouterRequestRejectedError',
      message: expect.stringContaining('unknown backend "shop-nope"'),
    });
    await expect(router.ensureBackend('shop-blue', ['http://replica-1.internal:8080'])).rejects.toMatchObject({
      name: 'RouterRequestRejectedError',
      message: expect.stringContaining('target type ip'),
    });
    await expect(router.setModuleRule('Catalog', [{ backend: 'shop-blue', weight: 0 }])).rejects.toMatchObject({
      name: 'RouterRequestRejectedError',
    });
  });

  test('error classification: permissions and invalid requests are permanent; throttling and 5xx are not', () => {
    const denied = classifyAlbError(
      {
        name: 'AccessDenied',
        message: 'User: arn:aws:iam::1:user/x is not authorized',
        $metadata: { httpStatusCode: 403 },
      },
      'CreateRule',
      'arn:listener',
    );
    expect(denied).toMatchObject({
      name: 'RouterRequestRejectedError',
      message: expect.stringContaining('needs elasticloadbalancing:CreateRule'),
    });
    expect(classifyAlbError({ name: 'ValidationErrorException', message: 'bad' }, 'ModifyRule', 'r')).toMatchObject({
      name: 'RouterRequestRejectedError',
    });
    for (const transient of [
      { name: 'ThrottlingException', message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } },
      { name: 'InternalFailure', message: 'oops', $metadata: { httpStatusCode: 500 } },
      { name: 'TimeoutError', message: 'socket hang up' },
    ]) {
      expect(classifyAlbError(transient, 'DescribeRules', 'l').name).toBe('Error');
    }
  });
});

describe('throttling and 5xx', () => {
  test('are retried by the client with backoff: one call, several attempts, then the answer', async () => {
    let requests = 0;
    const failures = [
      {
        status: 400,
        body: '<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>',
      },
      {
        status: 503,
        body: '<ErrorResponse><Error><Code>ServiceUnavailable</Code><Message>busy</Message></Error></ErrorResponse>',
      },
    ];
    const target = new URL(moto.endpoint);
    const proxy = http.createServer((req, res) => {
      const failure = failures[requests++];
      if (failure) {
        req.resume();
        res.writeHead(failure.status, { 'content-type': 'text/xml' }).end(failure.body);
        return;
      }
      const upstream = http.request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const counter = countingApi(endpoint);
      const router = newAwsAlbDriver(albConfig({ endpoint }), { api: counter.api });
      expect(await router.readRules(MODULES)).toEqual({});
      expect(requests).toBeGreaterThanOrEqual(3); // 2 failures + the answer (+ DescribeListeners)
      expect(counter.calls.get('DescribeRules')).toBe(1);
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
