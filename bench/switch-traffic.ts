/**
 * Benchmark: zero downtime with latency — what a deployment does to the latency of the requests going through the
 * router while it runs, for a blue-green, a canary and a rolling update, through the local router and through nginx.
 *
 * One private Temporal dev server and one worker in its own process (dist/worker/main.js, default drivers: the load
 * generator's event loop is not the activities'). Per router: a platform-server stand-in, the router, and ONE paced
 * load through it for the whole run (undici — the client class that honours nginx's `Connection: close` drain —
 * `examples/load.ts`: GETs and POSTs on both modules, 4 × 50 requests/s, one connection of 1 s slow requests). The
 * application is first migrated onto containers (1.0.0, blue-green, not measured); then each strategy deploys the next
 * version, 2 replicas: blue-green 1→2, canary 2→3 (25 % → 50 % → 100 %, 1 s pauses), rolling 3→4 (maxSurge 1,
 * maxUnavailable 0; it first adopts the blue-green color's replicas: one extra switch, same replicas). Each deployment
 * has its own load phases: "before" (a fixed time, nothing happening), "during" (start call to result), "after".
 *
 * Baseline: the "before" phase of the same deployment, same load, same run. Goal: p99 during ≤ 1.5× p99 before, and 0
 * failed requests in every phase (failed, unanswered, or answered by a version not expected in that phase).
 *
 * Attribution, from the workflow history (each activity from scheduled to closed, mapped onto the load's clock): every
 * "during" request by the activity running when it started — a rule switch (switchTraffic, register/deregister
 * targets; it also takes the idle time up to BENCH_WINDOW_MS after it), another router write (publish/remove a backend:
 * for nginx a reload too), replica start-up (launch, probe until healthy), verification traffic (verifyTraffic, the
 * canary's split measurement: 1,000 requests, 8 at a time, per weight), retirement (drain, stop), other (discovery,
 * pauses, workflow tasks). Then the switch windows alone (each switch activity + BENCH_WINDOW_MS, whatever else ran),
 * split by the version that answered: a tail on the new version only is its cold replicas; on both, the router or the
 * machine. The machine's CPU (/proc/stat) and the generator's own event-loop delay are recorded beside.
 *
 * Prints Markdown tables (printTable), writes bench/results/switch-traffic.json (writeResult, with every span) and
 * docs/img/switch-traffic-<router>-<strategy>.png (requests and failures per 250 ms, the slowest request per bucket,
 * the machine's CPU; switches marked).
 *
 * Run: `make build && node dist/bench/switch-traffic.js` (full: both routers); `BENCH_QUICK=1` (quick: the local
 * router only, shorter phases). Knobs: BENCH_ROUTERS (local,nginx), BENCH_STRATEGIES (blue-green,canary,rolling: in
 * that order), BENCH_BEFORE_MS / BENCH_AFTER_MS (phase lengths; quick 2,000 / 1,500, full 4,000 / 3,000),
 * BENCH_CONNECTIONS (4) × BENCH_RATE (50 requests/s each), BENCH_REPLICAS (2), BENCH_WINDOW_MS (500: how long after a
 * switch its window lasts), BENCH_PLOTS=0 (no PNGs).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { newLocalPlatformDriver } from '../activities/drivers/local';
import { CutoverClient } from '../client/client';
import { judgeLoad, startLoad } from '../examples/load';
import type { Load, LoadReport, RequestResult } from '../examples/load';
import { startLocalStack } from '../examples/local-stack';
import { startNginx } from '../examples/nginx-stack';
import { startWorkerProcess } from '../examples/worker-process';
import { startDevServer } from '../scripts/dev-server';
import type { DeploymentSpecInput } from '../workflows/spec';
import { printTable, ratio, round, writeResult } from './support/results';
import { switchPlot } from './support/switch-plot';
import { SPAN_KINDS, activitySpans, attribute, inWindow, latencyOf, sampleMachineCpu } from './support/switch-windows';
import type { ActivitySpan, LatencyFigures, SpanKind } from './support/switch-windows';

const quick = process.env.BENCH_QUICK === '1';
const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const list = (name: string, fallback: string) => (process.env[name] ?? fallback).split(',').filter(Boolean);
const ROUTERS = list('BENCH_ROUTERS', quick ? 'local' : 'local,nginx') as RouterKind[];
const STRATEGIES = list('BENCH_STRATEGIES', 'blue-green,canary,rolling') as Strategy[];
const BEFORE_MS = num('BENCH_BEFORE_MS', quick ? 2_000 : 4_000);
const AFTER_MS = num('BENCH_AFTER_MS', quick ? 1_500 : 3_000);
const CONNECTIONS = num('BENCH_CONNECTIONS', 4);
const RATE = num('BENCH_RATE', 50);
const REPLICAS = num('BENCH_REPLICAS', 2);
const WINDOW_MS = num('BENCH_WINDOW_MS', 500);
const PLOTS = process.env.BENCH_PLOTS !== '0';
const MODULES = ['Catalog', 'Cart'];
const GOAL = 1.5;
const BUCKET_MS = 250;
/** A request started this long before a span began is counted in it too (it was in flight when the work began). */
const PAD_BEFORE_MS = 20;

