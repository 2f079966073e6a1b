/**
 * Benchmark: N blue-green deployments of N different applications started at once on ONE worker (issue 13, item 3).
 *
 * Platform: the Kubernetes driver on a kwok cluster (scripts/k8s-cluster.sh: a real kube-apiserver + etcd, kwok
 * plays the kubelet, so a replica costs an API object, not a process). Router: the ALB driver on moto (one load
 * balancer; each application has its own listener, created before the clock starts, and its own module). One
 * listener per application, as separate applications would have in AWS: on one shared listener every rule change
 * of every deployment reads all the others' rules (describeRules) and races them for priorities, and moto (one
 * Python process) became the slowest part at N = 500. One replica per deployment, rollbackWindow 0s, readiness
 * probe (pod Ready from the API; the verify step answers not-supported).
 *
 * Baseline: N = 1 in the same run (time per deployment at N against it, and the ratio). For each N it reports total
 * time (start of the first deploy to the last result), worker CPU seconds and peak RSS (the worker runs in this
 * process: sampleProcess; peak RSS is cumulative over the run, N ascending), Temporal dev server CPU, kube-apiserver
 * + etcd CPU and moto CPU (from /proc), to see whether the back ends or the worker bound the total time.
 *
 * Run: `npx tsc -p tsconfig.build.json && node dist/bench/concurrency.js` (quick: N = 1, 10, 25) or with
 * BENCH_FULL=1 (N = 1, 10, 100, 500). Knobs: BENCH_NS="1,10,25" (overrides the list), the worker's tuning
 * BENCH_MAX_ACTIVITIES, BENCH_MAX_WFT (unset: createWorker's defaults, worker/tuning.ts, or the CUTOVER_MAX_*
 * variables), BENCH_MAX_CACHED (unset: the largest N) and BENCH_POLLERS (pollers per task type; unset: the SDK's).
 * The worker's RSS follows the V8 heap limit more than its cache (worker/tuning.ts): `make bench-full` runs this
 * with --max-old-space-size=512, which kept N = 500 under 1 GiB (855 MiB peak on a quiet machine: docs/benchmarks.md).
 * Writes bench/results/concurrency.json, docs/img/concurrency-time.png and docs/img/concurrency-memory.png.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { WorkerOptions } from '@temporalio/worker';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { defaultDrivers } from '../activities/drivers';
import type { Drivers } from '../activities/drivers';
import { newAwsAlbDriver, newSdkElbV2Api } from '../activities/drivers/aws-alb';
import type { Router } from '../activities/ports';
import { eachLimited } from '../activities/limited';
import type { AlbWorld } from '../examples/moto-stack';
import { CutoverClient } from '../client/client';
import { projectRoot } from '../examples/local-stack';
import { startDevServer } from '../scripts/dev-server';
import { createAlbWorld, createListener, REGION, startMoto } from '../examples/moto-stack';
import type { DeploymentSpecInput } from '../workflows/spec';
import { createWorker } from '../worker';
import type { WorkerTuning } from '../worker';
import { resolveTuning } from '../worker/tuning';
import { lineChart } from './support/plot';
import { printTable, processCpuSeconds, ratio, round, sampleProcess, writeResult } from './support/results';

const run = promisify(execFile);
const CLUSTER = 'cutover-bench-concurrency';

interface Cluster {
  kubeconfig: string;
  /** Pids of the control plane's processes (kube-apiserver, etcd...), for their CPU. */
  pids(): Record<string, number>;
  stop(): Promise<void>;
}

