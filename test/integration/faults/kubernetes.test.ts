/**
 * Faults between Cutover's Kubernetes driver and a real kube-apiserver (kwok plays the kubelets:
 * test/support/kwok.ts), during real blue-green deployments whose router is an ALB on moto (no traffic flows: kwok's
 * pod IPs are fake). Two ways in front of the API server:
 *
 * - Toxiproxy alone, passing the driver's TLS through untouched (the kubeconfig keeps its client certificate; only
 *   the server address changes): latency and a black hole at the TCP level;
 * - Toxiproxy, then the HTTP fault layer, which speaks TLS to the API server with the admin's certificate and plain
 *   HTTP to the driver: resets after a pod creation was applied, 429 and 503 Status answers aimed at single requests.
 *
 * A permanent fault is the API server's own: a Role without `create` on pods (RBAC 403).
 *
 * Pod names are deterministic (<set>-<index>): "created once" is one 201 per pod name in the link's log (a retried
 * creation meets 409 AlreadyExists and reads the pod back), pods whose uids are those the 201 answers carried, and
 * one completed launch activity per pod in the history.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { newKubernetesDriver } from '../../../activities/drivers/kubernetes';
import { useAlbFixtures } from '../../support/alb-fixture';
import type { AlbFixture } from '../../support/alb-fixture';
import { activityRuns, retried, runsOf } from '../../support/history';
import { answer, faultyLink, request, resetAfterApplied } from '../../support/http-faults';
import type { FaultyLink, LoggedRequest } from '../../support/http-faults';
import {
  adminTls,
  k8sStatusBody,
  kubeconfigForHttpFront,
  kubeconfigVia,
  kubeconfigWithRole,
  useKwokCluster,
} from '../../support/kwok';
import type { KwokCluster } from '../../support/kwok';
import { launchesInHistory } from '../../support/launches';
import { ruleTable } from '../../support/moto';
import type { AlbWorld } from '../../support/moto';
import { useToxiproxy } from '../../support/toxiproxy';
import type { ToxiProxy } from '../../support/toxiproxy';

jest.setTimeout(180_000);

const cluster = useKwokCluster('faults-k8s');
const toxiproxy = useToxiproxy();
const createAlbFixture = useAlbFixtures();

const IMAGE = 'registry.example.invalid/shop:{version}';
const json = { 'content-type': 'application/json' };

interface K8sFixture extends AlbFixture {
  namespace: string;
  /** The kubeconfig the next deployments' spec names (the admin's until changed). */
  useKubeconfig(file: string): void;
}

/** An ALB fixture (moto, no faults) whose platform is the Kubernetes driver in a fresh namespace. */
async function createK8sFixture(k: KwokCluster, name: string): Promise<K8sFixture> {
  const namespace = await k.createNamespace(name);
  let kubeconfig = k.kubeconfig;
  const platformSpec = { kind: 'kubernetes' as const, namespace, image: IMAGE, port: 8080, gracePeriod: '1s' };
  const fixture = await createAlbFixture({
    name,
    replicas: 2,
    platform: () => ({
      // What the fixture reads and cleans up with: the admin's, straight to the API server.
      driver: newKubernetesDriver({ ...platformSpec, kubeconfig: k.kubeconfig, gracePeriod: 1000 }),
      spec: () => ({ ...platformSpec, kubeconfig }),
    }),
  });
  return {
    ...fixture,
    namespace,
    useKubeconfig: (file) => {
      kubeconfig = file;
    },
  };
}

async function rules(world: AlbWorld): Promise<string[]> {
  return (await ruleTable(world))
    .map((r) => `${r.priority === 'default' ? 'default' : r.paths.join(',')} -> ${r.forward.join(' ')}`)
    .sort();
}

/** "name uid creationTimestamp" of the application's pods (not terminating), by name. */
async function podIdentities(k: KwokCluster, namespace: string, application: string): Promise<string[]> {
  const list = await k.core.listNamespacedPod({ namespace, labelSelector: `app.kubernetes.io/name=${application}` });
  return list.items
    .filter((p: V1Pod) => !p.metadata?.deletionTimestamp)
    .map((p: V1Pod) => `${p.metadata?.name} ${p.metadata?.uid} ${p.metadata?.creationTimestamp?.toISOString()}`)
    .sort();
}

/** Pod creations in the link's log: pod name -> the statuses the API server answered, and the uid a 201 carried. */
function podCreations(log: LoggedRequest[], namespace: string): Record<string, { statuses: number[]; uid?: string }> {
  const out: Record<string, { statuses: number[]; uid?: string }> = {};
  for (const r of log.filter((x) => x.method === 'POST' && x.path.startsWith(`/api/v1/namespaces/${namespace}/pods`))) {
    const name = (JSON.parse(r.body) as V1Pod).metadata?.name ?? '?';
    const entry = (out[name] ??= { statuses: [] });
    entry.statuses.push(r.status ?? 0);
    if (r.status === 201) entry.uid = /"uid":"([^"]+)"/.exec(r.answer ?? '')?.[1];
  }
  return out;
}

