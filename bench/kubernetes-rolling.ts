/**
 * Benchmark: Cutover's rolling update on Kubernetes against a native Deployment's rolling update (issue 13, items 7
 * and 4).
 *
 * One kwok cluster (scripts/k8s-cluster.sh: real kube-apiserver, etcd, kube-controller-manager and kube-scheduler as
 * processes; kwok plays the kubelets) with a known pod start-up time: kwok's default stages make a pod Ready the
 * moment it is scheduled, so this benchmark gives kwok its own stages (the defaults of kwokctl, "fast", with a fixed
 * delay of BENCH_K8S_STARTUP_MS on pod-ready, no jitter): every pod, Cutover's or the Deployment's, becomes
 * Running/Ready that long after kwok sees it on its node. Deleted pods go at once (kwok's pod-delete stage).
 * Client-side QPS limits are off (kwokctl --disable-qps-limits: controller manager, scheduler, kwok), so neither
 * side is throttled by a default client rate limit.
 *
 * In the same run, on the same cluster, for each maxSurge/maxUnavailable pair:
 *   1. native  — a Deployment of N replicas (Available), then its image changed: time until the rollout is complete
 *                (updated = available = total = N, observedGeneration caught up). The baseline.
 *   2. cutover — the rolling workflow with the Kubernetes platform driver (pods owned by a ConfigMap record) in a
 *                fresh namespace: v1 deployed, then the time of the v2 rolling update from client.deploy() to its
 *                result. The router is an in-memory stand-in (the Router port, nothing behind it) so the comparison
 *                is of the platform work: its share of the wall time (summed time inside router calls) is printed.
 *                Health: the pod Ready condition (probe: readiness), polled every 100 ms, successThreshold 1; no
 *                drain wait (drainTimeout 0s), gracePeriod 1 s on both sides.
 * Prints each time, the ratio cutover / native (goal ≤ 1.1), the lower bound (batches × start-up time), and for the
 * scale run (item 4) the history of every run of the workflow (it continues as new): runs, events and bytes per run.
 * Plot: docs/img/kubernetes-rolling.png, Ready pods of the new version over time, Cutover against native.
 *
 * Run: `npx tsc -p tsconfig.build.json && node dist/bench/kubernetes-rolling.js` (quick: 100 replicas, 25%/25%);
 * `BENCH_FULL=1 node dist/bench/kubernetes-rolling.js` (full: 100 replicas at 25%/25% and 10%/0, then 1,000 at
 * 25%/25%). Knobs: BENCH_K8S_REPLICAS (the comparison's N, default 100), BENCH_K8S_SCALE_REPLICAS (default 1000; 0 to
 * skip), BENCH_K8S_STARTUP_MS (pod start-up time, default 1000), BENCH_K8S_QPS_LIMITS=1 (keep the components' default
 * client rate limits). Needs the binaries of scripts/build-k8s.sh and the Temporal CLI (scripts/provision.sh).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { defaultDrivers } from '../activities/drivers';
import type { ModuleRule, Router, Verification, WeightedBackend } from '../activities/ports';
import { CutoverClient } from '../client/client';
import { startDevServer } from '../scripts/dev-server';
import type { DevServer } from '../scripts/dev-server';
import type { DeploymentResult } from '../workflows/types';
import { createWorker } from '../worker';
import { lineChart } from './support/plot';
import { printTable, ratio, round, sampleProcess, writeResult } from './support/results';

const run = promisify(execFile);
const FULL = process.env.BENCH_FULL === '1';
const N = Number(process.env.BENCH_K8S_REPLICAS ?? 100);
const SCALE_N = Number(process.env.BENCH_K8S_SCALE_REPLICAS ?? (FULL ? 1000 : 0));
const STARTUP_MS = Number(process.env.BENCH_K8S_STARTUP_MS ?? 1000);
const QPS_LIMITS = process.env.BENCH_K8S_QPS_LIMITS === '1';
const REPO_ROOT = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');
const SCRIPT = path.join(REPO_ROOT, 'scripts', 'k8s-cluster.sh');
const START_LOCK = path.join(os.tmpdir(), 'cutover-kwok-start.lock');
const IMAGE = 'registry.example.invalid/shop';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- kwok stages: kwokctl's defaults ("fast" pod stages, node-initialize, node heartbeat with lease), pod-ready delayed

function stagesYaml(delayMs: number): string {
  // The node's conditions, as both node stages (initialize, heartbeat) write them.
  const nodeConditions = `      {{ $now := Now }}
      {{ $lastTransitionTime := or .metadata.creationTimestamp $now }}
      conditions:
      {{ range NodeConditions }}
      - lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $lastTransitionTime | Quote }}
        message: {{ .message | Quote }}
        reason: {{ .reason | Quote }}
        status: {{ .status | Quote }}
        type: {{ .type | Quote }}
      {{ end }}
`;
  const nodeInit = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: node-initialize
spec:
  resourceRef: {apiGroup: v1, kind: Node}
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: 'NotIn'
      values: ['True']
  next:
    statusTemplate: |
${nodeConditions}      addresses:
      {{ with NodeIP }}
      - address: {{ . | Quote }}
        type: InternalIP
      {{ end }}
      {{ with NodeName }}
      - address: {{ . | Quote }}
        type: Hostname
      {{ end }}
      {{ with NodePort }}
      daemonEndpoints:
        kubeletEndpoint:
          Port: {{ . }}
      {{ end }}
      allocatable:
      {{ with .status.allocatable }}
      {{ YAML . 1 }}
      {{ end }}
      capacity:
      {{ with .status.capacity }}
      {{ YAML . 1 }}
      {{ end }}
      phase: Running
`;
  const heartbeat = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: node-heartbeat-with-lease
spec:
  resourceRef: {apiGroup: v1, kind: Node}
  selector:
    matchExpressions:
    - key: '.status.phase'
      operator: 'In'
      values: ['Running']
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: 'In'
      values: ['True']
  delay:
    durationMilliseconds: 600000
    jitterDurationMilliseconds: 610000
  next:
    statusTemplate: |
${nodeConditions}`;
  const podReady = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-ready
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values: ['Pending']
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: 'NotIn'
      values: ['True']
  delay:
    durationMilliseconds: ${delayMs}
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
      {{ $hostIPs := NodeIPsWith .spec.nodeName }}
      {{ with $hostIPs }}
      hostIP: {{ index . 0 | Quote }}
      hostIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      {{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      {{ with $podIPs }}
      podIP: {{ index . 0 | Quote }}
      podIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      phase: Running
      startTime: {{ $now | Quote }}
`;
  const podDelete = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-delete
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'Exists'
  next:
    delete: true
`;
  return [nodeInit, heartbeat, podReady, podDelete].join('---\n');
}

// ---- the cluster ----

interface Cluster {
  kubeconfig: string;
  core: CoreV1Api;
  apps: AppsV1Api;
  startMs: number;
  stop(): Promise<void>;
}

async function startCluster(nodes: number): Promise<Cluster> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-bench-kube-'));
  const stages = path.join(dataDir, 'stages.yaml');
  fs.writeFileSync(stages, stagesYaml(STARTUP_MS));
  const env = {
    ...process.env,
    CUTOVER_DATA_DIR: dataDir,
    CUTOVER_K8S_CLUSTER: `bench-kube-${process.pid}`,
    CUTOVER_K8S_NODES: String(nodes),
    CUTOVER_K8S_EXTRA_CONFIG: stages,
    CUTOVER_K8S_DISABLE_QPS_LIMITS: QPS_LIMITS ? '0' : '1',
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await run('bash', [SCRIPT, 'stop'], { env, timeout: 120_000 }).catch((err: unknown) => {
      process.stderr.write(`k8s-cluster.sh stop failed: ${String(err)}\n`);
    });
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  cleanups.push(stop);
  const t0 = Date.now();
  // Starts are serialised machine-wide (kwokctl picks "the highest free ports"), as test/support/kwok.ts does.
  await run('flock', ['-w', '300', START_LOCK, 'bash', SCRIPT, 'start'], { env, timeout: 400_000 });
  const startMs = Date.now() - t0;
  const kubeconfig = path.join(dataDir, 'kubeconfig');
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { kubeconfig, core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api), startMs, stop };
}

let nsCounter = 0;
async function createNamespace(c: Cluster, prefix: string): Promise<string> {
  const ns = `${prefix}-${++nsCounter}`;
  await c.core.createNamespace({ body: { metadata: { name: ns } } });
  for (let i = 0; i < 100; i++) {
    const sas = await c.core.listNamespacedServiceAccount({ namespace: ns });
    if (sas.items.some((s) => s.metadata?.name === 'default')) break;
    await sleep(100);
  }
  return ns;
}

/** Deletes the namespace and waits until its pods are gone, so the next measurement starts on a quiet cluster. */
async function dropNamespace(c: Cluster, namespace: string): Promise<void> {
  await c.core.deleteNamespace({ name: namespace }).catch(() => undefined);
  for (let i = 0; i < 600; i++) {
    const pods = await c.core.listNamespacedPod({ namespace }).catch(() => ({ items: [] }));
    if (pods.items.length === 0) return;
    await sleep(200);
  }
}