type RouterKind = 'local' | 'nginx';
type Strategy = 'blue-green' | 'canary' | 'rolling';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const STRATEGY_SPECS: Record<Strategy, Record<string, unknown>> = {
  'blue-green': { type: 'blue-green', rollbackWindow: '0s' },
  canary: {
    type: 'canary',
    steps: [
      { setWeight: 25 },
      { pause: { duration: '1s' } },
      { setWeight: 50 },
      { pause: { duration: '1s' } },
      { setWeight: 100 },
    ],
    abortScaleDownDelay: '0s',
  },
  rolling: { type: 'rolling', maxSurge: 1, maxUnavailable: 0, drainTimeout: '5s' },
};

/** What one router needs started: the URL the load goes to, the spec's router section, and how to stop it. */
interface RouterUnderTest {
  url: string;
  routerSpec: Record<string, unknown>;
  /**
   * nginx: when each reload took effect (wall-clock ms: a new set of worker processes seen, polled every 20 ms). Its
   * rule switches apply then, not over the whole activity (which drains keep-alive connections for 4.5 s first).
   */
  reloads?: () => number[];
  stop(): Promise<void>;
}

async function startRouter(kind: RouterKind, dir: string, application: string): Promise<RouterUnderTest> {
  if (kind === 'local') {
    const stack = await startLocalStack({ stateDir: path.join(dir, 'stack'), modules: MODULES, application });
    return {
      url: stack.publicUrl,
      routerSpec: { kind: 'local', adminUrl: stack.adminUrl, publicUrl: stack.publicUrl },
      stop: () => stack.stop(),
    };
  }
  // nginx's location / goes to a platform-server stand-in: a sample-app replica of a platform of its own.
  const standIn = newLocalPlatformDriver({ stateDir: path.join(dir, 'platform-server') });
  const server = await standIn.ensureReplicaSet({
    name: 'platform-server',
    application: `${application}-platform`,
    version: 'platform-server',
    slot: 'blue',
    modules: MODULES,
    replicas: 1,
    env: {},
  });
  try {
    const nginx = await startNginx({ platformServer: server.replicas[0]?.address ?? '', dir: path.join(dir, 'nginx') });
    const reloads: number[] = [];
    let workers = nginx.workers().join(',');
    const poll = setInterval(() => {
      const now = nginx.workers();
      const fresh = now.filter((pid) => !workers.split(',').includes(String(pid)));
      // nginx starts its new workers one by one: one reload is new pids seen in polls close together.
      const last = reloads[reloads.length - 1];
      if (fresh.length > 0 && workers !== '' && (last === undefined || Date.now() - last > 500)) {
        reloads.push(Date.now());
      }
      workers = now.join(',');
    }, 20);
    return {
      url: nginx.url,
      routerSpec: nginx.routerSpec(),
      reloads: () => [...reloads],
      stop: async () => {
        clearInterval(poll);
        await nginx.stop();
        await standIn.retireReplicaSet('platform-server');
      },
    };
  } catch (err) {
    await standIn.retireReplicaSet('platform-server');
    throw err;
  }
}

