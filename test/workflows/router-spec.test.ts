/** The spec's `router` section for the ALB, nginx and Service drivers: the example specs, defaults, refused fields. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { validateSpec } from '../../workflows/spec';
import type { DeploymentSpecInput } from '../../workflows/spec';
import { blueGreenSpec } from '../support/specs';

const LISTENER =
  'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop-lb/50dc6c495c0c9188/f2f7dc8efc522ab2';

function withRouter(router: Record<string, unknown>): DeploymentSpecInput {
  return { ...blueGreenSpec(), router: router as DeploymentSpecInput['router'] };
}

function fieldsOf(router: Record<string, unknown>): string[] {
  const result = validateSpec(withRouter(router));
  return result.ok ? [] : result.issues.map((i) => `${i.field}: ${i.message}`);
}

test.each(['blue-green-alb.yaml', 'blue-green-nginx.yaml', 'blue-green-k8s-alb.yaml', 'blue-green-k8s-service.yaml'])(
  'examples/specs/%s is valid',
  (file) => {
    const raw: unknown = parse(fs.readFileSync(path.join(__dirname, '../../examples/specs', file), 'utf8'));
    const result = validateSpec(raw);
    expect(result.ok ? 'valid' : result.issues).toBe('valid');
  },
);

describe('router.kind aws-alb', () => {
  test('defaults: priorities, the OutSystems path pattern, the preview header, waits that fit an activity', () => {
    const result = validateSpec(
      withRouter({ kind: 'aws-alb', region: 'eu-west-1', listenerArn: LISTENER, targetGroups: { vpcId: 'vpc-0a1b' } }),
    );
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.spec.router).toMatchObject({
      rulePriorities: { first: 1000, last: 1999 },
      pathPatterns: ['/{module}*'],
      previewHeader: 'x-cutover-preview',
      targetHealthTimeout: 40_000,
      drainTimeout: 40_000,
      targetGroups: { port: 80, protocol: 'HTTP', deregistrationDelay: 30_000 },
    });
  });

  test.each([
    [
      { listenerArn: 'arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/x/1' },
      'router.listenerArn: expected an Application Load Balancer listener ARN',
    ],
    [{ accessKeyId: 'AKIA...' }, 'router: Unrecognized key: "accessKeyId"'],
    [{ targetGroups: undefined }, 'router.targetGroups: set targetGroups'],
    [{ shift: { steps: [50, 10] } }, 'router.shift.steps: steps must increase'],
    [{ shift: { steps: [10, 20, 30], interval: '20s' } }, 'router.shift: steps x interval must be at most 30s'],
    [{ targetHealthTimeout: '5m' }, 'router.targetHealthTimeout: must be at most 50s'],
    [{ rulePriorities: { first: 10, last: 10 } }, 'router.rulePriorities: last must be above first'],
    [{ targetGroupArns: { 'shop-blue': 'arn:nope' } }, 'router.targetGroupArns.shop-blue: expected a target group ARN'],
  ])('refuses %j', (override, message) => {
    const base = { kind: 'aws-alb', region: 'eu-west-1', listenerArn: LISTENER, targetGroups: { vpcId: 'vpc-0a1b' } };
    expect(fieldsOf({ ...base, ...override }).join('\n')).toContain(message);
  });
});

describe('router.kind nginx', () => {
  const base = {
    kind: 'nginx',
    confDir: '/etc/nginx/cutover',
    nginxConf: '/etc/nginx/nginx.conf',
    pidFile: '/run/nginx.pid',
    publicUrl: 'http://127.0.0.1',
  };

  test('defaults: nginx on PATH, upstream "platform", a 500 ms drain before each reload', () => {
    const result = validateSpec(withRouter(base));
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.spec.router).toMatchObject({
      nginxBin: 'nginx',
      defaultUpstream: 'platform',
      previewHeader: 'x-cutover-preview',
      reload: { drain: 500, timeout: 30_000 },
    });
  });

  test.each([
    [{ confDir: 'cutover' }, 'router.confDir: must be an absolute path'],
    [{ pidFile: undefined }, 'router.pidFile'],
    [{ reload: { drain: '1m' } }, 'router.reload.drain: must be at most 10s'],
    [{ defaultUpstream: 'platform server' }, 'router.defaultUpstream'],
    [{ metricsLog: 'cutover-metrics.log' }, 'router.metricsLog: metricsLog must be an absolute path'],
    [{ metricsLog: '/var/log/nginx/$host.log' }, 'router.metricsLog: metricsLog must be an absolute path'],
    [{ metricsLog: '/var/log/nginx/a b.log' }, 'router.metricsLog: metricsLog must be an absolute path'],
  ])('refuses %j', (override, message) => {
    expect(fieldsOf({ ...base, ...override }).join('\n')).toContain(message);
  });

  test('metricsLog: optional (no metrics log unless asked), an absolute path passed to the driver as given', () => {
    const without = validateSpec(withRouter(base));
    if (!without.ok) throw new Error(JSON.stringify(without.issues));
    expect(without.spec.router).not.toHaveProperty('metricsLog');
    const withLog = validateSpec(withRouter({ ...base, metricsLog: '/var/log/nginx/cutover-metrics.log' }));
    if (!withLog.ok) throw new Error(JSON.stringify(withLog.issues));
    expect(withLog.spec.router).toMatchObject({ metricsLog: '/var/log/nginx/cutover-metrics.log' });
  });
});

describe('router.kind kubernetes-service', () => {
  const router = { kind: 'kubernetes-service', namespace: 'shop', service: 'shop' };
  const platform = { kind: 'kubernetes', namespace: 'shop', image: 'registry.example.com/shop:{version}', port: 8080 };
  const spec = (overrides: Record<string, unknown> = {}): DeploymentSpecInput =>
    ({ ...blueGreenSpec(), platform, router, ...overrides }) as DeploymentSpecInput;
  const issues = (raw: DeploymentSpecInput): string[] => {
    const result = validateSpec(raw);
    return result.ok ? [] : result.issues.map((i) => `${i.field}: ${i.message}`);
  };

  test('defaults: a 2 s wait for kube-proxy, 40 s for the EndpointSlices; no publicUrl (the ClusterIP)', () => {
    const result = validateSpec(spec());
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.spec.router).toEqual({ ...router, proxySync: 2_000, endpointsTimeout: 40_000 });
  });

  test.each([
    [{ service: 'Shop_Svc' }, 'router.service: service must be a Service name'],
    [{ service: '1shop' }, 'router.service: service must be a Service name'],
    [{ namespace: undefined }, 'router.namespace'],
    [{ proxySync: '1m' }, 'router.proxySync: must be at most 30s'],
    [{ endpointsTimeout: '2m' }, 'router.endpointsTimeout: must be at most 50s'],
    [{ token: 'eyJhbGciOi...' }, 'router: Unrecognized key: "token"'],
  ])('refuses the section %j', (override, message) => {
    expect(issues(spec({ router: { ...router, ...override } })).join('\n')).toContain(message);
  });

  test.each([
    [
      'a rolling update',
      { strategy: { type: 'rolling' } },
      "strategy.type: router.kind kubernetes-service switches a Service's selector between blue and green: strategy rolling is not supported",
    ],
    [
      'a canary',
      { strategy: { type: 'canary', steps: [{ setWeight: 50 }, { pause: { duration: '1m' } }, { setWeight: 100 }] } },
      'strategy.type: router.kind kubernetes-service switches a Service',
    ],
    [
      'a blue-green preview',
      { strategy: { type: 'blue-green', preview: { enabled: true } } },
      'strategy.preview.enabled: router.kind kubernetes-service has no preview route',
    ],
    [
      'module-by-module switching',
      { strategy: { type: 'blue-green', switchMode: 'module-by-module' } },
      'strategy.switchMode: router.kind kubernetes-service serves every module through one Service',
    ],
    [
      'the local platform',
      { platform: { kind: 'local' } },
      'platform.kind: router.kind kubernetes-service selects pods of the Kubernetes platform: platform.kind must be kubernetes, not local',
    ],
    [
      "another namespace than the platform's",
      { platform: { ...platform, namespace: 'other' } },
      "router.namespace: must be the platform's namespace (other)",
    ],
  ])('refuses %s, naming the field', (_what, overrides, message) => {
    expect(issues(spec(overrides)).join('\n')).toContain(message);
  });

  test('blue-green, all at once, no preview, the platform in the same namespace: valid', () => {
    expect(issues(spec({ strategy: { type: 'blue-green', switchMode: 'all-at-once' } }))).toEqual([]);
  });
});