const isReady = (p: V1Pod) =>
  !p.metadata?.deletionTimestamp &&
  (p.status?.conditions?.some((cond) => cond.type === 'Ready' && cond.status === 'True') ?? false);

interface Sample {
  t: number;
  newReady: number;
  ready: number;
  pods: number;
}

/** Polls the namespace's pods until stopped: Ready pods of the new version, Ready pods, pods. */
function sampler(c: Cluster, namespace: string, isNew: (p: V1Pod) => boolean, everyMs: number) {
  const samples: Sample[] = [];
  let stop = false;
  const t0 = Date.now();
  const loop = (async () => {
    while (!stop) {
      const t = Date.now() - t0;
      const pods = (await c.core.listNamespacedPod({ namespace }).catch(() => ({ items: [] as V1Pod[] }))).items;
      const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
      samples.push({
        t: t / 1000,
        newReady: live.filter((p) => isNew(p) && isReady(p)).length,
        ready: live.filter(isReady).length,
        pods: live.length,
      });
      await sleep(everyMs);
    }
  })();
  return {
    async stop(): Promise<Sample[]> {
      stop = true;
      await loop;
      return samples;
    },
  };
}

// ---- native Deployment ----

function deployment(name: string, replicas: number, version: string, surge: string | number, unavail: string | number) {
  return {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: surge, maxUnavailable: unavail } },
      template: {
        metadata: { labels: { app: name, version } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'web', image: `${IMAGE}:${version}`, ports: [{ containerPort: 8080 }] }],
        },
      },
    },
  };
}

