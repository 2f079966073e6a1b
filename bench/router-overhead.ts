/**
 * Benchmark: what the embedded router costs, and what a rule switch costs.
 *
 * Baseline and subject are measured in the same run, on the same replicas:
 *   1. direct    — load straight at one sample-app replica (the baseline)
 *   2. router    — the same load through the local router (default rule)
 *   3. switching — the same load through the router while a module's rule is
 *                  flipped between two backends every 100 ms
 * Prints requests/s, mean and p99 latency, failed requests, and each as a
 * ratio of the baseline. Run: `make build && node dist/bench/router-overhead.js`
 * (BENCH_SECONDS=N to change the duration of each phase, default 10).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import autocannon from 'autocannon';
import { newLocalPlatformDriver, newLocalRouterDriver } from '../activities/drivers/local';
import { startLocalStack } from '../examples/local-stack';

interface Figures {
  rps: number;
  meanMs: number;
  p99Ms: number;
  failed: number;
  requests: number;
}

async function measure(url: string, seconds: number): Promise<Figures> {
  const result = await autocannon({ url, connections: 16, duration: seconds, pipelining: 1 });
  return {
    rps: result.requests.average,
    meanMs: result.latency.average,
    p99Ms: result.latency.p99,
    failed: result.errors + result.timeouts + result.non2xx,
    requests: result.requests.total,
  };
}

function row(name: string, f: Figures, base: Figures): string {
  const ratio = (a: number, b: number) => (b === 0 ? '-' : `${(a / b).toFixed(2)}x`);
  return [
    name.padEnd(10),
    `${f.rps.toFixed(0).padStart(7)} req/s (${ratio(f.rps, base.rps).padStart(6)})`,
    `mean ${f.meanMs.toFixed(2).padStart(6)} ms (${ratio(f.meanMs, base.meanMs).padStart(6)})`,
    `p99 ${String(f.p99Ms).padStart(4)} ms (${ratio(f.p99Ms, base.p99Ms).padStart(6)})`,
    `${f.requests} requests, ${f.failed} failed`,
  ].join('  ');
}

async function main(): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-bench-'));
  const modules = ['Catalog'];
  const stack = await startLocalStack({ stateDir, modules, application: 'bench' });
  const platform = newLocalPlatformDriver({ stateDir: path.join(stateDir, 'platform') });
  const router = newLocalRouterDriver({ adminUrl: stack.adminUrl, publicUrl: stack.publicUrl });
  const base = { application: 'bench', modules, replicas: 1, env: {} };
  try {
    const a = await platform.ensureReplicaSet({ ...base, name: 'bench-1-blue', version: '1', slot: 'blue' });
    const b = await platform.ensureReplicaSet({ ...base, name: 'bench-2-green', version: '2', slot: 'green' });
    const [ra, rb] = [a.replicas[0], b.replicas[0]];
    if (!ra || !rb) throw new Error('replicas did not start');
    await router.ensureBackend('bench-blue', [ra.address]);
    await router.ensureBackend('bench-green', [rb.address]);
    await router.setModuleRule('Catalog', [{ backend: 'bench-blue', weight: 100 }]);

    console.log(`cpus: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}; ${seconds} s per phase, 16 connections`);
    const direct = await measure(`${ra.address}/Catalog/`, seconds);
    const viaRouter = await measure(`${stack.publicUrl}/Catalog/`, seconds);

    let flips = 0;
    let stop = false;
    const flipper = (async () => {
      while (!stop) {
        const target = flips % 2 === 0 ? 'bench-green' : 'bench-blue';
        await router.setModuleRule('Catalog', [{ backend: target, weight: 100 }]);
        flips++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const switching = await measure(`${stack.publicUrl}/Catalog/`, seconds);
    stop = true;
    await flipper;

    console.log(row('direct', direct, direct));
    console.log(row('router', viaRouter, direct));
    console.log(row('switching', switching, direct));
    console.log(`rule switches during the last phase: ${flips} (each persisted with fsync before it applied)`);
  } finally {
    for (const set of await platform.listReplicaSets('bench')) await platform.retireReplicaSet(set.name);
    await stack.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
