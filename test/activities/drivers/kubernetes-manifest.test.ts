/**
 * The pod manifest the Kubernetes driver sends (records.ts podManifest, client-shapes.ts toK8sPod), byte for byte: a
 * spec without the optional pod fields (readiness, preStop, nodeSelector, tolerations) must give exactly the pod it
 * gave before they existed (the JSON below is what main's driver produced, a29e92e), and each field lands where the
 * kubelet and the scheduler read it. The kwok suite (kubernetes-platform.test.ts) checks the API server accepts them.
 */
import { toK8sPod } from '../../../activities/drivers/kubernetes/client-shapes';
import type { KubernetesPlatformConfig } from '../../../activities/drivers/kubernetes/records';
import { podManifest } from '../../../activities/drivers/kubernetes/records';
import type { SetRecord } from '../../../activities/drivers/kubernetes/records';
import { validateSpec } from '../../../workflows/spec';
import { blueGreenSpec } from '../../support/specs';

const set: SetRecord = {
  record: { name: 'shop-2-0-0-green', uid: 'uid-1', resourceVersion: '7', labels: {}, data: {} },
  spec: { application: 'shop', version: '2.0.0', slot: 'green', modules: ['Catalog', 'Cart'], env: { FEATURE: 'on' } },
  desired: 2,
};
const id = 'shop-2-0-0-green-1';
const pod = (config: KubernetesPlatformConfig) => JSON.stringify(toK8sPod(podManifest(config, 30, set, id)));

/** The driver's config from a parsed spec, as activities/drivers/index.ts hands it over. */
function parsed(platform: Record<string, unknown>): KubernetesPlatformConfig {
  const result = validateSpec({
    ...blueGreenSpec(),
    platform: { kind: 'kubernetes', namespace: 'shop', image: 'reg/shop:{version}', port: 8080, ...platform },
  });
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  if (result.spec.platform.kind !== 'kubernetes') throw new Error('not kubernetes');
  const { kind: _kind, ...config } = result.spec.platform;
  return config;
}