async function startCluster(nodes: number): Promise<Cluster> {
  const dataDir = path.join(projectRoot(), '.cutover', 'bench-concurrency');
  fs.mkdirSync(dataDir, { recursive: true });
  const script = path.join(projectRoot(), 'scripts', 'k8s-cluster.sh');
  // A kwok node takes 110 pods (its default capacity), and the pods of every round stay: enough nodes for all.
  const env = {
    ...process.env,
    CUTOVER_DATA_DIR: dataDir,
    CUTOVER_K8S_CLUSTER: CLUSTER,
    CUTOVER_K8S_NODES: String(nodes),
  };
  const stop = () => run('bash', [script, 'stop'], { env, timeout: 120_000 }).then(() => undefined);
  await stop().catch(() => undefined);
  // Same machine-wide lock as test/support/kwok.ts: kwokctl picks ports at creation.
  const lock = path.join(os.tmpdir(), 'cutover-kwok-start.lock');
  await run('flock', ['-w', '300', lock, 'bash', script, 'start'], { env, timeout: 360_000 });
  const pidDir = path.join(dataDir, 'kwok', 'clusters', CLUSTER, 'pids');
  return {
    kubeconfig: path.join(dataDir, 'kubeconfig'),
    pids() {
      const out: Record<string, number> = {};
      for (const f of fs.existsSync(pidDir) ? fs.readdirSync(pidDir) : []) {
        out[f.replace(/\.pid$/, '')] = Number(fs.readFileSync(path.join(pidDir, f), 'utf8').trim());
      }
      return out;
    },
    async stop() {
      await stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const num = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);

/**
 * The cache holds every deployment of the largest round unless BENCH_MAX_CACHED says otherwise: an evicted deployment
 * replays its history at each task (at N = 500 a cache of 100 doubled the worker's CPU and raised its RSS; see
 * worker/tuning.ts), and under a heap limit the SDK's default cache shrinks below N (182 on 512 MiB).
 */
function tuningFromBenchEnv(ns: number[]): WorkerTuning {
  return {
    maxConcurrentActivityTaskExecutions: num('BENCH_MAX_ACTIVITIES'),
    maxConcurrentWorkflowTaskExecutions: num('BENCH_MAX_WFT'),
    maxCachedWorkflows: num('BENCH_MAX_CACHED') ?? Math.max(...ns),
  };
}

function pollerOptionsFromEnv(): Partial<WorkerOptions> {
  const pollers = num('BENCH_POLLERS');
  return pollers === undefined
    ? {}
    : { maxConcurrentWorkflowTaskPolls: pollers, maxConcurrentActivityTaskPolls: pollers };
}

/** The listeners' ports: one per application, unique over the run (moto keeps one listener per port). */
let nextListenerPort = 10_000;

/** `n` listeners on the world's load balancer, 4 created at a time. */
async function createListeners(world: AlbWorld, n: number): Promise<string[]> {
  const first = nextListenerPort;
  nextListenerPort += n;
  return eachLimited(
    Array.from({ length: n }, (_, i) => first + i),
    4,
    (port) => createListener(world, port),
  );
}

interface Row {
  n: number;
  totalS: number;
  perDeploymentS: number;
  succeeded: number;
  workerCpuS: number;
  workerPeakRssMiB: number;
  temporalCpuS: number;
  apiserverCpuS: number;
  etcdCpuS: number;
  motoCpuS: number;
}

async function main(): Promise<void> {
  // The workflows log each phase at INFO: 2 x N lines would drown the tables.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const full = process.env.BENCH_FULL === '1';
  const ns = (process.env.BENCH_NS ?? (full ? '1,10,100,500' : '1,10,25')).split(',').map(Number);
  const tuning = tuningFromBenchEnv(ns);
  const workerOptions = pollerOptionsFromEnv();
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => console.error(err));
    cleanups.length = 0;
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  const rows: Row[] = [];
  try {
    const [server, moto, cluster] = await Promise.all([
      startDevServer(),
      startMoto(),
      startCluster(Math.ceil(ns.reduce((a, b) => a + b, 0) / 100) + 1),
    ]);
    cleanups.push(
      () => server.stop(),
      () => moto.stop(),
      () => cluster.stop(),
    );
    const world = await createAlbWorld(moto.endpoint, 'bench-lb');
    const bundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../workflows'),
      logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
    });
    const namespace = 'bench';
    await run(path.join(os.homedir(), '.cache', 'cutover', 'k8s', 'v1.36.3', 'bin', 'kubectl'), [
      '--kubeconfig',
      cluster.kubeconfig,
      'create',
      'namespace',
      namespace,
    ]);
    // The default ServiceAccount must exist before pods can be created.
    await new Promise((r) => setTimeout(r, 2000));
    const platform = {
      kind: 'kubernetes',
      namespace,
      image: 'registry.example.invalid/app:{version}',
      port: 8080,
      kubeconfig: cluster.kubeconfig,
      gracePeriod: '1s',
    };
    const routerSpec = (listenerArn: string) => ({
      kind: 'aws-alb',
      region: REGION,
      endpoint: moto.endpoint,
      listenerArn,
      targetGroups: { vpcId: world.vpcId, port: 80, healthCheck: { path: '/_ping.html' } },
    });
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-bench-conc-'));
    cleanups.push(() => Promise.resolve(fs.rmSync(stateDir, { recursive: true, force: true })));
    const defaults = defaultDrivers({ localStateDir: stateDir });
    const routers = new Map<string, Router>();
    // The ALB driver on moto (as test/support/alb-fixture.ts builds it); the Kubernetes driver is the default one.
    // One SDK client for every listener's driver: one region, one set of credentials (defaultDrivers would make a
    // client per listener, 500 of them at N = 500, which is the worker's memory and not the deployments').
    const api = newSdkElbV2Api({ region: REGION, endpoint: moto.endpoint });
    const drivers: Drivers = {
      platform: (config) => defaults.platform(config),
      router: (config) => {
        if (config.kind !== 'aws-alb') return defaults.router(config);
        const key = JSON.stringify(config);
        let router = routers.get(key);
        if (!router) {
          const { kind: _kind, ...albConfig } = config;
          router = newAwsAlbDriver(albConfig, { api, pollMs: 100 });
          routers.set(key, router);
        }
        return router;
      },
    };
    const backends = () => {
      const pids = cluster.pids();
      const cpu = (pid: number | undefined) => (pid ? (processCpuSeconds(pid) ?? 0) : 0);
      return {
        temporal: cpu(server.pid),
        apiserver: cpu(pids['kube-apiserver']),
        etcd: cpu(pids.etcd),
        moto: cpu(moto.pid),
      };
    };
    let round_ = 0;
    for (const n of ns) {
      const taskQueue = `bench-conc-${++round_}`;
      const client = await CutoverClient.connect({ address: server.address, taskQueue });
      const { worker, close } = await createWorker({
        temporal: { address: server.address, taskQueue },
        workflowBundle: bundle,
        drivers,
        tuning,
        options: workerOptions,
      });
      const listeners = await createListeners(world, n);
      const running = worker.run();
      const sampler = sampleProcess(100);
      const before = backends();
      const t0 = performance.now();
      const ids = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const application = `c${round_}-app${i}`;
          const spec = {
            application,
            environment: 'bench',
            version: '1.0.0',
            modules: [`R${round_}M${i}`],
            replicas: 1,
            platform,
            router: routerSpec(listeners[i] ?? ''),
            strategy: { type: 'blue-green', rollbackWindow: '0s' },
            health: { interval: '200ms', timeout: '2s', successThreshold: 1, deadline: '300s' },
          } as unknown as DeploymentSpecInput;
          return (await client.deploy(spec, { deploymentId: `bench-${application}` })).deploymentId;
        }),
      );
      const results = await Promise.all(ids.map((id) => client.result(id)));
      const totalS = (performance.now() - t0) / 1000;
      const after = backends();
      const usage = sampler.stop();
      worker.shutdown();
      await running;
      await close();
      const failed = results.filter((r) => r.outcome !== 'succeeded');
      if (failed.length) console.error(`N=${n}: ${failed.length} not succeeded, e.g.`, JSON.stringify(failed[0]));
      rows.push({
        n,
        totalS: round(totalS, 2),
        perDeploymentS: round(totalS / n, 3),
        succeeded: results.length - failed.length,
        workerCpuS: usage.cpuSeconds,
        workerPeakRssMiB: usage.peakRssMiB,
        temporalCpuS: round(after.temporal - before.temporal, 2),
        apiserverCpuS: round(after.apiserver - before.apiserver, 2),
        etcdCpuS: round(after.etcd - before.etcd, 2),
        motoCpuS: round(after.moto - before.moto, 2),
      });
      console.error(`N=${n}: ${round(totalS, 1)} s`);
    }
  } finally {
    await cleanup();
  }
  const base = rows[0];
  printTable(
    [
      'N',
      'ok',
      'total s',
      's/deployment',
      'vs N=1',
      'worker CPU s',
      'worker peak RSS MiB',
      'Temporal CPU s',
      'apiserver CPU s',
      'etcd CPU s',
      'moto CPU s',
    ],
    rows.map((r) => [
      r.n,
      r.succeeded,
      r.totalS,
      r.perDeploymentS,
      base ? ratio(r.perDeploymentS, base.perDeploymentS) : '-',
      r.workerCpuS,
      r.workerPeakRssMiB,
      r.temporalCpuS,
      r.apiserverCpuS,
      r.etcdCpuS,
      r.motoCpuS,
    ]),
  );
  const command = `node dist/bench/concurrency.js${full ? ' (BENCH_FULL=1)' : ''}`;
  writeResult('concurrency', command, {
    tuning: resolveTuning(tuning),
    workerOptions,
    router: 'one listener per application',
    rows,
  });
  await lineChart('concurrency-time', {
    title: 'N blue-green deployments at once on one worker (kwok + moto)',
    x: 'deployments started at once (N)',
    y: 'seconds',
    logX: true,
    series: [
      { name: 'total time', points: rows.map((r) => ({ x: r.n, y: r.totalS })) },
      { name: 'time per deployment', points: rows.map((r) => ({ x: r.n, y: r.perDeploymentS })) },
    ],
  });
  await lineChart('concurrency-memory', {
    title: 'Worker memory and CPU against N',
    x: 'deployments started at once (N)',
    y: 'MiB / CPU seconds',
    logX: true,
    series: [
      { name: 'worker peak RSS (MiB)', points: rows.map((r) => ({ x: r.n, y: r.workerPeakRssMiB })) },
      { name: 'worker CPU (s)', points: rows.map((r) => ({ x: r.n, y: r.workerCpuS })) },
    ],
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
