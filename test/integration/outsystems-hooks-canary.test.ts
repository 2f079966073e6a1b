/**
 * A Container Run with a canary profile, end to end on real parts: LifeTime's GETs against the hook server, the
 * Temporal dev server with a worker, the local platform (replicas started from the unpacked bundle) and the local
 * router, with a load through the router counting failed requests.
 *
 * A canary compares against a version live on containers: the application is first migrated by blue-green
 * (`cutover deploy`), then published through the hooks with the profile's steps setWeight 50, pause 2s, setWeight 100.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../../examples/local-stack';
import { hookWorkflowId, versionFromOperation } from '../../workflows/outsystems/types';
import { deploymentId } from '../../workflows/types';
import { expectZeroDowntime } from '../support/load';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';
import {
  hookConfig,
  lifeTimeGet,
  lifeTimeParams,
  localBlueGreenProfile,
  makeHookDirs,
  newLifeTimeIds,
  startHookServer,
  waitForFile,
  writeZip,
} from '../support/hooks';
import type { HookDirs, RunningHookServer } from '../support/hooks';

jest.setTimeout(240_000);

const { key: KEY, build: OP_BUILD } = newLifeTimeIds();
const ENV = 'test';

describe('OutSystems hooks with a canary profile', () => {
  let f: Fixture;
  let dirs: HookDirs;
  let server: RunningHookServer;
  const hookIds: string[] = [];

  beforeEach(async () => {
    f = await createFixture('hookcanary');
    await f.startInProcessWorker();
    dirs = makeHookDirs('canary');
    const profile = {
      ...localBlueGreenProfile(f),
      environment: ENV,
      strategy: {
        type: 'canary',
        steps: [{ setWeight: 50 }, { pause: { duration: '2s' } }, { setWeight: 100 }],
        abortScaleDownDelay: '0s',
      },
    };
    server = await startHookServer(
      hookConfig(dirs, {
        profiles: { canary: profile },
        applications: [{ name: 'Customer Portal', application: f.application, profile: 'canary' }],
      }),
      f.client,
    );
  });

  afterEach(async () => {
    for (const id of [...hookIds, deploymentId(ENV, f.application)]) {
      await f.client
        .handle(id)
        .terminate('test cleanup')
        .catch(() => undefined);
    }
    hookIds.length = 0;
    await server.close();
    await f.close();
    fs.rmSync(dirs.base, { recursive: true, force: true });
  });

  async function call(stage: 'build' | 'run', op: string) {
    const res = await lifeTimeGet(
      server,
      stage,
      lifeTimeParams(dirs, { applicationKey: KEY, operationId: op, modules: f.modules }),
    );
    if (res.body.workflowId) hookIds.push(res.body.workflowId);
    return res;
  }

  const resultFile = (op: string, ext: string) => path.join(dirs.result, `${KEY}_${op}.${ext}`);

  test('Build -> Run with steps setWeight 50, pause 2s, setWeight 100: success, the new version serves, 0 failed requests', async () => {
    // Given: 1.0.0 serves every module from containers (migrated by blue-green), traffic through the router.
    const v1 = await f.result(await f.deploy('1.0.0', { replicas: 2 }));
    expect(v1.outcome).toBe('succeeded');
    const load = f.load();
    await writeZip(path.join(dirs.target, `${KEY}_${OP_BUILD}.zip`), {
      'cutover.json': JSON.stringify({ command: [process.execPath, 'app/server.js'] }),
      'app/server.js': fs.readFileSync(path.join(projectRoot(), 'dist/examples/sample-app/server.js')),
    });
    const version = versionFromOperation(OP_BUILD);

    // When: Container Build, then Container Run.
    await load.next('build');
    expect((await call('build', OP_BUILD)).status).toBe(202);
    expect(await waitForFile(resultFile(OP_BUILD, 'preparedone'))).toBe('');
    await load.next('run');
    const run = await call('run', OP_BUILD);
    expect(run.status).toBe(202);
    expect(run.body.workflowId).toBe(hookWorkflowId(KEY, OP_BUILD, 'run'));

    // Then: an empty result file (success); the Run ran as a canary deployment through the profile's steps.
    expect(await waitForFile(resultFile(OP_BUILD, 'deploydone'))).toBe('');
    await load.next('after');
    for (const m of f.modules) for (let i = 0; i < 10; i++) expect(await f.versionOf(m)).toBe(version);
    const hookStatus = await f.client.hookStatus(run.body.workflowId);
    expect(hookStatus.result).toMatchObject({
      ok: true,
      deploymentId: deploymentId(ENV, f.application),
      deploymentType: 'canaryDeployment',
      version,
      outcome: 'succeeded',
    });
    const deployment = await f.result(deploymentId(ENV, f.application));
    expect(deployment.status).toMatchObject({ strategy: 'canary', liveVersion: version, previousVersion: '1.0.0' });
    const splits = deployment.status.canary?.splits ?? [];
    expect(splits.map((s) => [s.weight, s.status])).toEqual([
      [50, 'measured'],
      [100, 'measured'],
    ]);
    for (const s of splits) expect(Math.abs(s.share - s.weight)).toBeLessThanOrEqual(s.tolerance);
    // The canary's replicas run from the unpacked bundle; the stable version's are gone.
    expect((await f.platform.listReplicaSets(f.application)).map((s) => s.version)).toEqual([version]);

    await load.waitForRequests();
    const report = await load.stop();
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], build: ['1.0.0'], run: ['1.0.0', version], after: [version] },
      deliveries: f.deliveries(),
    });
  });
});