function rolledOut(d: V1Deployment, replicas: number): boolean {
  const s = d.status;
  return (
    (s?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) &&
    s?.updatedReplicas === replicas &&
    s?.availableReplicas === replicas &&
    s?.replicas === replicas
  );
}

async function untilRolledOut(c: Cluster, namespace: string, name: string, replicas: number): Promise<void> {
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    const d = await c.apps.readNamespacedDeployment({ name, namespace });
    if (rolledOut(d, replicas)) return;
    await sleep(50);
  }
  throw new Error(`deployment ${namespace}/${name} did not roll out within 300 s`);
}

interface Measured {
  seconds: number;
  samples: Sample[];
}

async function nativeRollout(c: Cluster, replicas: number, surge: string | number, unavail: string | number) {
  const namespace = await createNamespace(c, 'native');
  const name = 'shop';
  try {
    await c.apps.createNamespacedDeployment({ namespace, body: deployment(name, replicas, '1.0.0', surge, unavail) });
    await untilRolledOut(c, namespace, name, replicas);
    const s = sampler(c, namespace, (p) => p.metadata?.labels?.version === '2.0.0', replicas > 200 ? 500 : 200);
    const t0 = Date.now();
    await c.apps.replaceNamespacedDeployment({
      name,
      namespace,
      body: deployment(name, replicas, '2.0.0', surge, unavail),
    });
    await untilRolledOut(c, namespace, name, replicas);
    const seconds = (Date.now() - t0) / 1000;
    return { seconds, samples: await s.stop() } satisfies Measured;
  } finally {
    await dropNamespace(c, namespace);
  }
}

// ---- Cutover ----