/** The first activity of the deployment that is being retried: its type and the failure it is retried for. */
async function firstPendingFailure(f: AlbFixture, id: string): Promise<{ type: string; message: string }> {
  for (;;) {
    const pending = (await f.client.handle(id).describe()).raw.pendingActivities ?? [];
    const hit = pending.find((a) => a.lastFailure?.message);
    if (hit) return { type: hit.activityType?.name ?? '?', message: hit.lastFailure?.message ?? '' };
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('faults on the Kubernetes API server (kwok)', () => {
  let f: K8sFixture | undefined;
  let link: FaultyLink | undefined;
  let tls: ToxiProxy | undefined;

  afterEach(async () => {
    await f?.close();
    await link?.close();
    await tls?.delete();
    f = link = tls = undefined;
  });

  test('blue-green v1 -> v2 through a 429, a reset after a pod was created, a 503 and a black hole on retiring v1: succeeds, the stalled call ends on the driver deadline, each pod created once (one 201 per name, uids unchanged)', async () => {
    // Given: v1 on green (admin kubeconfig, straight), and the HTTP fault link in front of the API server.
    const k = cluster();
    f = await createK8sFixture(k, 'fltk8s');
    expect((await f.result(await f.deploy('1.0.0'))).outcome).toBe('succeeded');
    const { application: app, namespace: ns } = f;
    const front = await adminTls(k);
    link = await faultyLink(toxiproxy(), 'kube-apiserver', { url: front.server, tls: front.tls });
    f.useKubeconfig(kubeconfigForHttpFront(k, link.url, `faulty-${ns}`));
    link.http.inject(
      {
        name: '429 listing replica sets',
        match: request('GET', `/api/v1/namespaces/${ns}/configmaps`),
        effect: answer(429, k8sStatusBody(429, 'TooManyRequests', 'too many requests, try again later'), {
          ...json,
          'retry-after': '1',
        }),
      },
      {
        name: 'reset after a pod was created',
        match: request('POST', `/api/v1/namespaces/${ns}/pods`),
        effect: resetAfterApplied(),
      },
      {
        // The next read of a new pod is the retried creation's read-back (409 AlreadyExists, then GET).
        name: '503 reading a new pod back',
        match: request('GET', new RegExp(`^/api/v1/namespaces/${ns}/pods/${app}-2-0-0-blue-\\d$`)),
        effect: answer(
          503,
          k8sStatusBody(503, 'ServiceUnavailable', 'the server is currently unable to handle the request'),
          json,
        ),
      },
    );

    // When: v2; and in its rollback window, a black hole on the link (requests arrive and are applied, every answer
    // is dropped, connections stay open), healed only once the history shows a call gave up on it.
    const id = await f.deploy('2.0.0', { strategy: { rollbackWindow: '2s' } });
    await f.waitForPhase(id, 'RollbackWindow');
    await link.tcp.addToxic({ name: 'black-hole', type: 'timeout', stream: 'downstream', attributes: { timeout: 0 } });
    const stalled = await firstPendingFailure(f, id);
    await link.tcp.removeToxic('black-hole');
    const result = await f.result(id);

    // Then: succeeded; every scripted fault hit once and cost its activity one retry (the launch met two: the reset,
    // then the 503 on its retry's read-back). The black hole stalled the retirement of v1's pods: the call gave up on
    // the driver's own 10 s deadline (not on an activity timeout: the retirement has 10 minutes) and was retried.
    expect(result.outcome).toBe('succeeded');
    expect(link.http.pending()).toEqual([]);
    expect(Object.values(link.http.hits())).toEqual([1, 1, 1]);
    expect(stalled.type).toBe('retireReplicaSet');
    expect(stalled.message).toMatch(
      new RegExp(
        `^Kubernetes API server ${link.url}: \\w+ pods? .* failed: no answer within 10000 ms \\(timed out\\)$`,
      ),
    );
    const runs = await activityRuns(f.client.temporal, id);
    expect(retried(runs)).toEqual(['discoverLiveSets x2', 'scaleUpReplicaSet x3', 'retireReplicaSet x2']);
    expect(runsOf(runs, 'discoverLiveSets')[0]?.failure?.message).toMatch(
      new RegExp(`^Kubernetes API server ${link.url}: list configmaps .* failed \\(HTTP 429: too many requests`),
    );
    // Each pod created once: one 201 per name (the retry met 409 and read it back), and the pods there now are the
    // ones those 201s created.
    const set = `${app}-2-0-0-blue`;
    const created = podCreations(link.http.requests(), ns);
    expect(Object.keys(created).sort()).toEqual([`${set}-0`, `${set}-1`]);
    // Each name: created by the first request (its answer lost to the reset), then 409 on each retried attempt.
    expect(Object.values(created).map((c) => c.statuses)).toEqual([
      [201, 409, 409],
      [201, 409, 409],
    ]);
    const pods = await podIdentities(k, ns, app);
    expect(pods.map((p) => p.split(' ').slice(0, 2).join(' '))).toEqual(
      [`${set}-0`, `${set}-1`].map((name) => `${name} ${created[name]?.uid}`),
    );
    expect(launchesInHistory(runs)).toEqual({ [`${set}-0`]: 1, [`${set}-1`]: 1 });
    expect(await rules(f.world)).toEqual([
      `/Cart* -> ${app}-blue=100`,
      `/Catalog* -> ${app}-blue=100`,
      'default -> platform-server=100',
    ]);
  });

  test('through TLS (Toxiproxy alone): latency throughout, and a black hole when the gate opens: the call times out, is retried, succeeds; the pod from before the gate is untouched', async () => {
    // Given: v1 on green; v2 deployed through a TCP proxy that passes TLS through, with 100 ms latency, waiting at
    // its approval gate with one preview pod.
    const k = cluster();
    f = await createK8sFixture(k, 'fltk8stls');
    expect((await f.result(await f.deploy('1.0.0'))).outcome).toBe('succeeded');
    const { application: app, namespace: ns } = f;
    const apiServer = new URL((await adminTls(k)).server).host;
    tls = await toxiproxy().proxy(`kube-apiserver-tls-${process.pid}`, apiServer);
    f.useKubeconfig(kubeconfigVia(k, `https://${tls.listen}`, `tls-${ns}`));
    await tls.addToxic({ name: 'latency', type: 'latency', stream: 'downstream', attributes: { latency: 100 } });
    const id = await f.deploy('2.0.0', {
      strategy: { previewReplicas: 1, approval: { mode: 'required', timeout: '10m' } },
    });
    await f.waitForPhase(id, 'AwaitingApproval');
    const set = `${app}-2-0-0-blue`;
    const atGate = await podIdentities(k, ns, app);
    const preview = atGate.find((p) => p.startsWith(`${set}-0 `));
    expect(preview).toBeDefined();

    // When: a black hole (every answer dropped, connections left open) as the gate opens; it lasts until the history
    // shows a platform call failed on it, then the network heals.
    await tls.addToxic({ name: 'black-hole', type: 'timeout', stream: 'downstream', attributes: { timeout: 0 } });
    await f.client.approve(id, { by: 'alice', version: '2.0.0' });
    const failed = await firstPendingFailure(f, id);
    await tls.removeToxic('black-hole');
    const result = await f.result(id);

    // Then: the stalled call timed out (each request opens its own TLS connection, so the black hole stalls its
    // handshake: the driver's 10 s deadline and the client's 10 s connect timeout race), was retried, and the
    // deployment succeeded.
    expect(failed.type).toBe('scaleUpReplicaSet');
    expect(failed.message).toMatch(
      new RegExp(
        `^Kubernetes API server https://${tls.listen}: .* failed: ` +
          '(no answer within 10000 ms \\(timed out\\)|UND_ERR_CONNECT_TIMEOUT .*timeout: 10000ms.*)$',
      ),
    );
    expect(result.outcome).toBe('succeeded');
    const runs = await activityRuns(f.client.temporal, id);
    const scaleUps = runsOf(runs, 'scaleUpReplicaSet');
    expect(scaleUps.map((r) => r.outcome)).toEqual(['completed', 'completed']);
    expect(scaleUps[1]?.attempt).toBeGreaterThanOrEqual(2);
    // Nothing created twice: the preview pod is the one from before the gate (same uid and creation time), the
    // second pod exists once, and each was launched by one completed activity.
    const after = await podIdentities(k, ns, app);
    expect(after).toHaveLength(2);
    expect(after[0]).toBe(preview);
    expect(after[1]).toMatch(new RegExp(`^${set}-1 `));
    expect(launchesInHistory(runs)).toEqual({ [`${set}-0`]: 1, [`${set}-1`]: 1 });
    expect(await rules(f.world)).toEqual([
      `/Cart* -> ${app}-blue=100`,
      `/Catalog* -> ${app}-blue=100`,
      'default -> platform-server=100',
    ]);
  });

  test('deletecollection of pods answered 403 (a Role without it) when v1 is retired: per-pod deletes instead, succeeds, v1 pods gone', async () => {
    // Given: v1 on green (admin), and an HTTP layer that refuses every deletecollection of pods.
    const k = cluster();
    f = await createK8sFixture(k, 'fltk8sdc');
    expect((await f.result(await f.deploy('1.0.0'))).outcome).toBe('succeeded');
    const { application: app, namespace: ns } = f;
    const v1 = (await podIdentities(k, ns, app)).map((p) => p.split(' ')[0]);
    const front = await adminTls(k);
    link = await faultyLink(toxiproxy(), 'kube-apiserver', { url: front.server, tls: front.tls });
    f.useKubeconfig(kubeconfigForHttpFront(k, link.url, `faulty-${ns}`));
    link.http.inject({
      name: '403 deletecollection pods',
      match: request('DELETE', `/api/v1/namespaces/${ns}/pods`),
      times: Infinity,
      effect: answer(
        403,
        k8sStatusBody(403, 'Forbidden', `pods is forbidden: cannot deletecollection resource "pods" in ${ns}`),
        json,
      ),
    });

    // When
    const id = await f.deploy('2.0.0', { strategy: { rollbackWindow: '1s' } });
    const result = await f.result(id);

    // Then: succeeded without a retry; the set's deletecollection was refused and each v1 pod deleted by name.
    expect(result.outcome).toBe('succeeded');
    expect(link.http.hits()['403 deletecollection pods']).toBeGreaterThanOrEqual(1);
    expect(retried(await activityRuns(f.client.temporal, id))).toEqual([]);
    const deletedByName = link.http
      .requests()
      .filter((r) => r.method === 'DELETE' && r.path.startsWith(`/api/v1/namespaces/${ns}/pods/`))
      .map((r) => r.path.split('?')[0]?.split('/').pop())
      .sort();
    expect(deletedByName).toEqual([...v1].sort());
    expect((await podIdentities(k, ns, app)).map((p) => p.split(' ')[0])).toEqual([
      `${app}-2-0-0-blue-0`,
      `${app}-2-0-0-blue-1`,
    ]);
  });

  test('a Role without create on pods (the API server answers 403): fails in one attempt naming the API server and its refusal; rules read back on v1, the new side retired', async () => {
    // Given: v1 on green (admin), and a worker identity that may do everything the driver needs but create pods.
    const k = cluster();
    f = await createK8sFixture(k, 'fltk8srbac');
    expect((await f.result(await f.deploy('1.0.0'))).outcome).toBe('succeeded');
    const { application: app, namespace: ns } = f;
    const before = await rules(f.world);
    const v1Pods = await podIdentities(k, ns, app);
    f.useKubeconfig(
      await kubeconfigWithRole(k, ns, 'cutover-no-pod-create', [
        { resources: ['pods'], verbs: ['get', 'list', 'delete'] },
        { resources: ['configmaps'], verbs: ['get', 'list', 'create', 'update', 'delete'] },
      ]),
    );

    // When
    const id = await f.deploy('2.0.0');
    const result = await f.result(id);

    // Then: rolled back, the reason names the API server, what was refused and why.
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(
      new RegExp(
        `^2/2 pod creations failed; first: Kubernetes API server https://127\\.0\\.0\\.1:\\d+ forbids the worker ` +
          `to create pod ${app}-2-0-0-blue-\\d in namespace ${ns} \\(HTTP 403: pods is forbidden: User ` +
          `"system:serviceaccount:${ns}:cutover-no-pod-create" cannot create resource "pods" .*\\); ` +
          'grant the Role in docs/kubernetes.md',
      ),
    );
    // Fast: the launch ran once, was not retried.
    const runs = await activityRuns(f.client.temporal, id);
    expect(runsOf(runs, 'scaleUpReplicaSet').map((r) => [r.outcome, r.attempt, r.failure?.type])).toEqual([
      ['failed', 1, 'PlatformRequestRejectedError'],
    ]);
    expect(retried(runs)).toEqual([]);
    // Compensation: the rules are v1's, the new side's record is gone, v1's pods are the same pods.
    expect(await rules(f.world)).toEqual(before);
    expect(before).toEqual([
      `/Cart* -> ${app}-green=100`,
      `/Catalog* -> ${app}-green=100`,
      'default -> platform-server=100',
    ]);
    const records = await k.core.listNamespacedConfigMap({
      namespace: ns,
      labelSelector: 'app.kubernetes.io/managed-by',
    });
    expect(records.items.map((c) => c.metadata?.name)).toEqual([`${app}-1-0-0-green`]);
    expect(await podIdentities(k, ns, app)).toEqual(v1Pods);
  });
});
