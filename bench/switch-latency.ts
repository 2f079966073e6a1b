/**
 * Benchmark: switch latency — from the approval to every module's rule switched and read back.
 *
 * For 1, 20 and 100 modules on three routers (the local router; a real nginx, examples/nginx-stack.ts; the AWS ALB
 * driver against moto's server, examples/moto-stack.ts), measured two ways in the same run:
 *   1. end to end through Temporal (the subject): blue-green deployments (local platform, one replica, preview off,
 *      approval required, rollback window 0 s) on a private dev server; for each, the time from the
 *      WorkflowExecutionSignaled event of the approval to the ActivityTaskCompleted event of switchTraffic (the
 *      activity that sets every rule and reads them back), both from the workflow history (server clock). In
 *      between: a workflow task, the "publish green backend" activity, another workflow task, then switchTraffic.
 *      The first deployment of each application is a migration off the platform server (rules created, not changed):
 *      it is a warm-up and is not counted.
 *   2. the driver alone (the baseline, the floor): the switch as switchTraffic makes it, called directly from this
 *      process, alternating between two backends: the Router port's `batch.setModuleRules` for every module at once
 *      where the router has that capability (local, nginx; for more than one module), else setModuleRule for each
 *      module; then readRules.
 * The ratio (1)/(2) is what Temporal and the extra activity add. Goal (issue 13): ≤ 50 ms p50 for 20 modules on the
 * local router.
 *
 * Columns: p50/p95 of (1); the two activities inside it (publishBackend, switchTraffic: started -> completed); the
 * driver-only p50/p95 of (2); the ratio of the p50s. (1) minus both activities is Temporal's share: two workflow
 * tasks and two activity dispatches.
 *
 * nginx switches every module in one reload (its `batch`: `nginx -t`, the keep-alive drain, SIGHUP, wait for the old
 * workers), and the publish step is one more reload. Its configuration in examples/nginx-stack.ts drains for 4.5 s per
 * reload, so "nginx (drain 4500 ms)" is measured at 1 module only (each run waits out two drains, 9 s, whatever the
 * size), and "nginx, drain 0 ms" (the same nginx and driver with `reload.drain: 0`, not the configured one) at 1 and
 * 20 modules: the drain's share is the difference, 4.5 s per reload. The ALB gets a fresh load balancer per size and
 * prints how many listener rules the 100 modules made (AWS's default quota is 100 rules per load balancer; moto
 * enforces none).
 *
 * Run: `make build && node dist/bench/switch-latency.js` (full: runs per router and size in PLANS below, about
 * 4 minutes on a quiet machine). Knobs: BENCH_QUICK=1 (what `make bench` runs: local at 1 and 20 modules, nginx
 * drain 0 and ALB at 1 module), BENCH_RUNS=N (Temporal runs per size, overriding PLANS), BENCH_ROUTERS=local,nginx,
 * nginx-drain0,alb (a subset), BENCH_SIZES=1,20,100 (a subset of PLANS' sizes). Writes
 * bench/results/switch-latency.json and docs/img/switch-latency.png (p50 against modules, log axes).
 * BENCH_EAGER=1 starts the dev server with eager activity dispatch on (an experiment on Temporal's share).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { temporal } from '@temporalio/proto';
import { defaultDrivers } from '../activities/drivers';
import { newAwsAlbDriver } from '../activities/drivers/aws-alb';
import { newLocalPlatformDriver, newLocalRouterDriver } from '../activities/drivers/local';
import { newNginxDriver } from '../activities/drivers/nginx';
import type { Router } from '../activities/ports';
import { CutoverClient } from '../client/client';
import { startLocalStack } from '../examples/local-stack';
import { REGION, createAlbWorld, startMoto } from '../examples/moto-stack';
import { startNginx } from '../examples/nginx-stack';
import { startDevServer } from '../scripts/dev-server';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createWorker } from '../worker';
import { lineChart } from './support/plot';
import { percentile, printTable, ratio, round, writeResult } from './support/results';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const quick = process.env.BENCH_QUICK === '1';
const SIZES = (process.env.BENCH_SIZES ?? '1,20,100').split(',').map(Number);

/** One router under test: how the spec names it, the same driver for direct calls, and what it started. */
interface RouterUnderTest {
  name: string;
  /** Temporal runs and driver-only runs at this size (undefined: not measured). */
  plan(size: number): { runs: number; driverRuns: number } | undefined;
  /** The spec's router section and the driver for one size (the ALB gets a fresh load balancer per size). */
  forSize(size: number): Promise<{ routerSpec: Record<string, unknown>; driver: Router; note?: () => Promise<string> }>;
  stop(): Promise<void>;
}

