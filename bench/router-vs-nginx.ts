/**
 * Benchmark: the local router against nginx (one worker process) in front of the same sample-app replica, in the
 * same run, with the same load generator (autocannon in this process: same connections, duration, keep-alive).
 *
 * Targets, measured in interleaved rounds (direct, router, nginx, direct, router, ...) so that a change in the
 * machine's load hits all three alike; each figure is the median over the rounds:
 *   direct  — autocannon straight at the replica (the baseline of what the replica and the load generator can do)
 *   router  — through the local router (examples/local-stack.ts, router-main.js), a module rule to the replica
 *   nginx   — through a real nginx, worker_processes 1, configured by the nginx driver (module rule, upstream with
 *             `keepalive 32`, HTTP/1.1 to the upstream), as in production
 * Reported per target: req/s, p50, p99, errors (errors + timeouts + non-2xx), each as a ratio to nginx and to
 * direct; and the proxy's CPU seconds per 1,000 requests (from /proc/<pid>/stat: router process; nginx worker +
 * master), which does not depend on how the 2 cores are shared between load generator, proxy and replica: the
 * fairest figure on a small machine. Goal (issue 13 item 6): router ≥ 0.8× nginx's req/s at a p99 no worse.
 *
 * Run: `make build && node dist/bench/router-vs-nginx.js`
 * Knobs: BENCH_QUICK=1 (2 rounds × 5 s, what `make bench` runs; full: 3 rounds × 15 s), BENCH_SECONDS (per target
 * per round), BENCH_ROUNDS, BENCH_CONNECTIONS (default 16), BENCH_PROFILE=1 (runs the router under
 * `node --cpu-prof` and prints its top self-time functions; the profile is kept as
 * $TMPDIR/cutover-router-<pid>.cpuprofile, for Chrome DevTools).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import autocannon from 'autocannon';
import { newLocalRouterDriver } from '../activities/drivers/local';
import { newNginxDriver } from '../activities/drivers/nginx';
import { projectRoot, startLocalStack } from '../examples/local-stack';
import type { LocalStack } from '../examples/local-stack';
import { startNginx } from '../examples/nginx-stack';
import type { NginxServer } from '../examples/nginx-stack';
import { plot } from './support/plot';
import { percentile, printTable, processCpuSeconds, round, writeResult } from './support/results';

const quick = process.env.BENCH_QUICK === '1';
const SECONDS = Number(process.env.BENCH_SECONDS ?? (quick ? 5 : 15));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (quick ? 2 : 3));
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const PROFILE = process.env.BENCH_PROFILE === '1';
const MODULE = 'Catalog';
const TARGETS = ['direct', 'router', 'nginx'] as const;
type Target = (typeof TARGETS)[number];

interface Run {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  requests: number;
  /** CPU seconds of the proxy (router process, or nginx worker + master) per 1,000 requests; 0 for direct. */
  proxyCpuPer1k: number;
  /** CPU seconds of the replica per 1,000 requests. */
  replicaCpuPer1k: number;
  /** CPU seconds of this process (the load generator) per 1,000 requests. */
  loadCpuPer1k: number;
}

/** Starts one sample-app replica serving MODULE; resolves with its URL, pid and a stop function. */
async function startReplica(dir: string): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const readyFile = path.join(dir, 'replica.ready');
  const log = fs.openSync(path.join(dir, 'replica.log'), 'a');
  const child: ChildProcess = spawn(
    process.execPath,
    [path.join(projectRoot(), 'dist/examples/sample-app/server.js')],
    {
      env: {
        ...process.env,
        PORT: '0',
        CUTOVER_APP: 'bench',
        CUTOVER_VERSION: '1',
        CUTOVER_MODULES: MODULE,
        CUTOVER_READY_FILE: readyFile,
      },
      stdio: ['ignore', log, log],
    },
  );
  fs.closeSync(log);
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 20_000;
  while (!fs.existsSync(readyFile)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`the replica did not start (see ${dir}/replica.log)`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const { port, pid } = JSON.parse(fs.readFileSync(readyFile, 'utf8')) as { port: number; pid: number };
  return { url: `http://127.0.0.1:${port}`, pid, stop };
}

const cpuOf = (pids: readonly number[]): number => pids.reduce((sum, pid) => sum + (processCpuSeconds(pid) ?? 0), 0);

