/**
 * Chaos, OutSystems hooks: an Update Configurations operation waits for the Run of the same application (which waits
 * at its approval gate); the worker is SIGKILLed while that wait runs. A fresh worker resumes the wait, the Run is
 * approved, and the configuration update then runs and reports success in its result file: nothing is lost, nothing
 * runs twice, no request fails.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../../examples/local-stack';
import { versionFromOperation } from '../../workflows/outsystems/types';
import { deploymentId } from '../../workflows/types';
import { checkInvariants, kill9, startChaosWorker } from '../support/chaos';
import { activityRuns, runsOf } from '../support/history';
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

const { key: KEY, build: OP_BUILD, config: OP_CONFIG } = newLifeTimeIds();

describe('chaos: a hook operation waiting for the application, with the worker SIGKILLed', () => {
  let f: Fixture;
  let dirs: HookDirs;
  let server: RunningHookServer;

  beforeEach(async () => {
    f = await createFixture('chaos-hook');
    dirs = makeHookDirs('chaos');
    server = await startHookServer(
      hookConfig(dirs, {
        profiles: { containers: { ...localBlueGreenProfile(f), environment: 'test' } },
        applications: [{ name: 'Customer Portal', application: f.application, profile: 'containers' }],
      }),
      f.client,
    );
  });

  afterEach(async () => {
    await server.close();
    await f.close();
    fs.rmSync(dirs.base, { recursive: true, force: true });
  });

  test('Update Configurations waiting for a Run at its gate: killed while waiting, it completes after the Run', async () => {
    const params = (operationId: string) =>
      lifeTimeParams(dirs, { applicationKey: KEY, operationId, modules: f.modules });
    const resultFile = (op: string, ext: string) => path.join(dirs.result, `${KEY}_${op}.${ext}`);
    const appDeployment = deploymentId('test', f.application);
    const version = versionFromOperation(OP_BUILD);
    await writeZip(path.join(dirs.target, `${KEY}_${OP_BUILD}.zip`), {
      'cutover.json': JSON.stringify({ command: [process.execPath, 'app/server.js'] }),
      'app/server.js': fs.readFileSync(path.join(projectRoot(), 'dist/examples/sample-app/server.js')),
    });
    const chaos = await startChaosWorker(f, {
      activity: 'awaitWorkflowClosed',
      when: 'during',
      afterMs: 500,
      action: 'kill',
    });
    const load = f.load();

    // Given: the Run waits at its gate; a configuration change arrives and waits for the application.
    await lifeTimeGet(server, 'build', params(OP_BUILD));
    expect(await waitForFile(resultFile(OP_BUILD, 'preparedone'))).toBe('');
    await lifeTimeGet(server, 'run', params(OP_BUILD));
    await f.waitForPhase(appDeployment, 'AwaitingApproval');
    await load.next('waiting');
    fs.writeFileSync(path.join(dirs.config, 'app.config'), 'FeatureX=on\n');
    const configs = await lifeTimeGet(server, 'configs', params(OP_CONFIG));

    // When: the worker dies while the configuration update waits; another starts; the Run is approved.
    await chaos.reached();
    await chaos.exited;
    const survivor = await f.startWorkerProcess();
    await f.client.approve(appDeployment, { by: 'release-manager', version });
    expect(await waitForFile(resultFile(OP_BUILD, 'deploydone'))).toBe('');
    await load.next('configuring');
    // The configuration update starts its deployment only once the Run has finished (switch, verification, retire)
    // and the resumed wait has noticed: give it more than the fixture's minute on a loaded machine.
    await f.waitForPhase(appDeployment, 'AwaitingApproval', 180_000);
    await f.client.approve(appDeployment, { by: 'release-manager' });

    // Then: the configuration update ran after the Run, and reported success.
    expect(await waitForFile(resultFile(OP_CONFIG, 'configsdone'))).toBe('');
    await load.next('after');
    await load.waitForRequests();
    const report = await load.stop();
    expectZeroDowntime(report, {
      versions: {
        before: ['platform-server'],
        // The Run is approved in this phase: the switch from the platform server to the containers.
        waiting: ['platform-server', version],
        configuring: [version],
        after: [version],
      },
      deliveries: f.deliveries(),
    });
    const waits = runsOf(await activityRuns(f.client.temporal, configs.body.workflowId), 'awaitWorkflowClosed');
    expect(waits.map((w) => w.outcome)).toEqual(['completed']);
    expect(waits[0]?.attempt).toBe(2); // the killed attempt, then the survivor's
    const invariants = await checkInvariants(f, appDeployment, { version, replicas: 2 });
    expect(invariants.violations).toEqual([]);
    await kill9(survivor);
  }, 420_000);
});
