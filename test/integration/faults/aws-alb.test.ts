/**
 * Faults between Cutover's ALB driver and the ELBv2 API (moto), during real deployments: the Temporal dev server, the
 * workflows, local-platform replicas, a worker in this process whose ALB driver talks to moto through a faulty link
 * (Toxiproxy, then the HTTP fault layer answering AWS error documents: test/support/http-faults.ts).
 *
 * Two layers retry a transient fault: the AWS SDK itself (standard mode: throttling, 5xx, resets and timeouts, up to
 * 6 attempts per call), then the activity's retry policy. The tests count what reached moto (the link's log) and what
 * the history says, and read every rule, target group and registration back from moto afterwards.
 *
 * moto keeps one target per IP address and local replicas all listen on 127.0.0.1: one replica per deployment.
 */
import { useAlbFixtures } from '../../support/alb-fixture';
import type { AlbFixture } from '../../support/alb-fixture';
import { activityRuns, retried, runsOf } from '../../support/history';
import { answer, blackHole, faultyLink, resetAfterApplied } from '../../support/http-faults';
import type { FaultyLink, LoggedRequest } from '../../support/http-faults';
import { launchesInHistory, localStarts } from '../../support/launches';
import { describeTargetGroup, elbv2Call, elbv2ErrorBody, ruleTable } from '../../support/moto';
import type { AlbWorld } from '../../support/moto';
import { useToxiproxy } from '../../support/toxiproxy';

jest.setTimeout(150_000);

const toxiproxy = useToxiproxy();
const createAlbFixture = useAlbFixtures();

const xml = { 'content-type': 'text/xml' };
const throttling = answer(400, elbv2ErrorBody('Throttling', 'Rate exceeded'), xml);
const unavailable = answer(503, elbv2ErrorBody('ServiceUnavailable', 'busy', 'Receiver'), xml);

/** "paths -> target group=weight" per rule of the listener, sorted. */
async function rules(world: AlbWorld): Promise<string[]> {
  return (await ruleTable(world))
    .map((r) => `${r.priority === 'default' ? 'default' : r.paths.join(',')} -> ${r.forward.join(' ')}`)
    .sort();
}

async function registrations(world: AlbWorld, backend: string): Promise<string[]> {
  const group = await describeTargetGroup(world, backend);
  if (!group) return [];
  return (await world.api.describeTargetHealth(group.arn))
    .filter((h) => h.state !== 'draining')
    .map((h) => `${h.target.id}:${h.target.port}`)
    .sort();
}

const hostPort = (address: string) => new URL(address).host;
const actionOf = (r: LoggedRequest) => new URLSearchParams(r.body).get('Action') ?? '?';

/** What the same call got when the driver (or the SDK) sent it again after each request a fault hit. */
function afterEachFault(log: LoggedRequest[]): string[] {
  return log.flatMap((r, i) => {
    if (!r.fault) return [];
    const again = log.slice(i + 1).find((x) => actionOf(x) === actionOf(r) && !x.fault);
    const code = /<Code>([^<]+)<\/Code>/.exec(again?.answer ?? '')?.[1];
    return [`${r.fault}: ${again ? `${again.status ?? '?'}${code ? ` ${code}` : ''}` : 'not sent again'}`];
  });
}

