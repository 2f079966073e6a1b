/**
 * Benchmark: what a graceful nginx reload costs keep-alive clients, with and without the nginx driver's drain.
 *
 * One nginx (examples/nginx-stack.ts) in front of two sample-app replica sets; 16 keep-alive connections on one
 * module. Phases (each with its own baseline in the same run):
 *   1. no reload                                  — an ordinary client (undici), nothing changes
 *   2. plain reloads: SIGHUP to the master         — what `nginx -s reload` does
 *   3. driver reloads: the module's rule flipped   — Connection: close while reloading (the fix)
 *   4./5. the same without and with driver reloads, from autocannon (which ignores Connection: close)
 * Prints requests and failed requests by kind. Run: `make build && node dist/bench/nginx-reload.js`
 * (BENCH_RELOADS=N reloads per reload phase, default 20; BENCH_SECONDS=N for the phases without, default 8).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { newLocalPlatformDriver } from '../activities/drivers/local';
import { newNginxDriver } from '../activities/drivers/nginx';
import { startLoad } from '../examples/load';
import type { LoadClient, LoadOptions, LoadReport } from '../examples/load';
import { startNginx } from '../examples/nginx-stack';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Row {
  phase: string;
  reloads: number;
  report: LoadReport;
}

async function main(): Promise<void> {
  const reloads = Number(process.env.BENCH_RELOADS ?? 20);
  const seconds = Number(process.env.BENCH_SECONDS ?? 8);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-bench-nginx-'));
  const platform = newLocalPlatformDriver({ stateDir: path.join(dir, 'platform') });
  const sets = ['platform-server', '1.0.0', '2.0.0'];
  const [server, blue, green] = await Promise.all(
    sets.map((version, i) =>
      platform.ensureReplicaSet({
        name: `bench-${i}`,
        application: 'bench',
        version,
        slot: 'blue',
        modules: ['Shop'],
        replicas: i === 0 ? 1 : 2,
        env: {},
      }),
    ),
  );
  const nginx = await startNginx({ platformServer: server?.replicas[0]?.address ?? '', dir: path.join(dir, 'nginx') });
  const router = newNginxDriver(nginx.routerConfig());
  await router.ensureBackend('bench-blue', blue?.replicas.map((r) => r.address) ?? []);
  await router.ensureBackend('bench-green', green?.replicas.map((r) => r.address) ?? []);
  await router.setModuleRule('Shop', [{ backend: 'bench-blue', weight: 100 }]);
  // Unpaced GETs and POSTs, no slow requests: as many requests as the machine allows, to find every dropped one.
  const options: LoadOptions = {
    url: nginx.url,
    paths: ['/Shop/', '/Shop/item/1'],
    connections: 16,
    ratePerConnection: 0,
    slowConnections: 0,
  };
  const rows: Row[] = [];

  const phase = async (name: string, client: LoadClient, reload?: (i: number) => Promise<void>) => {
    const load = startLoad({ ...options, clients: [client] });
    await sleep(500);
    let done = 0;
    if (reload) {
      for (; done < reloads; done++) {
        await reload(done);
        await sleep(200);
      }
    } else {
      await sleep(seconds * 1000);
    }
    await sleep(500);
    rows.push({ phase: name, reloads: done, report: await load.stop() });
  };

  const plainReload = async () => {
    const before = nginx.workers();
    process.kill(nginx.child.pid ?? 0, 'SIGHUP');
    while (nginx.workers().some((pid) => before.includes(pid))) await sleep(20);
  };
  const driverReload = (i: number) =>
    router.setModuleRule('Shop', [{ backend: i % 2 === 0 ? 'bench-green' : 'bench-blue', weight: 100 }]);

  try {
    await phase('undici, no reload', 'undici');
    await phase('undici, plain reloads (SIGHUP)', 'undici', plainReload);
    await phase('undici, driver reloads (drained)', 'undici', driverReload);
    await phase('autocannon, no reload', 'autocannon');
    await phase('autocannon, driver reloads (drained)', 'autocannon', driverReload);
  } finally {
    await nginx.stop();
    for (const set of await platform.listReplicaSets('bench')) await platform.retireReplicaSet(set.name);
    fs.rmSync(dir, { recursive: true, force: true });
  }

  console.log('| phase | reloads | requests | failed | failures by kind |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const { phase: name, reloads: n, report } of rows) {
    const kinds = Object.entries(report.errors)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ');
    console.log(`| ${name} | ${n} | ${report.sent.toLocaleString('en')} | ${report.failed} | ${kinds || '-'} |`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