/**
 * The worker in a process of its own (examples/worker-process.ts), as in production: its activities (process
 * launches, probes, fsyncs, the canary's split measurement) must not share an event loop with the load generator,
 * whose clock measures the latency. It still shares the machine's CPU, which is part of what is measured.
 */
function startBenchWorker(address: string, taskQueue: string): { stop(): Promise<void> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-bench-traffic-worker-'));
  const worker = startWorkerProcess({
    address,
    taskQueue,
    logFile: path.join(dir, 'worker.log'),
    env: { CUTOVER_LOG_LEVEL: 'warn' },
  });
  return {
    async stop() {
      await worker.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Deployment {
  router: RouterKind;
  strategy: Strategy;
  from: string;
  to: string;
  outcome: string;
  phases: { before: string; during: string; after: string };
  /** Load-clock ms. */
  beforeMs: number;
  startMs: number;
  endMs: number;
  afterEndMs: number;
  spans: ActivitySpan[];
  /** nginx: every reload from the start of "before" to the end of "after" (load-clock ms). */
  reloads: number[];
  /**
   * When the rules switched (load-clock ms): the local router's switch activities (a few tens of ms each); nginx's
   * reloads during its switch activities (instants).
   */
  switchWindows: { startMs: number; endMs: number }[];
}

interface RouterRun {
  router: RouterKind;
  deployments: Deployment[];
  report: LoadReport;
  cpu: { atMs: number; busyPct: number }[];
  problems: string[];
}

async function runRouter(kind: RouterKind, client: CutoverClient, cleanups: (() => Promise<void>)[]) {
  const application = `traffic-${kind}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `cutover-bench-traffic-${kind}-`));
  const platformDir = path.join(dir, 'platform');
  const platform = newLocalPlatformDriver({ stateDir: platformDir });
  // What close() undoes, as far as it got: set as each part starts.
  const held: { load?: Load; cpu?: ReturnType<typeof sampleMachineCpu>; router?: RouterUnderTest } = {};
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await held.load?.stop();
    held.cpu?.stop();
    for (const set of await platform.listReplicaSets(application)) await platform.retireReplicaSet(set.name);
    await held.router?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  cleanups.push(close);
  const router = await startRouter(kind, dir, application);
  held.router = router;
  const routerSpec = router.routerSpec;
  const spec = (version: string, strategy: Strategy): DeploymentSpecInput =>
    ({
      application,
      environment: 'bench',
      version,
      modules: MODULES,
      replicas: REPLICAS,
      platform: { kind: 'local', stateDir: platformDir, env: {} },
      router: routerSpec,
      strategy: STRATEGY_SPECS[strategy],
      health: { interval: '100ms', timeout: '1s', successThreshold: 1, deadline: '60s' },
    }) as DeploymentSpecInput;
  let n = 0;
  const deploy = async (s: DeploymentSpecInput) => {
    const id = `bench-traffic-${kind}-${process.pid}-${n++}`;
    await client.deploy(s, { deploymentId: id });
    const result = await client.result(id);
    return { id, outcome: result.outcome, reason: result.reason };
  };

  // The load's clock starts at startLoad: these two readings map the server's event times onto it (within ~1 ms).
  const originWall = Date.now();
  const originPerf = performance.now();
  const now = () => performance.now() - originPerf;
  const load = startLoad({
    url: router.url,
    paths: MODULES.map((m) => `/${m}/`),
    clients: ['undici'],
    connections: CONNECTIONS,
    ratePerConnection: RATE,
    slowConnections: 1,
    slowMs: 1_000,
    phase: 'setup',
  });
  held.load = load;
  const cpuSampler = sampleMachineCpu(now, BUCKET_MS);
  held.cpu = cpuSampler;
  const versions: Record<string, string[]> = { setup: ['platform-server', '1.0.0'] };
  const setup = await deploy(spec('1.0.0', 'blue-green'));
  if (setup.outcome !== 'succeeded')
    throw new Error(`${kind}: the migration to 1.0.0 ${setup.outcome}: ${setup.reason}`);
  process.stdout.write(`${kind}: migrated to 1.0.0 (not measured)\n`);

  const deployments: Deployment[] = [];
  let live = '1.0.0';
  for (const [i, strategy] of STRATEGIES.entries()) {
    const to = `${i + 2}.0.0`;
    const phases = { before: `${strategy} before`, during: `${strategy} during`, after: `${strategy} after` };
    versions[phases.before] = [live];
    versions[phases.during] = [live, to];
    load.phase(phases.before);
    const beforeMs = now();
    await sleep(BEFORE_MS);
    await load.waitForRequests();
    load.phase(phases.during);
    const startMs = now();
    const run = await deploy(spec(to, strategy));
    const endMs = now();
    const next = run.outcome === 'succeeded' ? to : live;
    versions[phases.after] = [next];
    load.phase(phases.after);
    await sleep(AFTER_MS);
    await load.waitForRequests();
    const afterEndMs = now();
    // The server's event times and this process's wall clock are the same machine's clock.
    const spans = await activitySpans(client.temporal, run.id, originWall);
    const reloads = router.reloads?.().map((t) => t - originWall);
    deployments.push({
      router: kind,
      strategy,
      from: live,
      to,
      outcome: run.outcome,
      phases,
      beforeMs,
      startMs,
      endMs,
      afterEndMs,
      spans,
      reloads: reloads?.filter((t) => t >= beforeMs && t <= afterEndMs) ?? [],
      switchWindows: switchWindowsOf(spans, reloads),
    });
    process.stdout.write(
      `${kind}: ${strategy} ${live} -> ${to} ${run.outcome} in ${((endMs - startMs) / 1000).toFixed(1)} s` +
        `${run.reason ? ` (${run.reason})` : ''}\n`,
    );
    live = next;
  }
  const report = await load.stop();
  const cpu = cpuSampler.stop();
  const verdict = judgeLoad(report, { versions });
  await close();
  return { router: kind, deployments, report, cpu, problems: verdict.problems } satisfies RouterRun;
}

function switchWindowsOf(spans: ActivitySpan[], reloads: number[] | undefined): Deployment['switchWindows'] {
  const switches = spans.filter((s) => s.kind === 'switch');
  if (!reloads) return switches.map((s) => ({ startMs: s.startMs, endMs: s.endMs }));
  return reloads
    .filter((t) => switches.some((s) => t >= s.startMs && t <= s.endMs))
    .map((t) => ({ startMs: t, endMs: t }));
}

interface Figures {
  router: RouterKind;
  strategy: Strategy;
  outcome: string;
  deploySeconds: number;
  before: LatencyFigures | null;
  during: LatencyFigures | null;
  after: LatencyFigures | null;
  failed: { before: number; during: number; after: number };
  byWindow: Record<SpanKind, LatencyFigures | null>;
  /**
   * Every request started in a switch window, whatever else ran then, split by the version that answered: a tail on
   * the new version only is the new replicas (cold); on both, the router or the machine.
   */
  switchWindow: { all: LatencyFigures | null; old: LatencyFigures | null; new: LatencyFigures | null };
  switches: number;
  switchWindows: number;
}

function figuresOf(run: RouterRun, d: Deployment): Figures {
  const inPhase = (name: string) => run.report.requests.filter((r) => r.phase === name);
  const failedIn = (name: string) => {
    const p = run.report.phases.find((x) => x.phase === name);
    return p ? p.failed + p.unfinished : 0;
  };
  const during = inPhase(d.phases.during);
  const byWindow = Object.fromEntries(SPAN_KINDS.map((k) => [k, [] as RequestResult[]])) as Record<
    SpanKind,
    RequestResult[]
  >;
  for (const r of during) {
    byWindow[attribute(r.startedMs, d.spans, { beforeMs: PAD_BEFORE_MS, afterSwitchMs: WINDOW_MS })].push(r);
  }
  const switches = d.spans.filter((s) => s.kind === 'switch');
  const inSwitch = during.filter((r) =>
    inWindow(r.startedMs, d.switchWindows, { beforeMs: PAD_BEFORE_MS, afterMs: WINDOW_MS }),
  );
  return {
    router: d.router,
    strategy: d.strategy,
    outcome: d.outcome,
    deploySeconds: round((d.endMs - d.startMs) / 1000, 2),
    before: latencyOf(inPhase(d.phases.before)),
    during: latencyOf(during),
    after: latencyOf(inPhase(d.phases.after)),
    failed: { before: failedIn(d.phases.before), during: failedIn(d.phases.during), after: failedIn(d.phases.after) },
    byWindow: Object.fromEntries(SPAN_KINDS.map((k) => [k, latencyOf(byWindow[k])])) as Record<
      SpanKind,
      LatencyFigures | null
    >,
    switchWindow: {
      all: latencyOf(inSwitch),
      old: latencyOf(inSwitch.filter((r) => r.version === d.from)),
      new: latencyOf(inSwitch.filter((r) => r.version === d.to)),
    },
    switches: switches.length,
    switchWindows: d.switchWindows.length,
  };
}

const ms = (l: LatencyFigures | null, key: 'p50' | 'p99') => (l ? `${l[key]}` : '-');
const vs = (l: LatencyFigures | null, base: LatencyFigures | null) => (l && base ? ratio(l.p99, base.p99) : '-');

async function main(): Promise<void> {
  const started = Date.now();
  // The load generator's own event-loop delay: were it large, the latencies would be the generator's, not the router's.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const cleanups: (() => Promise<void>)[] = [];
  let interrupted = false;
  const cleanUp = async () => {
    // Newest first; taken off the list at once, so a Ctrl-C during the final clean-up does not run any twice.
    for (const c of cleanups.splice(0).reverse()) await c().catch((err: unknown) => console.error('cleanup:', err));
  };
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    console.error('interrupted: cleaning up');
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const runs: RouterRun[] = [];
  try {
    const server = await startDevServer();
    cleanups.push(() => server.stop());
    const taskQueue = `bench-traffic-${process.pid}`;
    const worker = startBenchWorker(server.address, taskQueue);
    cleanups.push(() => worker.stop());
    const client = await CutoverClient.connect({ address: server.address, taskQueue });
    cleanups.push(() => client.close());
    process.stdout.write(
      `${os.cpus().length} cpus, load average ${os.loadavg()[0]?.toFixed(2)}; ${CONNECTIONS} connections × ${RATE} req/s; ` +
        `phases before ${BEFORE_MS} ms, after ${AFTER_MS} ms; ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    for (const kind of ROUTERS) runs.push(await runRouter(kind, client, cleanups));
  } finally {
    await cleanUp();
  }

  const figures = runs.flatMap((run) => run.deployments.map((d) => figuresOf(run, d)));
  process.stdout.write(
    '\nLatency of GETs and POSTs (ms) before, during and after each deployment; baseline: before\n\n',
  );
  printTable(
    [
      'router',
      'strategy',
      'outcome',
      'deploy s',
      'p50 before',
      'p99 before',
      'p50 during',
      'p99 during',
      'p50 after',
      'p99 after',
      'p99 during / before',
      'failed (b/d/a)',
    ],
    figures.map((f) => [
      f.router,
      f.strategy,
      f.outcome,
      f.deploySeconds,
      ms(f.before, 'p50'),
      ms(f.before, 'p99'),
      ms(f.during, 'p50'),
      ms(f.during, 'p99'),
      ms(f.after, 'p50'),
      ms(f.after, 'p99'),
      `${vs(f.during, f.before)}${f.during && f.before && f.during.p99 > GOAL * f.before.p99 ? ' (> 1.5x)' : ''}`,
      `${f.failed.before}/${f.failed.during}/${f.failed.after}`,
    ]),
  );
  const cell = (l: LatencyFigures | null, base: LatencyFigures | null) =>
    l ? `${l.p99} (${l.n}) ${vs(l, base)}` : '-';
  process.stdout.write(
    `\nWhere the "during" tail comes from: each request by the activity running when it started (a switch also ` +
      `takes the idle time up to ${WINDOW_MS} ms after it); p99 ms (requests) and p99 against "before"\n\n`,
  );
  printTable(
    ['router', 'strategy', 'switches', ...SPAN_KINDS],
    figures.map((f) => [f.router, f.strategy, f.switches, ...SPAN_KINDS.map((k) => cell(f.byWindow[k], f.before))]),
  );
  process.stdout.write(
    `\nSwitch windows (the local router: each switch activity; nginx: each reload during one; and the ` +
      `${WINDOW_MS} ms after it, whatever else ran), by the version that answered: p99 ms (requests) and p99 ` +
      `against "before"\n\n`,
  );
  printTable(
    [
      'router',
      'strategy',
      'windows',
      'p99 before',
      'switch windows',
      'answered by the old version',
      'answered by the new version',
    ],
    figures.map((f) => [
      f.router,
      f.strategy,
      f.switchWindows,
      ms(f.before, 'p99'),
      cell(f.switchWindow.all, f.before),
      cell(f.switchWindow.old, f.before),
      cell(f.switchWindow.new, f.before),
    ]),
  );
  loopDelay.disable();
  const generator = {
    loopDelayP99Ms: round(loopDelay.percentile(99) / 1e6),
    loopDelayMaxMs: round(loopDelay.max / 1e6),
  };
  process.stdout.write(
    `\nThe load generator's event-loop delay over the run: p99 ${generator.loopDelayP99Ms} ms, ` +
      `max ${generator.loopDelayMaxMs} ms (the worker runs in its own process)\n`,
  );
  const problems = runs.flatMap((r) => r.problems.map((p) => `${r.router}: ${p}`));
  for (const p of problems) process.stdout.write(`! ${p}\n`);

  const command = `${quick ? 'BENCH_QUICK=1 ' : ''}node dist/bench/switch-traffic.js`;
  writeResult('switch-traffic', command, {
    settings: {
      quick,
      connections: CONNECTIONS,
      rate: RATE,
      replicas: REPLICAS,
      beforeMs: BEFORE_MS,
      afterMs: AFTER_MS,
    },
    windowMs: WINDOW_MS,
    generator,
    goal: `p99 during <= ${GOAL}x p99 before; 0 failed`,
    figures,
    problems,
    spans: runs.flatMap((r) =>
      r.deployments.map((d) => ({
        router: r.router,
        strategy: d.strategy,
        spans: d.spans,
        switchWindows: d.switchWindows,
      })),
    ),
    seconds: round((Date.now() - started) / 1000),
  });
  if (PLOTS) {
    for (const run of runs) {
      for (const d of run.deployments) {
        const names = new Set(Object.values(d.phases));
        await switchPlot(`switch-traffic-${run.router}-${d.strategy}`, {
          title: `${d.strategy} ${d.from} → ${d.to} through ${run.router === 'local' ? 'the local router' : 'nginx'}`,
          requests: run.report.requests.filter((r) => names.has(r.phase)),
          cpu: run.cpu,
          fromMs: d.beforeMs,
          deployStartMs: d.startMs,
          deployEndMs: d.endMs,
          toMs: d.afterEndMs,
          spans: d.spans,
          instants: d.reloads,
          bucketMs: BUCKET_MS,
        });
      }
    }
  }
  process.stdout.write(`total ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  if (problems.length > 0 || figures.some((f) => f.outcome !== 'succeeded')) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