describe('faults on the ELBv2 API (moto)', () => {
  let f: AlbFixture | undefined;
  let link: FaultyLink | undefined;

  afterEach(async () => {
    await f?.close();
    await link?.close();
    f = undefined;
    link = undefined;
  });

  test('migration and blue-green v1 -> v2 through 503s, throttling, resets after applied writes and black holes: both succeed, one rule per module, every replica launched once', async () => {
    // Given: the OutSystems layout (the listener's default action forwards to the platform server), and a faulty link.
    f = await createAlbFixture({ name: 'fltalb' });
    link = await faultyLink(toxiproxy(), 'moto', { url: f.world.endpoint });
    const viaLink = { router: { endpoint: link.url } };
    const app = f.application;
    link.http.inject(
      { name: '503 on discover', match: elbv2Call('DescribeRules'), effect: unavailable },
      {
        name: 'reset after creating the target group',
        match: elbv2Call('CreateTargetGroup'),
        effect: resetAfterApplied(),
      },
      { name: 'throttled registering', match: elbv2Call('RegisterTargets'), times: 2, effect: throttling },
      { name: 'reset after creating a rule', match: elbv2Call('CreateRule'), effect: resetAfterApplied() },
      { name: 'black hole on reading the rules', match: elbv2Call('DescribeRules'), effect: blackHole(3_000) },
    );

    // When: the migration (v1 comes up green).
    const first = await f.result(await f.deploySpec(f.spec('1.0.0', viaLink)));

    // Then: every fault hit and its call was sent again and answered. A create whose answer was lost finds, when sent
    // again, that it exists (DuplicateTargetGroupName, PriorityInUse): the driver then reads it back instead of
    // creating a second one. One rule per module, on green.
    expect(first.outcome).toBe('succeeded');
    expect(link.http.pending()).toEqual([]);
    expect(afterEachFault(link.http.requests())).toEqual([
      '503 on discover: 200',
      'reset after creating the target group: 400 DuplicateTargetGroupName',
      'throttled registering: 200',
      'throttled registering: 200',
      'reset after creating a rule: 400 PriorityInUse',
      'black hole on reading the rules: 200',
    ]);
    expect(await rules(f.world)).toEqual([
      `/Cart* -> ${app}-green=100`,
      `/Catalog* -> ${app}-green=100`,
      'default -> platform-server=100',
    ]);

    // When: v2 (blue), with more 503s on discovery than the SDK's own 6 attempts absorb, then faults on the attach,
    // the switch and the retirement of green.
    const blueArnPart = `targetgroup/${app}-blue/`;
    link.http.inject(
      { name: '503s beyond the SDK retries', match: elbv2Call('DescribeRules'), times: 6, effect: unavailable },
      {
        name: '503s on attaching blue',
        match: elbv2Call('ModifyRule', blueArnPart),
        times: 3,
        effect: unavailable,
      },
      { name: 'reset after a switch', match: elbv2Call('ModifyRule', blueArnPart), effect: resetAfterApplied() },
      { name: 'black hole on deleting green', match: elbv2Call('DeleteTargetGroup'), effect: blackHole(3_000) },
    );
    const id = await f.deploySpec(f.spec('2.0.0', viaLink));
    const second = await f.result(id);

    // Then: succeeded; the rules read back forward to blue only, green's target group is gone, blue holds v2.
    expect(second.outcome).toBe('succeeded');
    expect(link.http.pending()).toEqual([]);
    expect(link.http.hits()).toMatchObject({
      '503s beyond the SDK retries': 6,
      '503s on attaching blue': 3,
      'reset after a switch': 1,
      'black hole on deleting green': 1,
    });
    expect(await rules(f.world)).toEqual([
      `/Cart* -> ${app}-blue=100`,
      `/Catalog* -> ${app}-blue=100`,
      'default -> platform-server=100',
    ]);
    expect(await describeTargetGroup(f.world, `${app}-green`)).toBeUndefined();
    const live = await f.liveReplicas();
    expect(live.map((r) => r.version)).toEqual(['2.0.0']);
    expect(await registrations(f.world, `${app}-blue`)).toEqual(live.map((r) => hostPort(r.address)));
    // Each replica launched once: by one completed activity, as one process.
    const set = `${app}-2-0-0-blue`;
    const runs = await activityRuns(f.client.temporal, id);
    // The SDK retried every fault inside one call, except the six 503s: those the activity retried once more.
    expect(retried(runs)).toEqual(['discoverLiveSets x2']);
    expect(runsOf(runs, 'discoverLiveSets')[0]?.failure?.message).toMatch(
      /^ELBv2 DescribeRules on arn:\S+ failed: ServiceUnavailable: busy \(HTTP 503\)$/,
    );
    expect(launchesInHistory(runs)).toEqual({ [`${set}-0`]: 1 });
    expect(localStarts(f.platformDir, set)).toEqual({ [`${set}-0`]: 1 });
    process.stdout.write(
      `ALB faults: ${Object.values(link.http.hits()).reduce((a, b) => a + b, 0)} injected, ` +
        `${link.http.requests().length} ELBv2 requests; activity retries: ${retried(runs).join(', ') || 'none'}\n`,
    );
  });

  test('rolling v1 -> v2 through a reset after registering, a black hole on target health and throttled deregistering: succeeds, registrations exact, every replica launched once', async () => {
    // Given: v1 live from the rolling target group (no faults yet).
    f = await createAlbFixture({ name: 'fltalbroll' });
    link = await faultyLink(toxiproxy(), 'moto-rolling', { url: f.world.endpoint });
    const strategy = { maxSurge: 0, maxUnavailable: 1 };
    expect((await f.result(await f.deployRolling('1.0.0', { strategy }))).outcome).toBe('succeeded');
    const rolling = `${f.application}-rolling`;
    // One out, one in: v1 is deregistered first, then v2 registered.
    link.http.inject(
      { name: 'throttled deregistering', match: elbv2Call('DeregisterTargets'), times: 3, effect: throttling },
      { name: 'reset after registering', match: elbv2Call('RegisterTargets'), effect: resetAfterApplied() },
      { name: 'black hole on target health', match: elbv2Call('DescribeTargetHealth'), effect: blackHole(3_000) },
    );

    // When
    const id = await f.deploySpec(f.rollingSpec('2.0.0', { strategy, router: { endpoint: link.url } }));
    const result = await f.result(id);

    // Then
    expect(result.outcome).toBe('succeeded');
    expect(link.http.pending()).toEqual([]);
    expect(afterEachFault(link.http.requests())).toEqual([
      'throttled deregistering: 200',
      'throttled deregistering: 200',
      'throttled deregistering: 200',
      'reset after registering: 200',
      'black hole on target health: 200',
    ]);
    const live = await f.liveReplicas();
    expect(live.map((r) => r.version)).toEqual(['2.0.0']);
    expect(await registrations(f.world, rolling)).toEqual(live.map((r) => hostPort(r.address)));
    expect(await rules(f.world)).toEqual([
      `/Cart* -> ${rolling}=100`,
      `/Catalog* -> ${rolling}=100`,
      'default -> platform-server=100',
    ]);
    const runs = await activityRuns(f.client.temporal, id);
    const launched = launchesInHistory(runs);
    expect(Object.values(launched)).toEqual([1]);
    const [replica] = Object.keys(launched);
    expect(localStarts(f.platformDir, replica?.replace(/-\d+$/, '') ?? '')).toEqual(launched);
  });

  test.each([
    {
      code: 'AccessDenied',
      status: 403,
      call: 'ModifyRule',
      message:
        'User: arn:aws:iam::123456789012:user/cutover is not authorized to perform: elasticloadbalancing:ModifyRule',
      type: 'RouterRequestRejectedError',
      failing: 'switchTraffic',
    },
    {
      code: 'ValidationError',
      status: 400,
      call: 'RegisterTargets',
      message: 'Target IP 127.0.0.1 is not in the VPC',
      type: 'RouterRequestRejectedError',
      failing: 'publishReplicaSet',
    },
  ])(
    'a permanent $code on $call for the new side: fails fast (one attempt, one request) naming ELBv2 and its answer; rules read back on v1, the new side retired',
    async ({ code, status, call, message, type, failing }) => {
      // Given: v1 live on green, and moto's place taken by an answer refusing one call on blue's target group.
      f = await createAlbFixture({ name: 'fltalbdeny' });
      link = await faultyLink(toxiproxy(), 'moto-deny', { url: f.world.endpoint });
      expect((await f.result(await f.deploy('1.0.0'))).outcome).toBe('succeeded');
      const app = f.application;
      const before = await rules(f.world);
      link.http.inject({
        name: `${code} for good`,
        match: elbv2Call(call, `targetgroup/${app}-blue/`),
        times: Infinity,
        effect: answer(status, elbv2ErrorBody(code, message), xml),
      });

      // When
      const id = await f.deploySpec(f.spec('2.0.0', { router: { endpoint: link.url } }));
      const result = await f.result(id);

      // Then: rolled back; the reason names the API, the call, the resource and what AWS said.
      expect(result.outcome).toBe('rolled-back');
      expect(result.reason).toMatch(new RegExp(`^ELBv2 ${call} on arn:aws:elasticloadbalancing:us-east-1:\\d+:`));
      expect(result.reason).toContain(`failed: ${code}: ${message}`);
      // Fast: the SDK did not retry it (one request reached the fault) and the activity ran once.
      expect(link.http.hits()[`${code} for good`]).toBe(1);
      const runs = await activityRuns(f.client.temporal, id);
      expect(runsOf(runs, failing).map((r) => [r.outcome, r.attempt, r.failure?.type])).toEqual([['failed', 1, type]]);
      // Compensation: the rules read back as before (green, v1), blue's target group and replica are gone.
      expect(await rules(f.world)).toEqual(before);
      expect(before).toEqual([
        `/Cart* -> ${app}-green=100`,
        `/Catalog* -> ${app}-green=100`,
        'default -> platform-server=100',
      ]);
      expect(await describeTargetGroup(f.world, `${app}-blue`)).toBeUndefined();
      expect((await f.liveReplicas()).map((r) => r.version)).toEqual(['1.0.0']);
    },
  );
});
