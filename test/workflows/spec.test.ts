/** The deployment spec schema: defaults, durations, and errors that name the field. */
import { parseDuration, validateSpec } from '../../workflows/spec';
import { blueGreenSpec } from '../support/specs';

describe('deployment spec', () => {
  test('fills in defaults and turns durations into milliseconds', () => {
    const result = validateSpec({
      application: 'shop',
      version: '2.0.0',
      modules: ['Catalog'],
      platform: { kind: 'local' },
      router: { kind: 'local', adminUrl: 'http://127.0.0.1:1', publicUrl: 'http://127.0.0.1:2' },
      strategy: { type: 'blue-green', rollbackWindow: '2h' },
    });
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.spec.environment).toBe('default');
    expect(result.spec.replicas).toBe(2);
    expect(result.spec.health).toMatchObject({ path: '/{module}/_ping.html', successThreshold: 2, deadline: 300_000 });
    expect(result.spec.strategy).toMatchObject({
      rollbackWindow: 7_200_000,
      switchMode: 'all-at-once',
      approval: { mode: 'automatic', onTimeout: 'rollback' },
    });
  });

  test.each([
    ['250ms', 250],
    ['30s', 30_000],
    ['1.5m', 90_000],
    ['2h', 7_200_000],
    ['3d', 259_200_000],
    [1234, 1234],
  ])('duration %p is %p ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  test.each([
    [{ replicas: 0 }, 'replicas'],
    [{ application: 'Shop_1' }, 'application'],
    [{ modules: [] }, 'modules'],
    [{ modules: ['Cart', 'Cart'] }, 'modules'],
    [{ modules: ['../etc'] }, 'modules.0'],
    [{ version: '' }, 'version'],
    [{ strategy: { rollbackWindow: 'soon' } }, 'strategy.rollbackWindow'],
    [{ strategy: { approval: { mode: 'sometimes' } } }, 'strategy.approval.mode'],
    [{ strategy: { previewReplicas: 5 } }, 'strategy.previewReplicas'],
    [{ health: { path: 'ping' } }, 'health.path'],
    [{ adminUrl: 'not a url' }, 'router.adminUrl'],
  ])('rejects %j naming %s', (overrides, field) => {
    const result = validateSpec(blueGreenSpec(overrides));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => i.field)).toContain(field);
  });

  test('rejects unknown fields (a typo must not be silently ignored)', () => {
    const result = validateSpec({ ...blueGreenSpec(), replicaz: 3 });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues[0]?.message).toMatch(/replicaz/);
  });

  test('rejects an unknown router kind, naming router.kind', () => {
    const result = validateSpec({ ...blueGreenSpec(), router: { kind: 'haproxy' } });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues.map((i) => i.field)).toContain('router.kind');
  });

  describe('platform.kind kubernetes', () => {
    const k8s = (platform: Record<string, unknown>) => ({
      ...blueGreenSpec(),
      platform: {
        kind: 'kubernetes',
        namespace: 'shop',
        image: 'registry.example.com/shop:{version}',
        port: 8080,
        ...platform,
      },
    });

    test('accepts the minimal section and fills in the defaults', () => {
      const result = validateSpec(k8s({}));
      if (!result.ok) throw new Error(JSON.stringify(result.issues));
      expect(result.spec.platform).toEqual({
        kind: 'kubernetes',
        namespace: 'shop',
        image: 'registry.example.com/shop:{version}',
        port: 8080,
        probe: 'readiness',
        readinessPath: '/{module}/_ping.html',
        gracePeriod: 30_000,
        env: {},
      });
    });

    test('accepts every optional field', () => {
      const result = validateSpec(
        k8s({
          kubeconfig: '/etc/cutover/kubeconfig',
          context: 'prod-eu',
          probe: 'http',
          readinessPath: '/health',
          gracePeriod: '45s',
          resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '1Gi' } },
          serviceAccountName: 'shop-runner',
          imagePullSecrets: ['registry-creds'],
          env: { LOG_LEVEL: 'info' },
        }),
      );
      if (!result.ok) throw new Error(JSON.stringify(result.issues));
      expect(result.spec.platform).toMatchObject({ gracePeriod: 45_000, probe: 'http', context: 'prod-eu' });
    });

    test('readiness, preStop, nodeSelector and tolerations: optional, durations in ms, given as written', () => {
      const scheduling = {
        nodeSelector: { 'cutover.test/pool': 'cutover', 'kubernetes.io/os': 'linux', empty: '' },
        tolerations: [
          { key: 'cutover.test/dedicated', operator: 'Equal', value: 'cutover', effect: 'NoSchedule' },
          { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 },
          { operator: 'Exists' },
        ],
      };
      const result = validateSpec(
        k8s({
          readiness: { period: '2s', timeout: '1s', initialDelay: '0s', failureThreshold: 2, successThreshold: 1 },
          preStop: { sleep: '5s' },
          gracePeriod: '10s',
          ...scheduling,
        }),
      );
      if (!result.ok) throw new Error(JSON.stringify(result.issues));
      expect(result.spec.platform).toMatchObject({
        readiness: { period: 2000, timeout: 1000, initialDelay: 0, failureThreshold: 2, successThreshold: 1 },
        preStop: { sleep: 5000 },
        ...scheduling,
      });
      const drain = validateSpec(k8s({ preStop: { httpGet: { path: '/_drain' } } }));
      if (!drain.ok) throw new Error(JSON.stringify(drain.issues));
      expect(drain.spec.platform).toMatchObject({ preStop: { httpGet: { path: '/_drain' } } });
      // A preStop sleep just shorter than the grace period is accepted.
      expect(validateSpec(k8s({ preStop: { sleep: '29s' } })).ok).toBe(true);
    });

    test.each([
      [{ namespace: undefined }, 'platform.namespace', /expected string/],
      [{ namespace: 'Shop_NS' }, 'platform.namespace', /namespace must be a DNS label/],
      [{ image: '' }, 'platform.image', /image is required/],
      [{ image: 'registry/shop: 1' }, 'platform.image', /must not contain spaces/],
      [{ port: '8080' }, 'platform.port', /port must be a number/],
      [{ port: 70_000 }, 'platform.port', /65535/],
      [{ probe: 'tcp' }, 'platform.probe', /probe must be "readiness" \(pod Ready condition\) or "http"/],
      [{ gracePeriod: 'soon' }, 'platform.gracePeriod', /expected a duration/],
      [{ gracePeriod: '2h' }, 'platform.gracePeriod', /at most 1h/],
      [{ readinessPath: 'ping' }, 'platform.readinessPath', /must start with "\/"/],
      [{ resources: { limits: { cpu: 'lots' } } }, 'platform.resources.limits.cpu', /Kubernetes quantity/],
      [{ serviceAccountName: 'Runner!' }, 'platform.serviceAccountName', /DNS label/],
      [{ imagePullSecrets: ['ok', 'Not OK'] }, 'platform.imagePullSecrets.1', /DNS label/],
      [{ readiness: { period: '2.5s' } }, 'platform.readiness.period', /whole number of seconds/],
      [{ readiness: { period: '0s' } }, 'platform.readiness.period', /at least 1s/],
      [{ readiness: { timeout: '2h' } }, 'platform.readiness.timeout', /at most 1h/],
      [{ readiness: { failureThreshold: 0 } }, 'platform.readiness.failureThreshold', /from 1 to 100/],
      [{ readiness: { successThreshold: 1.5 } }, 'platform.readiness.successThreshold', /whole number/],
      [{ readiness: { interval: '5s' } }, 'platform.readiness', /interval/],
      [{ preStop: { exec: ['sleep', '5'] } }, 'platform.preStop', /preStop must be \{httpGet/],
      [{ preStop: { httpGet: { path: 'drain' } } }, 'platform.preStop.httpGet.path', /must start with "\/"/],
      [{ preStop: { sleep: '500ms' } }, 'platform.preStop.sleep', /whole number of seconds/],
      [
        { preStop: { sleep: '30s' } },
        'platform.preStop.sleep',
        /preStop.sleep \(30s\) must be shorter than gracePeriod \(30s\)/,
      ],
      [{ preStop: { sleep: '10s' }, gracePeriod: '5s' }, 'platform.preStop.sleep', /shorter than gracePeriod \(5s\)/],
      [{ nodeSelector: { 'bad key!': 'x' } }, 'platform.nodeSelector.bad key!', /must be a label key/],
      [{ nodeSelector: { 'Example.com/pool': 'x' } }, 'platform.nodeSelector.Example.com/pool', /must be a label key/],
      [{ nodeSelector: { pool: 'x'.repeat(64) } }, 'platform.nodeSelector.pool', /at most 63 characters/],
      [{ nodeSelector: { pool: '-edge' } }, 'platform.nodeSelector.pool', /begin and end with a letter or digit/],
      [{ nodeSelector: { pool: 1 } }, 'platform.nodeSelector.pool', /label values are strings/],
      [
        { tolerations: [{ key: 'a', operator: 'Exists', value: 'b' }] },
        'platform.tolerations.0.value',
        /Exists matches any value/,
      ],
      [
        { tolerations: [{ operator: 'Equal', value: 'b' }] },
        'platform.tolerations.0.operator',
        /without a key must have operator Exists/,
      ],
      [{ tolerations: [{ key: 'a', operator: 'In' }] }, 'platform.tolerations.0.operator', /"Equal" or "Exists"/],
      [
        { tolerations: [{ key: 'a', effect: 'NoRun' }] },
        'platform.tolerations.0.effect',
        /"NoSchedule", "PreferNoSchedule" or "NoExecute"/,
      ],
      [
        { tolerations: [{ key: 'a', effect: 'NoSchedule', tolerationSeconds: 5 }] },
        'platform.tolerations.0.tolerationSeconds',
        /needs effect NoExecute/,
      ],
      [{ tolerations: [{ key: 'a/b/c' }] }, 'platform.tolerations.0.key', /must be a label key/],
      [{ tolerations: [{ key: 'a', seconds: 1 }] }, 'platform.tolerations.0', /seconds/],
      [{ token: 'abc' }, 'platform', /token/],
      [{ stateDir: '/tmp' }, 'platform', /stateDir/],
    ])('rejects %j naming %s', (platform, field, message) => {
      const result = validateSpec(k8s(platform));
      expect(result.ok).toBe(false);
      if (result.ok) return;
      const issue = result.issues.find((i) => i.field === field);
      expect(issue?.message).toMatch(message);
    });
  });
});