/** The Router port with nothing behind it: targets and rules in memory; the time spent in its calls is summed. */
function memoryRouter(stats: { busyMs: number; calls: number }): Router {
  const backends = new Map<string, Set<string>>();
  const rules = new Map<string, ModuleRule>();
  const timed =
    <A extends unknown[], T>(f: (...args: A) => T) =>
    (...args: A): Promise<T> => {
      const t = performance.now();
      try {
        return Promise.resolve(f(...args));
      } finally {
        stats.busyMs += performance.now() - t;
        stats.calls++;
      }
    };
  const router: Router = {
    type: 'memory',
    readRules: timed((modules: string[]) =>
      Object.fromEntries(modules.flatMap((m) => (rules.has(m) ? [[m, rules.get(m) as ModuleRule]] : []))),
    ),
    ensureBackend: timed((backend: string, targets: string[]) => {
      backends.set(backend, new Set(targets));
    }),
    describeBackend: timed((backend: string) => {
      const set = backends.get(backend);
      return set ? [...set] : undefined;
    }),
    removeBackend: timed((backend: string) => {
      backends.delete(backend);
    }),
    setModuleRule: timed((module: string, to: WeightedBackend[]) => {
      rules.set(module, { module, backends: to });
    }),
    removeModuleRule: timed((module: string) => {
      rules.delete(module);
    }),
    registerTargets: timed((backend: string, targets: string[]) => {
      const set = backends.get(backend) ?? new Set<string>();
      for (const t of targets) set.add(t);
      backends.set(backend, set);
    }),
    deregisterTargets: timed((backend: string, targets: string[]) => {
      for (const t of targets) backends.get(backend)?.delete(t);
    }),
    verify: timed((module: string): Verification => ({
      status: 'not-supported',
      detail: `${module}: the benchmark's in-memory router sends no request`,
    })),
  };
  return router;
}

interface HistoryRun {
  events: number;
  bytes: number;
}

/** Every run of the deployment (it continues as new), oldest first: events and encoded bytes of each history. */
async function historyRuns(client: CutoverClient, id: string): Promise<HistoryRun[]> {
  const runs: HistoryRun[] = [];
  let runId: string | undefined;
  for (;;) {
    const history = await client.temporal.workflow.getHandle(id, runId).fetchHistory();
    runs.unshift({
      events: history.events?.length ?? 0,
      bytes: temporal.api.history.v1.History.encode(history).finish().length,
    });
    const previous = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId;
    if (!previous) return runs;
    runId = previous;
  }
}

interface CutoverRun extends Measured {
  batches: number;
  routerMs: number;
  routerCalls: number;
  history: HistoryRun[];
}

async function cutoverRollout(
  c: Cluster,
  client: CutoverClient,
  router: { busyMs: number; calls: number },
  replicas: number,
  surge: string | number,
  unavail: string | number,
): Promise<CutoverRun> {
  const namespace = await createNamespace(c, 'cutover');
  const application = `shop${nsCounter}`;
  const spec = (version: string) => ({
    application,
    environment: 'bench',
    version,
    modules: ['Catalog'],
    replicas,
    platform: {
      kind: 'kubernetes',
      namespace,
      image: `${IMAGE}:{version}`,
      port: 8080,
      kubeconfig: c.kubeconfig,
      gracePeriod: '1s',
    },
    // Validated as a local router; the worker's drivers hand each router section its own in-memory stand-in.
    router: { kind: 'local', adminUrl: `http://127.0.0.1:9/${application}`, publicUrl: 'http://127.0.0.1:9' },
    strategy: { type: 'rolling', maxSurge: surge, maxUnavailable: unavail, drainTimeout: '0s' },
    health: { interval: '100ms', timeout: '2s', successThreshold: 1, deadline: '300s' },
  });
  const deploy = async (version: string): Promise<{ id: string; result: DeploymentResult }> => {
    const { deploymentId } = await client.deploy(spec(version), {
      deploymentId: `bench-kube-${application}-${version}`,
    });
    const result = await client.result(deploymentId);
    if (result.outcome !== 'succeeded') {
      throw new Error(`cutover ${version}: ${result.outcome}: ${JSON.stringify(result.status.reason ?? '')}`);
    }
    return { id: deploymentId, result };
  };
  try {
    await deploy('1.0.0');
    const busy0 = router.busyMs;
    const calls0 = router.calls;
    const s = sampler(
      c,
      namespace,
      (p) => p.metadata?.labels?.['cutover.io/version'] === '2.0.0',
      replicas > 200 ? 500 : 200,
    );
    const t0 = Date.now();
    const { id, result } = await deploy('2.0.0');
    const seconds = (Date.now() - t0) / 1000;
    const samples = await s.stop();
    if (process.env.BENCH_K8S_STEPS === '1') {
      for (const st of result.status.steps) {
        const ms = st.endedAt ? Date.parse(st.endedAt) - Date.parse(st.startedAt) : Number.NaN;
        console.log(`  ${String(Date.parse(st.startedAt) - t0).padStart(6)} +${String(ms).padStart(5)} ms  ${st.name}`);
      }
    }
    return {
      seconds,
      samples,
      batches: result.status.rolling?.batches ?? 0,
      routerMs: router.busyMs - busy0,
      routerCalls: router.calls - calls0,
      history: await historyRuns(client, id),
    };
  } finally {
    await dropNamespace(c, namespace);
  }
}