/** Runs per size, quick (`make bench`) and full. nginx reloads twice per deployment (publish, switch): fewer runs. */
const PLANS: Record<string, Record<number, [number, number]>> = quick
  ? {
      local: { 1: [5, 10], 20: [5, 10] },
      'nginx-drain0': { 1: [2, 3] },
      alb: { 1: [3, 5] },
    }
  : {
      local: { 1: [20, 20], 20: [20, 20], 100: [20, 20] },
      nginx: { 1: [1, 2] },
      'nginx-drain0': { 1: [10, 10], 20: [3, 3] },
      alb: { 1: [20, 20], 20: [10, 10], 100: [3, 3] },
    };

const routers = (): string[] => (process.env.BENCH_ROUTERS ?? Object.keys(PLANS).join(',')).split(',');

function planOf(router: string, size: number): { runs: number; driverRuns: number } | undefined {
  const entry = PLANS[router]?.[size];
  if (!entry) return undefined;
  return { runs: process.env.BENCH_RUNS ? Number(process.env.BENCH_RUNS) : entry[0], driverRuns: entry[1] };
}

interface Row {
  router: string;
  modules: number;
  runs: number;
  /** approval signal -> switchTraffic completed (ms), per counted run. */
  e2e: number[];
  /** switchTraffic's own time (started -> completed), per counted run. */
  activity: number[];
  /** the publishBackend activity between the approval and the switch. */
  publish: number[];
  /** driver alone: the switch (batch.setModuleRules, or setModuleRule × N without batch) + readRules (ms). */
  driver: number[];
  /** What the router says after the runs (the ALB's rule count). */
  note?: string;
}

/** Each size has its own modules (rules are per module, whatever the application). */
const moduleNames = (n: number) => Array.from({ length: n }, (_, i) => `N${n}M${String(i + 1).padStart(3, '0')}`);

const eventMs = (e: HistoryEvent | undefined): number => {
  const t = e?.eventTime;
  if (!t) return Number.NaN;
  return Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) + ((t.nanos ?? 0) % 1e6) / 1e6;
};

/** started -> completed (ms) of the first activity of one of `names` scheduled after event `afterId`. */
function activityTime(
  events: HistoryEvent[],
  names: string[],
  afterId: number,
): { ms: number; completed?: HistoryEvent } {
  const scheduled = events.find(
    (e) =>
      Number(e.eventId) > afterId && names.includes(e.activityTaskScheduledEventAttributes?.activityType?.name ?? ''),
  );
  const id = Number(scheduled?.eventId ?? -1);
  const started = events.find((e) => Number(e.activityTaskStartedEventAttributes?.scheduledEventId ?? -2) === id);
  const completed = events.find((e) => Number(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? -2) === id);
  return { ms: eventMs(completed) - eventMs(started), completed };
}

/**
 * From a finished deployment's history: approval -> switchTraffic completed, switchTraffic alone and the "publish
 * green backend" activity between them (ms, server clock).
 */
