/**
 * `make demo`: a real zero-downtime deployment on the embedded local default.
 *
 *   1. Temporal dev server (with its UI) is started if not already running.
 *   2. The local stack starts: a stand-in platform server and the local router.
 *   3. A worker runs in this process.
 *   4. Migration: the "shop" application (3 modules) moves off the platform
 *      server onto containers (v1.0.0) with a blue-green deployment.
 *   5. Upgrade: blue-green v1.0.0 -> v2.0.0.
 *   Throughout, a load generator sends traffic through the router (GETs, POSTs,
 *   slow requests; from a client that honours `Connection: close` and one that
 *   ignores it) and counts, per phase (before / during / after the deployment),
 *   every request that failed, got no answer, or was answered by a version not
 *   expected then. Exit code 0 only if both deployments succeeded and no
 *   request failed.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { newLocalPlatformDriver } from '../activities/drivers/local';
import { CutoverClient } from '../client/client';
import { ProgressPrinter } from '../client/progress';
import type { DeploymentSpecInput } from '../workflows/spec';
import { deploymentId } from '../workflows/types';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createWorker } from '../worker';
import { formatLoadReport, judgeLoad, startLoad } from './load';
import type { LoadReport } from './load';
import { projectRoot, startLocalStack } from './local-stack';

const APP = 'shop';
const MODULES = ['Catalog', 'Cart', 'Checkout'];

function ensureTemporal(root: string): void {
  execFileSync('bash', [path.join(root, 'scripts', 'temporal-server.sh'), 'start'], { stdio: 'inherit', cwd: root });
}

interface Deployed {
  outcome: string;
  load: LoadReport;
  /** Failed, unanswered, or answered by a version not expected in its phase. */
  failed: number;
}

async function deployUnderLoad(
  client: CutoverClient,
  spec: DeploymentSpecInput,
  publicUrl: string,
  from: string,
): Promise<Deployed> {
  const load = startLoad({ url: publicUrl, paths: MODULES.map((m) => `/${m}/`), clients: ['undici', 'autocannon'] });
  await load.next('during'); // traffic flows before the deployment starts
  const started = await client.deploy(spec);
  const uiPort = process.env.TEMPORAL_UI_PORT ?? '8233';
  console.log(
    `\nDeployment ${started.deploymentId}: watch it at http://127.0.0.1:${uiPort}/namespaces/default/workflows/${started.deploymentId}`,
  );
  const printer = new ProgressPrinter();
  let outcome = 'unknown';
  for await (const status of client.watch(started.deploymentId, 250)) {
    printer.update(status);
    outcome = status.outcome ?? outcome;
  }
  await load.next('after'); // and keeps flowing after it ends
  await load.waitForRequests();
  const report = await load.stop();
  const to = outcome === 'succeeded' ? spec.version : from;
  const verdict = judgeLoad(report, { versions: { before: [from], during: [from, spec.version], after: [to] } });
  for (const problem of verdict.problems) console.log(`  ! ${problem}`);
  return { outcome, load: report, failed: verdict.failed };
}

function report(label: string, deployed: Deployed): void {
  console.log(`${label}: ${deployed.load.sent} requests sent, ${deployed.failed} failed`);
  console.log(formatLoadReport(deployed.load).replace(/^/gm, '  '));
}

/**
 * A demo stopped half-way (Ctrl-C) leaves its deployment running on the persistent dev server, waiting for replicas
 * that are gone; the next demo would be refused as a second deployment. Only the demo's own workflow is ended.
 */
async function endInterruptedDemo(client: CutoverClient, id: string): Promise<void> {
  const running = await client.temporal.workflow
    .getHandle(id)
    .describe()
    .then((d) => d.status.name === 'RUNNING')
    .catch(() => false);
  if (!running) return;
  console.log(`A previous demo was interrupted: ending its deployment ${id} before starting again.`);
  await client.handle(id).terminate('the demo restarted: this run was left by an interrupted demo');
}

async function main(): Promise<number> {
  Runtime.install({ logger: new DefaultLogger('ERROR') }); // the demo prints its own progress
  const root = projectRoot();
  ensureTemporal(root);
  const stateDir = path.join(root, '.cutover', 'demo');
  const platformDir = path.join(stateDir, 'platform');

  // A previous demo's replicas would confuse discovery: retire them and start clean.
  const platform = newLocalPlatformDriver({ stateDir: platformDir });
  for (const set of await platform.listReplicaSets(APP)) await platform.retireReplicaSet(set.name);
  fs.rmSync(stateDir, { recursive: true, force: true });

  const stack = await startLocalStack({ stateDir, modules: MODULES, application: APP });
  console.log(`router ${stack.publicUrl} (admin ${stack.adminUrl}); platform server ${stack.platformServerUrl}`);
  const { worker, close } = await createWorker({ options: { identity: 'cutover-demo-worker' } });
  const client = await CutoverClient.connect();
  await endInterruptedDemo(client, deploymentId('demo', APP));

  const spec = (version: string): DeploymentSpecInput => ({
    application: APP,
    environment: 'demo',
    version,
    modules: MODULES,
    replicas: 2,
    platform: { kind: 'local', stateDir: platformDir },
    router: { kind: 'local', adminUrl: stack.adminUrl, publicUrl: stack.publicUrl },
    strategy: { type: 'blue-green', rollbackWindow: '2s' },
    health: { interval: '200ms', successThreshold: 2, deadline: '60s' },
  });

  let exitCode = 0;
  try {
    await worker.runUntil(async () => {
      console.log('\n== 1. Migrate shop off the platform server onto containers (1.0.0) ==');
      const first = await deployUnderLoad(client, spec('1.0.0'), stack.publicUrl, 'platform-server');
      console.log('\n== 2. Blue-green upgrade 1.0.0 -> 2.0.0 ==');
      const second = await deployUnderLoad(client, spec('2.0.0'), stack.publicUrl, '1.0.0');

      console.log('\n== Result ==');
      report('migration (platform server -> 1.0.0)', first);
      report('upgrade   (1.0.0 -> 2.0.0)         ', second);
      const sent = first.load.sent + second.load.sent;
      const failed = first.failed + second.failed;
      console.log(`TOTAL: ${sent} requests sent, ${failed} failed`);
      console.log(`deployments: migration ${first.outcome}, upgrade ${second.outcome}`);
      if (failed > 0 || first.outcome !== 'succeeded' || second.outcome !== 'succeeded') exitCode = 1;
    });
  } finally {
    await client.close();
    await close();
    for (const set of await platform.listReplicaSets(APP)) await platform.retireReplicaSet(set.name);
    await stack.stop();
  }
  const uiPort = process.env.TEMPORAL_UI_PORT ?? '8233';
  console.log(
    `\nTemporal UI (still running; \`make temporal-down\` stops it): http://127.0.0.1:${uiPort}/namespaces/default/workflows`,
  );
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
