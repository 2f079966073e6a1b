/**
 * Issue 15 through the OutSystems hooks: LifeTime leaves a zip of an application that is not Cutover's code (the
 * Python application, examples/python-app: its bundle manifest says `python3 app.py`), and the hook server builds it
 * and runs it like any bundle. It only listens on the PORT it is given (and takes 3 s before it does); it never
 * writes CUTOVER_READY_FILE. Two publishes (migration off the platform server, then an upgrade) under the strict
 * load through the router.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { versionFromOperation } from '../../workflows/outsystems/types';
import { deploymentId } from '../../workflows/types';
import {
  newLifeTimeIds,
  hookConfig,
  lifeTimeGet,
  lifeTimeParams,
  localBlueGreenProfile,
  makeHookDirs,
  startHookServer,
  waitForFile,
  writeZip,
} from '../support/hooks';
import type { HookDirs, RunningHookServer } from '../support/hooks';
import { expectZeroDowntime } from '../support/load';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';
import { replicaProcessesOf } from '../support/proc';
import { PYTHON_APP, pythonEnv, readyFilesUnder } from '../support/python-app';

jest.setTimeout(240_000);

const { key: KEY, build: OP_1, nextBuild: OP_2 } = newLifeTimeIds();

describe('the hook server deploys a Python application from a zip', () => {
  let f: Fixture;
  let dirs: HookDirs;
  let server: RunningHookServer;
  const hookIds: string[] = [];

  beforeEach(async () => {
    f = await createFixture('hookpy');
    await f.startInProcessWorker();
    dirs = makeHookDirs('py');
    const base = localBlueGreenProfile(f);
    const profile = {
      ...base,
      // Slow to start (3 s before it listens), 300 ms pages; the start budget is the profile's.
      platform: {
        ...base.platform,
        startTimeout: '2m',
        env: { ...f.appEnv, ...pythonEnv(f.deliveryLog, { startDelayMs: 3_000, pageMs: 300 }) },
      },
      strategy: { type: 'blue-green', rollbackWindow: '0s' },
    };
    server = await startHookServer(
      hookConfig(dirs, {
        profiles: { python: profile },
        applications: [{ name: 'Customer Portal', application: f.application, profile: 'python' }],
      }),
      f.client,
    );
  });

  afterEach(async () => {
    for (const id of [...hookIds, deploymentId('test', f.application)]) {
      await f.client
        .handle(id)
        .terminate('test cleanup')
        .catch(() => undefined);
    }
    await server.close();
    await f.close();
    fs.rmSync(dirs.base, { recursive: true, force: true });
  });

  const resultFile = (op: string, ext: string) => path.join(dirs.result, `${KEY}_${op}.${ext}`);

  /** Container Build then Container Run of one publish, as LifeTime calls them; the Run's result file. */
  async function publish(op: string): Promise<string> {
    await writeZip(path.join(dirs.target, `${KEY}_${op}.zip`), {
      'cutover.json': JSON.stringify({ command: ['python3', 'app.py'] }),
      'app.py': fs.readFileSync(PYTHON_APP),
    });
    const params = lifeTimeParams(dirs, { applicationKey: KEY, operationId: op, modules: f.modules });
    const build = await lifeTimeGet(server, 'build', params);
    hookIds.push(build.body.workflowId);
    expect(build.status).toBe(202);
    expect(await waitForFile(resultFile(op, 'preparedone'))).toBe('');
    const run = await lifeTimeGet(server, 'run', params);
    hookIds.push(run.body.workflowId);
    expect(run.status).toBe(202);
    return waitForFile(resultFile(op, 'deploydone'), 180_000);
  }

  test('Build and Run twice (migration, then an upgrade) under load: 0 failed requests', async () => {
    const [v1, v2] = [versionFromOperation(OP_1), versionFromOperation(OP_2)];
    expect(await f.versionOf('Catalog')).toBe('platform-server');
    const load = f.load();

    await load.next('first publish');
    expect(await publish(OP_1)).toBe('');
    await load.next('between');
    await load.next('second publish');
    expect(await publish(OP_2)).toBe('');
    await load.next('after');
    await load.waitForRequests();
    const report = await load.stop();

    expectZeroDowntime(report, {
      versions: {
        before: ['platform-server'],
        'first publish': ['platform-server', v1],
        between: [v1],
        'second publish': [v1, v2],
        after: [v2],
      },
      slowAcross: [
        { from: 'platform-server', to: v1 },
        { from: v1, to: v2 },
      ],
      deliveries: f.deliveries(),
    });
    // The replicas are the Python application, run from the unpacked bundle of the second publish.
    const bundleDir = path.join(dirs.builds, f.application, 'builds', OP_2);
    const replicas = replicaProcessesOf(f.application);
    expect(replicas.map((r) => [r.cwd, r.env.CUTOVER_VERSION])).toEqual([
      [bundleDir, v2],
      [bundleDir, v2],
    ]);
    for (const r of replicas) {
      const [program, script] = fs.readFileSync(`/proc/${r.pid}/cmdline`, 'utf8').split('\0');
      expect([path.basename(program ?? ''), script]).toEqual([expect.stringMatching(/^python3/), 'app.py']);
    }
    expect(readyFilesUnder(f.platformDir)).toEqual([]);
  });
});