async function measure(url: string, seconds: number, proxyPids: number[], replicaPid: number): Promise<Run> {
  const proxyBefore = cpuOf(proxyPids);
  const replicaBefore = cpuOf([replicaPid]);
  const loadBefore = process.cpuUsage();
  const result = await autocannon({ url, connections: CONNECTIONS, duration: seconds, pipelining: 1 });
  const load = process.cpuUsage(loadBefore);
  const requests = result.requests.total;
  const per1k = (cpu: number): number => (requests > 0 ? round((cpu * 1000) / requests, 4) : 0);
  return {
    rps: round(result.requests.average, 0),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    requests,
    proxyCpuPer1k: proxyPids.length ? per1k(cpuOf(proxyPids) - proxyBefore) : 0,
    replicaCpuPer1k: per1k(cpuOf([replicaPid]) - replicaBefore),
    loadCpuPer1k: per1k((load.user + load.system) / 1e6),
  };
}

const median = (values: number[]): number => percentile(values, 0.5);

/** The median of each figure over the rounds (errors: the sum). */
function summarise(runs: Run[]): Run {
  const m = (f: (r: Run) => number): number => median(runs.map(f));
  return {
    rps: m((r) => r.rps),
    p50Ms: m((r) => r.p50Ms),
    p99Ms: m((r) => r.p99Ms),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    requests: runs.reduce((sum, r) => sum + r.requests, 0),
    proxyCpuPer1k: m((r) => r.proxyCpuPer1k),
    replicaCpuPer1k: m((r) => r.replicaCpuPer1k),
    loadCpuPer1k: m((r) => r.loadCpuPer1k),
  };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** The top self-time functions of a .cpuprofile, as rows: share of the non-idle samples, function, file:line. */
export function topSelfTime(file: string, top = 15): { percent: number; fn: string; where: string }[] {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[] };
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const byFunction = new Map<string, { fn: string; where: string; hits: number }>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const fn = functionName || '(anonymous)';
    const where = url ? `${url.replace(/^file:\/\//, '').replace(`${projectRoot()}/`, '')}:${lineNumber + 1}` : '';
    const key = `${fn} ${where}`;
    const entry = byFunction.get(key) ?? { fn, where, hits: 0 };
    entry.hits += hits.get(node.id) ?? 0;
    byFunction.set(key, entry);
  }
  // Share of the busy samples: the router is idle while the other targets are measured.
  const busy = [...byFunction.values()].filter((e) => e.fn !== '(idle)');
  const total = busy.reduce((sum, e) => sum + e.hits, 0) || 1;
  return busy
    .sort((a, b) => b.hits - a.hits)
    .slice(0, top)
    .map((e) => ({ percent: round((100 * e.hits) / total, 1), fn: e.fn, where: e.where }));
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-bench-rvn-'));
  const profileDir = os.tmpdir();
  const profileName = `cutover-router-${process.pid}.cpuprofile`;
  const cleanups: (() => Promise<void>)[] = [];
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const replica = await startReplica(dir);
    cleanups.push(() => replica.stop());
    const stack: LocalStack = await startLocalStack({
      stateDir: path.join(dir, 'stack'),
      modules: [MODULE],
      application: 'bench',
      routerNodeArgs: PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${profileName}`] : [],
    });
    cleanups.push(() => stack.stop());
    const routerPid = stack.processes.find((p) => p.name === 'the router')?.child.pid;
    if (routerPid === undefined) throw new Error('the router has no pid');
    const nginx: NginxServer = await startNginx({
      platformServer: stack.platformServerUrl,
      workers: 1,
      dir: path.join(dir, 'nginx'),
    });
    cleanups.push(() => nginx.stop());

    const router = newLocalRouterDriver({ adminUrl: stack.adminUrl, publicUrl: stack.publicUrl });
    await router.ensureBackend('bench-blue', [replica.url]);
    await router.setModuleRule(MODULE, [{ backend: 'bench-blue', weight: 100 }]);
    const nginxDriver = newNginxDriver(nginx.routerConfig());
    await nginxDriver.ensureBackend('bench-blue', [replica.url]);
    await nginxDriver.setModuleRule(MODULE, [{ backend: 'bench-blue', weight: 100 }]);
    const nginxPids = [nginx.child.pid ?? 0, ...nginx.workers()].filter((pid) => pid > 0);

    const urls: Record<Target, string> = {
      direct: `${replica.url}/${MODULE}/`,
      router: `${stack.publicUrl}/${MODULE}/`,
      nginx: `${nginx.url}/${MODULE}/`,
    };
    const pids: Record<Target, number[]> = { direct: [], router: [routerPid], nginx: nginxPids };
    for (const target of TARGETS) {
      const res = await fetch(urls[target]);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${target} answered ${res.status} at ${urls[target]}`);
    }

    console.log(
      `cpus: ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? '?'}; load average ${os.loadavg()[0]?.toFixed(2)}; ` +
        `${ROUNDS} rounds × ${SECONDS} s per target, ${CONNECTIONS} keep-alive connections`,
    );
    // Warm-up: JIT of router, replica and load generator; nginx's upstream keep-alive pool.
    for (const target of TARGETS) await measure(urls[target], 1, pids[target], replica.pid);

    const runs: Record<Target, Run[]> = { direct: [], router: [], nginx: [] };
    for (let round_ = 0; round_ < ROUNDS && !interrupted; round_++) {
      for (const target of TARGETS) {
        if (interrupted) break;
        runs[target].push(await measure(urls[target], SECONDS, pids[target], replica.pid));
      }
    }
    if (interrupted) throw new Error('interrupted');
    const figures = Object.fromEntries(TARGETS.map((t) => [t, summarise(runs[t])])) as Record<Target, Run>;
    const { direct, nginx: viaNginx } = figures;
    const x = (a: number, b: number): string => (b === 0 ? '-' : `${(a / b).toFixed(2)}x`);
    printTable(
      ['target', 'req/s', '× nginx', '× direct', 'p50 ms', 'p99 ms', 'p99 × nginx', 'p99 × direct', 'errors'],
      TARGETS.map((t) => {
        const f = figures[t];
        return [
          t,
          f.rps,
          x(f.rps, viaNginx.rps),
          x(f.rps, direct.rps),
          f.p50Ms,
          f.p99Ms,
          x(f.p99Ms, viaNginx.p99Ms),
          x(f.p99Ms, direct.p99Ms),
          f.errors,
        ];
      }),
    );
    console.log('');
    printTable(
      ['target', 'proxy CPU s / 1k req', '× nginx', 'replica CPU s / 1k req', 'load generator CPU s / 1k req'],
      TARGETS.map((t) => {
        const f = figures[t];
        return [
          t,
          t === 'direct' ? '-' : f.proxyCpuPer1k,
          t === 'direct' ? '-' : x(f.proxyCpuPer1k, viaNginx.proxyCpuPer1k),
          f.replicaCpuPer1k,
          f.loadCpuPer1k,
        ];
      }),
    );

    await plot('router-vs-nginx', {
      title: `Router vs nginx (1 worker), same replica, ${CONNECTIONS} connections`,
      data: {
        values: TARGETS.flatMap((t) => [
          { target: t, measure: 'req/s', value: figures[t].rps },
          { target: t, measure: 'p99 (ms)', value: figures[t].p99Ms },
          ...(t === 'direct'
            ? []
            : [{ target: t, measure: 'proxy CPU ms / 1k requests', value: figures[t].proxyCpuPer1k * 1000 }]),
        ]),
      },
      columns: 3,
      facet: {
        field: 'measure',
        type: 'nominal',
        title: null,
        sort: ['req/s', 'p99 (ms)', 'proxy CPU ms / 1k requests'],
      },
      spec: {
        width: 200,
        height: 200,
        mark: { type: 'bar', tooltip: true },
        encoding: {
          x: { field: 'target', type: 'nominal', sort: [...TARGETS], title: null },
          y: { field: 'value', type: 'quantitative', title: null },
          color: { field: 'target', type: 'nominal', sort: [...TARGETS], legend: null },
        },
      },
      resolve: { scale: { y: 'independent' } },
    });

    // Stop the router now so that --cpu-prof writes its profile, then summarise it.
    let profile: { percent: number; fn: string; where: string }[] | undefined;
    if (PROFILE) {
      await stack.stop();
      const file = path.join(profileDir, profileName);
      profile = topSelfTime(file);
      console.log(`\nrouter profile (${file}), top self time, % of its busy samples:`);
      printTable(
        ['self %', 'function', 'where'],
        profile.map((p) => [p.percent, p.fn, p.where]),
      );
    }

    writeResult('router-vs-nginx', `${quick ? 'BENCH_QUICK=1 ' : ''}node dist/bench/router-vs-nginx.js`, {
      seconds: SECONDS,
      rounds: ROUNDS,
      connections: CONNECTIONS,
      targets: figures,
      runs,
      profile,
    });
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