// ---- main ----

const cleanups: (() => Promise<void>)[] = [];
async function cleanup(): Promise<void> {
  for (const f of cleanups.splice(0).reverse()) await f().catch(() => undefined);
}
process.once('SIGINT', () => {
  void cleanup().finally(() => process.exit(130));
});
process.once('SIGTERM', () => {
  void cleanup().finally(() => process.exit(143));
});

/** Batches of a Kubernetes-style rolling update (each: maxUnavailable out first, maxSurge + maxUnavailable in). */
function pct(v: string | number, n: number, up: boolean): number {
  if (typeof v === 'number') return v;
  const x = (Number.parseInt(v, 10) * n) / 100;
  return up ? Math.ceil(x) : Math.floor(x);
}

async function main(): Promise<void> {
  const started = Date.now();
  const pairs: [string | number, string | number][] = FULL
    ? [
        ['25%', '25%'],
        ['10%', 0],
      ]
    : [['25%', '25%']];
  const biggest = Math.max(N, SCALE_N);
  // Nodes hold 110 pods each (scripts/k8s-cluster.sh): room for the biggest rollout with its surge.
  const nodes = Math.ceil((biggest * 1.3) / 110) + 1;
  const proc = sampleProcess();
  Runtime.install({ logger: new DefaultLogger('WARN') });
  try {
    const [cluster, server] = await Promise.all([
      startCluster(nodes),
      startDevServer().then((s: DevServer) => {
        cleanups.push(() => s.stop());
        return s;
      }),
    ]);
    const taskQueue = `bench-kube-${process.pid}`;
    // One in-memory router per router section (each application's spec names its own), the time summed over all.
    const router = { busyMs: 0, calls: 0 };
    const routers = new Map<string, Router>();
    const routerFor = (config: unknown): Router => {
      const key = JSON.stringify(config);
      const made = routers.get(key) ?? memoryRouter(router);
      routers.set(key, made);
      return made;
    };
    const defaults = defaultDrivers();
    const { worker, close } = await createWorker({
      temporal: { address: server.address, taskQueue },
      drivers: { platform: (config) => defaults.platform(config), router: routerFor },
    });
    const running = worker.run();
    cleanups.push(async () => {
      worker.shutdown();
      await running.catch(() => undefined);
      await close();
    });
    const client = await CutoverClient.connect({ address: server.address, taskQueue });
    cleanups.push(() => client.close());
    console.log(
      `kwok cluster (${nodes} nodes) up in ${round(cluster.startMs / 1000)} s; pod start-up ${STARTUP_MS} ms; ` +
        `client QPS limits ${QPS_LIMITS ? 'on (defaults)' : 'off'}; load average ${os.loadavg()[0]?.toFixed(2)}`,
    );

    const rows: (string | number)[][] = [];
    const figures: Record<string, unknown>[] = [];
    const plotted: { native: Sample[]; cutover: Sample[] }[] = [];
    const jobs: { replicas: number; surge: string | number; unavail: string | number }[] = pairs.map(([s, u]) => ({
      replicas: N,
      surge: s,
      unavail: u,
    }));
    if (SCALE_N > 0) jobs.push({ replicas: SCALE_N, surge: '25%', unavail: '25%' });
    let scale: CutoverRun | undefined;
    for (const job of jobs) {
      const native = await nativeRollout(cluster, job.replicas, job.surge, job.unavail);
      const cut = await cutoverRollout(cluster, client, router, job.replicas, job.surge, job.unavail);
      if (job.replicas === SCALE_N && SCALE_N !== N) scale = cut;
      if (plotted.length === 0) plotted.push({ native: native.samples, cutover: cut.samples });
      const lower = (cut.batches * STARTUP_MS) / 1000;
      const s = pct(job.surge, job.replicas, true);
      const u = pct(job.unavail, job.replicas, false);
      rows.push([
        job.replicas,
        `${job.surge}/${job.unavail} (${s}/${u})`,
        round(native.seconds, 2),
        round(cut.seconds, 2),
        ratio(cut.seconds, native.seconds),
        cut.batches,
        round(lower, 1),
        ratio(cut.seconds, lower),
        `${((100 * cut.routerMs) / (cut.seconds * 1000)).toFixed(1)}% (${cut.routerCalls} calls)`,
      ]);
      figures.push({
        replicas: job.replicas,
        maxSurge: job.surge,
        maxUnavailable: job.unavail,
        nativeSeconds: round(native.seconds, 3),
        cutoverSeconds: round(cut.seconds, 3),
        ratio: round(cut.seconds / native.seconds, 3),
        batches: cut.batches,
        lowerBoundSeconds: lower,
        routerMs: round(cut.routerMs),
        routerCalls: cut.routerCalls,
        history: cut.history,
        nativeSamples: native.samples,
        cutoverSamples: cut.samples,
      });
    }

    console.log(`\nRolling update on kwok (pods Ready ${STARTUP_MS} ms after scheduling), Cutover against native:\n`);
    printTable(
      [
        'replicas',
        'maxSurge/maxUnavailable',
        'native s',
        'cutover s',
        'cutover / native',
        'batches',
        'lower bound s',
        'cutover / bound',
        'router share',
      ],
      rows,
    );
    const histRows = figures.map((f) => {
      const h = f.history as HistoryRun[];
      return [
        f.replicas as number,
        `${String(f.maxSurge)}/${String(f.maxUnavailable)}`,
        h.length,
        h.map((r) => r.events).join(', '),
        h.map((r) => `${round(r.bytes / 1024, 1)}`).join(', '),
        h.reduce((a, r) => a + r.events, 0),
      ];
    });
    console.log('\nHistory of the Cutover update (every run; it continues as new when a run gets long):\n');
    printTable(['replicas', 'maxSurge/maxUnavailable', 'runs', 'events per run', 'KiB per run', 'events'], histRows);
    const me = proc.stop();
    console.log(
      `\nthis process (worker + benchmark): peak RSS ${me.peakRssMiB} MiB, ${me.cpuSeconds} CPU s; ` +
        `whole benchmark ${round((Date.now() - started) / 1000)} s`,
    );
    writeResult('kubernetes-rolling', `${FULL ? 'BENCH_FULL=1 ' : ''}node dist/bench/kubernetes-rolling.js`, {
      startupMs: STARTUP_MS,
      qpsLimits: QPS_LIMITS,
      nodes,
      router: 'in-memory stand-in (Router port)',
      runs: figures,
      scale: scale ? { replicas: SCALE_N, seconds: scale.seconds, history: scale.history } : undefined,
      peakRssMiB: me.peakRssMiB,
    });
    const first = plotted[0];
    if (first) {
      await lineChart('kubernetes-rolling', {
        title: `Ready pods of the new version, ${N} replicas, ${String(pairs[0]?.[0])}/${String(pairs[0]?.[1])}, start-up ${STARTUP_MS} ms`,
        x: 'seconds since the update started',
        y: 'Ready pods of the new version',
        series: [
          { name: 'native', points: first.native.map((s) => ({ x: s.t, y: s.newReady })) },
          { name: 'Cutover', points: first.cutover.map((s) => ({ x: s.t, y: s.newReady })) },
        ],
      });
    }
  } finally {
    await cleanup();
  }
}

main().catch(async (err: unknown) => {
  console.error(err);
  await cleanup();
  process.exit(1);
});