function switchTimes(events: HistoryEvent[]): { e2e: number; activity: number; publish: number } {
  const signaled = events.find((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'approve');
  if (!signaled) throw new Error('history has no approve signal');
  const switched = activityTime(events, ['switchTraffic'], Number(signaled.eventId));
  // publishReplicaSet since the bounded-payloads patch, publishBackend before it.
  const publish = activityTime(events, ['publishReplicaSet', 'publishBackend'], Number(signaled.eventId));
  if (!switched.completed) throw new Error('history has no completed switchTraffic');
  return { e2e: eventMs(switched.completed) - eventMs(signaled), activity: switched.ms, publish: publish.ms };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const started = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-bench-switch-'));
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch((err: unknown) => console.error(err));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = () => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const rows: Row[] = [];
  try {
    // BENCH_EAGER=1: the server hands an activity scheduled by a workflow task straight back to the worker that
    // completed that task (eager activity dispatch), skipping a poll round trip per activity.
    const server = await startDevServer(
      process.env.BENCH_EAGER === '1'
        ? { extraArgs: ['--dynamic-config-value', 'system.enableActivityEagerExecution=true'] }
        : {},
    );
    cleanups.push(() => server.stop());
    const platformDir = path.join(dir, 'platform');
    const platform = newLocalPlatformDriver({ stateDir: platformDir });
    const taskQueue = 'bench-switch';
    const { worker, close } = await createWorker({
      temporal: { address: server.address, taskQueue },
      drivers: defaultDrivers({ localStateDir: platformDir }),
    });
    const running = worker.run();
    cleanups.push(async () => {
      worker.shutdown();
      await running;
      await close();
    });
    const client = await CutoverClient.connect({ address: server.address, taskQueue });
    cleanups.push(() => client.close());
    const allModules = SIZES.flatMap(moduleNames);
    cleanups.push(async () => {
      for (const n of SIZES) {
        for (const r of routers()) {
          for (const set of await platform.listReplicaSets(appName(r, n))) await platform.retireReplicaSet(set.name);
        }
      }
    });

    for (const name of routers()) {
      const rut = await startRouter(name, dir, allModules);
      cleanups.push(() => rut.stop());
      for (const size of SIZES) {
        const plan = planOf(name, size);
        if (!plan) continue;
        // A size that fails is reported as such; the other rows still print.
        const row = await measure(rut, size, plan, { client, platformDir }).catch((err: unknown): Row => ({
          router: rut.name,
          modules: size,
          runs: 0,
          e2e: [],
          activity: [],
          publish: [],
          driver: [],
          note: `failed: ${err instanceof Error ? err.message : String(err)}`,
        }));
        if (row.note) process.stdout.write(`${rut.name} × ${size}: ${row.note}\n`);
        rows.push(row);
        const p50 = percentile(row.e2e, 0.5);
        process.stdout.write(
          `${name} × ${size}: p50 ${round(p50)} ms end to end, ${round(percentile(row.driver, 0.5))} ms driver only\n`,
        );
      }
      await rut.stop();
      cleanups.pop();
    }
  } finally {
    await cleanup();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }

  const fmt = (v: number) => (Number.isNaN(v) ? '-' : `${round(v, v < 10 ? 1 : 0)} ms`);
  printTable(
    [
      'router',
      'modules',
      'runs',
      'p50 (approval → switched)',
      'p95',
      'publish activity p50',
      'switch activity p50',
      'driver-only p50',
      'driver-only p95',
      'ratio p50 / driver',
    ],
    rows.map((r) => {
      const p50 = percentile(r.e2e, 0.5);
      const d50 = percentile(r.driver, 0.5);
      return [
        r.router,
        r.modules,
        r.runs,
        fmt(p50),
        fmt(percentile(r.e2e, 0.95)),
        fmt(percentile(r.publish, 0.5)),
        fmt(percentile(r.activity, 0.5)),
        fmt(d50),
        fmt(percentile(r.driver, 0.95)),
        r.e2e.length ? ratio(p50, d50) : '-',
      ];
    }),
  );
  const local20 = rows.find((r) => r.router === 'local' && r.modules === 20);
  if (local20) {
    const p50 = percentile(local20.e2e, 0.5);
    process.stdout.write(
      `goal: local router, 20 modules, p50 ≤ 50 ms: ${round(p50)} ms (${p50 <= 50 ? 'met' : 'missed'})\n`,
    );
  }
  const figures = rows.map((r) => ({
    router: r.router,
    modules: r.modules,
    runs: r.runs,
    p50Ms: round(percentile(r.e2e, 0.5), 2),
    p95Ms: round(percentile(r.e2e, 0.95), 2),
    publishP50Ms: round(percentile(r.publish, 0.5), 2),
    activityP50Ms: round(percentile(r.activity, 0.5), 2),
    driverP50Ms: round(percentile(r.driver, 0.5), 2),
    driverP95Ms: round(percentile(r.driver, 0.95), 2),
    e2eMs: r.e2e.map((v) => round(v, 2)),
    driverMs: r.driver.map((v) => round(v, 2)),
  }));
  writeResult('switch-latency', `${quick ? 'BENCH_QUICK=1 ' : ''}node dist/bench/switch-latency.js`, {
    quick,
    eagerActivities: process.env.BENCH_EAGER === '1',
    seconds: round((Date.now() - started) / 1000),
    rows: figures,
  });
  const series = [...new Set(rows.map((r) => r.router))].flatMap((router) => {
    const mine = rows.filter((r) => r.router === router);
    return [
      {
        name: `${shortName(router)}: Temporal`,
        points: mine.filter((r) => r.e2e.length).map((r) => ({ x: r.modules, y: percentile(r.e2e, 0.5) })),
      },
      {
        name: `${shortName(router)}: driver`,
        points: mine.map((r) => ({ x: r.modules, y: percentile(r.driver, 0.5) })),
      },
    ].filter((s) => s.points.length > 0);
  });
  await lineChart('switch-latency', {
    title: 'Switch latency: approval → every rule switched and read back (p50; log axes)',
    x: 'modules',
    y: 'milliseconds (log)',
    series,
    logX: true,
    logY: true,
  });
  process.stdout.write(`total: ${round((Date.now() - started) / 1000)} s\n`);
}

/** Legend entries short enough for the plot's legend. */
const shortName = (router: string) =>
  router
    .replace(/ \(drain (\d+) ms\)/, ' $1 ms')
    .replace(', drain 0 ms', ' 0 ms')
    .replace(' (moto)', '');

function appName(router: string, modules: number): string {
  return `sw-${router.replace(/[^a-z0-9]/g, '')}-${modules}`;
}

async function measure(
  rut: RouterUnderTest,
  size: number,
  plan: { runs: number; driverRuns: number },
  ctx: { client: CutoverClient; platformDir: string },
): Promise<Row> {
  const modules = moduleNames(size);
  const { routerSpec, driver, note } = await rut.forSize(size);
  const application = appName(rut.name, size);
  const row: Row = { router: rut.name, modules: size, runs: plan.runs, e2e: [], activity: [], publish: [], driver: [] };
  // Run 0 is the migration off the platform server (warm-up, not counted); runs 1..N are upgrades blue <-> green.
  for (let k = 0; k <= plan.runs; k++) {
    const version = `1.0.${k}`;
    const spec = {
      application,
      environment: 'bench',
      version,
      modules,
      replicas: 1,
      platform: { kind: 'local', stateDir: ctx.platformDir, env: {} },
      router: routerSpec,
      strategy: { type: 'blue-green', rollbackWindow: '0s', approval: { mode: 'required' } },
      health: { interval: '50ms', timeout: '1s', successThreshold: 1, deadline: '30s' },
    };
    const { deploymentId } = await ctx.client.deploy(spec, { deploymentId: `${application}-${k}` });
    for (;;) {
      const status = await ctx.client
        .handle(deploymentId)
        .query<{ approval: { pending: boolean }; phase: string }>('status');
      if (status.approval.pending) break;
      if (['Failed', 'RolledBack', 'Succeeded'].includes(status.phase))
        throw new Error(`${deploymentId}: ${status.phase}`);
      await sleep(20);
    }
    await ctx.client.approve(deploymentId, { by: 'bench', version });
    const result = await ctx.client.result(deploymentId);
    if (result.outcome !== 'succeeded') throw new Error(`${deploymentId}: ${result.outcome}: ${result.reason ?? ''}`);
    if (k === 0) continue;
    const { events } = await ctx.client.handle(deploymentId).fetchHistory();
    const t = switchTimes(events ?? []);
    row.e2e.push(t.e2e);
    row.activity.push(t.activity);
    row.publish.push(t.publish);
  }
  // The driver alone on the same rules: between the live backend and a second one with the same targets.
  const live = (await driver.readRules(modules))[modules[0] as string]?.backends[0]?.backend;
  if (!live) throw new Error(`${application}: no live rule after the deployments`);
  const targets = (await driver.describeBackend(live)) ?? [];
  const other = `${application}-other`;
  await driver.ensureBackend(other, targets);
  // As switchTraffic does it: one change for every module where the router can (its batch capability).
  const switchAll = async (backend: string): Promise<void> => {
    const rule = [{ backend, weight: 100 }];
    if (driver.batch && modules.length > 1) await driver.batch.setModuleRules(modules, rule);
    else for (const m of modules) await driver.setModuleRule(m, rule);
  };
  for (let i = 0; i < plan.driverRuns; i++) {
    const backend = i % 2 === 0 ? other : live;
    const t0 = performance.now();
    await switchAll(backend);
    const after = await driver.readRules(modules);
    const dt = performance.now() - t0;
    if (modules.some((m) => after[m]?.backends[0]?.backend !== backend)) throw new Error('driver read-back mismatch');
    row.driver.push(dt);
  }
  if (plan.driverRuns % 2 === 1) await switchAll(live);
  if (note) row.note = await note();
  return row;
}

async function startRouter(name: string, dir: string, modules: string[]): Promise<RouterUnderTest> {
  const home = path.join(dir, name);
  switch (name) {
    case 'local': {
      const stack = await startLocalStack({ stateDir: home, modules, application: 'bench' });
      const routerSpec = { kind: 'local', adminUrl: stack.adminUrl, publicUrl: stack.publicUrl };
      const driver = newLocalRouterDriver({ adminUrl: stack.adminUrl, publicUrl: stack.publicUrl });
      return {
        name,
        plan: (n) => planOf(name, n),
        forSize: () => Promise.resolve({ routerSpec, driver }),
        stop: () => stack.stop(),
      };
    }
    case 'nginx':
    case 'nginx-drain0': {
      // The platform server: the sample app on every module (as the local stack starts it), behind nginx's default rule.
      const stack = await startLocalStack({ stateDir: path.join(home, 'stack'), modules, application: 'bench' });
      const nginx = await startNginx({ platformServer: stack.platformServerUrl, dir: path.join(home, 'nginx') });
      const configured = nginx.routerConfig();
      const drain = name === 'nginx' ? configured.reload.drain : 0;
      const driver = newNginxDriver(nginx.routerConfig({ reload: { ...configured.reload, drain } }));
      const spec = nginx.routerSpec();
      const routerSpec = { ...spec, reload: { ...(spec.reload as object), drain: `${drain}ms` } };
      return {
        name: name === 'nginx' ? `nginx (drain ${drain} ms)` : 'nginx, drain 0 ms',
        plan: (n) => planOf(name, n),
        forSize: () => Promise.resolve({ routerSpec, driver }),
        stop: async () => {
          await nginx.stop();
          await stack.stop();
        },
      };
    }
    case 'alb': {
      const moto = await startMoto();
      const { validateSpec } = await import('../workflows/spec');
      return {
        name: 'alb (moto)',
        plan: (n) => planOf(name, n),
        // A fresh moto and load balancer per size, as each application would have: the listener holds only its rules.
        async forSize(size) {
          await moto.reset();
          const world = await createAlbWorld(moto.endpoint);
          const routerSpec = {
            kind: 'aws-alb',
            region: REGION,
            endpoint: moto.endpoint,
            listenerArn: world.listenerArn,
            targetGroups: {
              vpcId: world.vpcId,
              port: 80,
              healthCheck: { path: `/${moduleNames(size)[0] ?? ''}/_ping.html` },
            },
          };
          const checked = validateSpec({
            application: 'x',
            environment: 'x',
            version: '1',
            modules: ['M'],
            replicas: 1,
            platform: { kind: 'local' },
            router: routerSpec,
            strategy: { type: 'blue-green' },
          });
          if (!checked.ok) throw new Error(`ALB router spec: ${JSON.stringify(checked.issues)}`);
          const { kind: _kind, ...config } = checked.spec.router as { kind: string } & Record<string, unknown>;
          const driver = newAwsAlbDriver(config as unknown as Parameters<typeof newAwsAlbDriver>[0]);
          const note = async () => {
            const rules = await world.api.describeRules(world.listenerArn);
            return `${rules.filter((r) => r.priority !== 'default').length} listener rules besides the default (AWS quota: 100 per load balancer; moto enforces none)`;
          };
          return { routerSpec, driver, note };
        },
        stop: () => moto.stop(),
      };
    }
    default:
      throw new Error(`unknown router "${name}" in BENCH_ROUTERS (local, nginx, nginx-drain0, alb)`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