describe('Kubernetes pod manifest', () => {
  test('without the optional pod fields: byte-identical to the manifest before they existed', () => {
    expect(pod({ namespace: 'shop', image: 'reg/shop:{version}', port: 8080 })).toBe(
      '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"shop-2-0-0-green-1","labels":{"app.kubernetes.io/name":"shop","app.kubernetes.io/managed-by":"cutover","cutover.io/replica-set":"shop-2-0-0-green","cutover.io/slot":"green","cutover.io/version":"2.0.0","cutover.io/replica-index":"1"},"annotations":{"cutover.io/version":"2.0.0"},"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"shop-2-0-0-green","uid":"uid-1","blockOwnerDeletion":false}]},"spec":{"containers":[{"name":"app","image":"reg/shop:2.0.0","ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}],"env":[{"name":"CUTOVER_APP","value":"shop"},{"name":"CUTOVER_MODULES","value":"Catalog,Cart"},{"name":"CUTOVER_REPLICA_ID","value":"shop-2-0-0-green-1"},{"name":"CUTOVER_VERSION","value":"2.0.0"},{"name":"FEATURE","value":"on"},{"name":"PORT","value":"8080"}],"readinessProbe":{"httpGet":{"path":"/Catalog/_ping.html","port":8080},"periodSeconds":5,"failureThreshold":3}}],"terminationGracePeriodSeconds":30,"restartPolicy":"Always"}}',
    );
    const everyOldField = {
      namespace: 'shop',
      image: 'reg/shop:{version}',
      port: 8080,
      probe: 'readiness' as const,
      readinessPath: '/{module}/_ping.html',
      gracePeriod: 30_000,
      env: { LOG_LEVEL: 'info' },
      resources: { limits: { memory: '1Gi' } },
      serviceAccountName: 'runner',
      imagePullSecrets: ['creds'],
    };
    expect(pod(everyOldField)).toBe(
      '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"shop-2-0-0-green-1","labels":{"app.kubernetes.io/name":"shop","app.kubernetes.io/managed-by":"cutover","cutover.io/replica-set":"shop-2-0-0-green","cutover.io/slot":"green","cutover.io/version":"2.0.0","cutover.io/replica-index":"1"},"annotations":{"cutover.io/version":"2.0.0"},"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"shop-2-0-0-green","uid":"uid-1","blockOwnerDeletion":false}]},"spec":{"containers":[{"name":"app","image":"reg/shop:2.0.0","ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}],"env":[{"name":"CUTOVER_APP","value":"shop"},{"name":"CUTOVER_MODULES","value":"Catalog,Cart"},{"name":"CUTOVER_REPLICA_ID","value":"shop-2-0-0-green-1"},{"name":"CUTOVER_VERSION","value":"2.0.0"},{"name":"FEATURE","value":"on"},{"name":"LOG_LEVEL","value":"info"},{"name":"PORT","value":"8080"}],"readinessProbe":{"httpGet":{"path":"/Catalog/_ping.html","port":8080},"periodSeconds":5,"failureThreshold":3},"resources":{"limits":{"memory":"1Gi"}}}],"serviceAccountName":"runner","imagePullSecrets":[{"name":"creds"}],"terminationGracePeriodSeconds":30,"restartPolicy":"Always"}}',
    );
    // And from a parsed spec (its defaults filled in): the same pod.
    expect(JSON.parse(pod(parsed({})))).toEqual(
      JSON.parse(
        '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"shop-2-0-0-green-1","labels":{"app.kubernetes.io/name":"shop","app.kubernetes.io/managed-by":"cutover","cutover.io/replica-set":"shop-2-0-0-green","cutover.io/slot":"green","cutover.io/version":"2.0.0","cutover.io/replica-index":"1"},"annotations":{"cutover.io/version":"2.0.0"},"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"shop-2-0-0-green","uid":"uid-1","blockOwnerDeletion":false}]},"spec":{"containers":[{"name":"app","image":"reg/shop:2.0.0","ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}],"env":[{"name":"CUTOVER_APP","value":"shop"},{"name":"CUTOVER_MODULES","value":"Catalog,Cart"},{"name":"CUTOVER_REPLICA_ID","value":"shop-2-0-0-green-1"},{"name":"CUTOVER_VERSION","value":"2.0.0"},{"name":"FEATURE","value":"on"},{"name":"PORT","value":"8080"}],"readinessProbe":{"httpGet":{"path":"/Catalog/_ping.html","port":8080},"periodSeconds":5,"failureThreshold":3}}],"terminationGracePeriodSeconds":30,"restartPolicy":"Always"}}',
      ),
    );
  });

  test('readiness, preStop, nodeSelector and tolerations land in the pod spec, durations in whole seconds', () => {
    const manifest = toK8sPod(
      podManifest(
        parsed({
          readiness: { period: '2s', timeout: '3s', initialDelay: '4s', failureThreshold: 6, successThreshold: 2 },
          preStop: { httpGet: { path: '/_drain' } },
          nodeSelector: { 'cutover.test/pool': 'cutover' },
          tolerations: [{ key: 'cutover.test/dedicated', operator: 'Equal', value: 'cutover', effect: 'NoSchedule' }],
        }),
        30,
        set,
        id,
      ),
    );
    const container = manifest.spec?.containers[0];
    expect(container?.readinessProbe).toEqual({
      httpGet: { path: '/Catalog/_ping.html', port: 8080 },
      initialDelaySeconds: 4,
      periodSeconds: 2,
      timeoutSeconds: 3,
      failureThreshold: 6,
      successThreshold: 2,
    });
    expect(container?.lifecycle).toEqual({ preStop: { httpGet: { path: '/_drain', port: 8080 } } });
    expect(manifest.spec?.nodeSelector).toEqual({ 'cutover.test/pool': 'cutover' });
    expect(manifest.spec?.tolerations).toEqual([
      { key: 'cutover.test/dedicated', operator: 'Equal', value: 'cutover', effect: 'NoSchedule' },
    ]);

    // One readiness field alone: the others keep today's values (period 5 s, 3 failures) or the kubelet's.
    const one = toK8sPod(podManifest(parsed({ readiness: { failureThreshold: 1 } }), 30, set, id));
    expect(one.spec?.containers[0]?.readinessProbe).toEqual({
      httpGet: { path: '/Catalog/_ping.html', port: 8080 },
      periodSeconds: 5,
      failureThreshold: 1,
    });
    const sleep = toK8sPod(podManifest(parsed({ preStop: { sleep: '5s' } }), 30, set, id));
    expect(sleep.spec?.containers[0]?.lifecycle).toEqual({ preStop: { sleep: { seconds: 5 } } });
  });
});
