/**
 * The OutSystems hook protocol end to end, on real parts: LifeTime's GETs (Base64 parameters, token as an extra
 * URL parameter) against the hook server, the Temporal dev server with a worker, the local platform (real
 * processes started from the unpacked bundle) and the local router, with a load generator through the router
 * counting failed requests.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../../examples/local-stack';
import { hookWorkflowId, versionFromOperation } from '../../workflows/outsystems/types';
import { deploymentId } from '../../workflows/types';
import { expectZeroDowntime } from '../support/load';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';
import { replicaProcessesOf } from '../support/proc';
import {
  newLifeTimeIds,
  lifeTimeParams,
  hookConfig,
  lifeTimeGet,
  localBlueGreenProfile,
  makeHookDirs,
  startHookServer,
  waitForFile,
  writeZip,
} from '../support/hooks';
import type { HookDirs, HookParams, RunningHookServer } from '../support/hooks';

const { key: KEY, build: OP_BUILD, config: OP_CONFIG, nextBuild: OP_BUILD_2, remove: OP_REMOVE } = newLifeTimeIds();
const BROKEN_KEY = '0a0b0c0d-0e0f-4a1b-8c2d-3e4f5a6b7c8d';

/** The configuration file a replica reads from its CUTOVER_CONFIG_DIR, if that has one. */
function configOf(replica: { env: Record<string, string> }): string | undefined {
  const file = path.join(replica.env.CUTOVER_CONFIG_DIR ?? '/nonexistent', 'app.config');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
}

describe('OutSystems deployment-zone hooks', () => {
  let f: Fixture;
  let dirs: HookDirs;
  let server: RunningHookServer;
  let envName: string;
  const hookIds: string[] = [];

  beforeEach(async () => {
    f = await createFixture('hooks');
    await f.startInProcessWorker();
    dirs = makeHookDirs('it');
    envName = 'test';
    const profile = { ...localBlueGreenProfile(f), environment: envName };
    server = await startHookServer(
      hookConfig(dirs, {
        profiles: {
          containers: profile,
          failingBuild: { ...profile, build: { command: ['/bin/sh', '-c', 'echo compiling {bundleDir}; exit 3'] } },
        },
        applications: [
          { name: 'Customer Portal', application: f.application, profile: 'containers' },
          { key: BROKEN_KEY, application: `${f.application}-b`, profile: 'failingBuild' },
        ],
      }),
      f.client,
    );
  });

  afterEach(async () => {
    for (const id of [...hookIds, deploymentId(envName, f.application)]) {
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

  const params = (operationId: string, overrides: HookParams = {}): HookParams =>
    lifeTimeParams(dirs, { applicationKey: KEY, operationId, modules: f.modules }, overrides);

  const resultFile = (op: string, ext: string) => path.join(dirs.result, `${KEY}_${op}.${ext}`);

  /** The bundle LifeTime leaves in TargetPath: the sample app plus a manifest saying how a replica starts. */
  async function givenBundle(operationId: string): Promise<void> {
    await writeZip(path.join(dirs.target, `${KEY}_${operationId}.zip`), {
      'cutover.json': JSON.stringify({ command: [process.execPath, 'app/server.js'] }),
      'app/server.js': fs.readFileSync(path.join(projectRoot(), 'dist/examples/sample-app/server.js')),
      'app/README.txt': 'the application',
    });
  }

  async function call(stage: Parameters<typeof lifeTimeGet>[1], op: string, overrides: HookParams = {}) {
    const res = await lifeTimeGet(server, stage, params(op, overrides));
    if (res.body.workflowId) hookIds.push(res.body.workflowId);
    return res;
  }

  test('Build -> Run -> Update Configurations -> next Build and Run -> Remove, with 0 failed requests through the router', async () => {
    // Given: the platform server serves every module; traffic flows through the router.
    expect(await f.versionOf('Catalog')).toBe('platform-server');
    const load = f.load();
    await givenBundle(OP_BUILD);
    const version = versionFromOperation(OP_BUILD);
    const appDeployment = deploymentId(envName, f.application);

    // When: Container Build.
    await load.next('build');
    const build = await call('build', OP_BUILD);
    // Then: 2xx at once; the bundle is unpacked into the version's directory; an empty .preparedone.
    expect(build.status).toBe(202);
    expect(await waitForFile(resultFile(OP_BUILD, 'preparedone'))).toBe('');
    const bundleDir = path.join(dirs.builds, f.application, 'builds', OP_BUILD);
    expect(fs.readFileSync(path.join(bundleDir, 'app', 'README.txt'), 'utf8')).toBe('the application');

    // When: Container Run (the profile requires approval).
    await load.next('run');
    const run = await call('run', OP_BUILD);
    // Then: answered before the work is done — the deployment waits at its gate, with the hook's deadline.
    expect(run.status).toBe(202);
    const waiting = await f.waitForPhase(appDeployment, 'AwaitingApproval');
    expect(fs.existsSync(resultFile(OP_BUILD, 'deploydone'))).toBe(false);
    const hookStatus = await f.client.hookStatus(run.body.workflowId);
    expect(waiting.hook).toEqual({
      deadline: hookStatus.hookDeadline,
      workflowId: hookWorkflowId(KEY, OP_BUILD, 'run'),
      stage: 'run',
      operationId: OP_BUILD,
    });
    const minutesLeft = (Date.parse(hookStatus.hookDeadline) - Date.now()) / 60_000;
    expect(minutesLeft).toBeGreaterThan(20);
    expect(minutesLeft).toBeLessThanOrEqual(30);
    // The gate closes before the hook times out (deadline minus finishMargin, 2 minutes by default).
    expect(Date.parse(waiting.approval.deadline!)).toBeLessThanOrEqual(Date.parse(hookStatus.hookDeadline) - 120_000);

    // When: a configuration change arrives while the Run still waits: it waits for the application.
    fs.writeFileSync(path.join(dirs.config, 'app.config'), 'FeatureX=on\n');
    const configs = await call('configs', OP_CONFIG);
    expect(configs.status).toBe(202);
    await waitUntil(
      async () => (await f.client.hookStatus(configs.body.workflowId)).state === 'waiting-for-application',
    );

    await f.client.approve(appDeployment, { by: 'release-manager', version });
    // Then: the Run reports success; the modules answer from the new version, started from the bundle.
    expect(await waitForFile(resultFile(OP_BUILD, 'deploydone'))).toBe('');
    for (const m of f.modules) expect(await f.versionOf(m)).toBe(version);

    // The configuration update runs next: a configuration-only rolling update of the same version. The profile
    // requires approval, so it pauses after its first batch (a canary): one replica with the new configuration
    // serves beside one with the Run's.
    await load.next('configs');
    const configWaiting = await f.waitForPhase(appDeployment, 'AwaitingApproval');
    expect(configWaiting.strategy).toBe('rolling');
    expect(configWaiting.version).toBe(version);
    expect(configWaiting.rolling).toMatchObject({
      batch: 1,
      batches: 2,
      old: 1,
      new: 1,
      maxSurge: 1,
      maxUnavailable: 0,
    });
    expect((await f.client.temporal.workflow.getHandle(appDeployment).describe()).type).toBe('rollingUpdateDeployment');
    const canary = replicaProcessesOf(f.application);
    expect(canary.map(configOf).sort()).toEqual(['FeatureX=on\n', undefined]);
    const runRevision = canary.find((r) => configOf(r) === undefined)?.env.CUTOVER_CONFIG_REVISION;
    expect(runRevision).toMatch(/^[0-9a-f]{12}$/);
    await f.client.approve(appDeployment, { by: 'release-manager' });
    expect(await waitForFile(resultFile(OP_CONFIG, 'configsdone'))).toBe('');

    // Then: it ran as a rolling update that succeeded, with the version unchanged.
    const configured = await f.result(appDeployment);
    expect(configured.outcome).toBe('succeeded');
    expect(configured.status).toMatchObject({
      strategy: 'rolling',
      version,
      liveVersion: version,
      previousVersion: version,
    });
    // The new configuration reached every live replica: the same build, the same version, the new revision.
    const replicas = replicaProcessesOf(f.application);
    expect(replicas).toHaveLength(2);
    const revision = replicas[0]?.env.CUTOVER_CONFIG_REVISION;
    expect(revision).toMatch(/^[0-9a-f]{12}$/);
    expect(revision).not.toBe(runRevision);
    for (const r of replicas) {
      expect(r.cwd).toBe(bundleDir);
      expect(r.env.CUTOVER_VERSION).toBe(version);
      expect(r.env.CUTOVER_OPERATION_ID).toBe(OP_BUILD);
      expect(r.env.CUTOVER_CONFIG_REVISION).toBe(revision);
      expect(r.env.CUTOVER_CONFIG_DIR).toBe(
        path.join(dirs.builds, f.application, 'configs', `${OP_CONFIG}-${revision}`),
      );
      expect(configOf(r)).toBe('FeatureX=on\n');
    }
    for (const m of f.modules) expect(await f.versionOf(m)).toBe(version);
    // One replica set, the rolling one, serving through the rolling backend; the Run's blue-green set and backend
    // are gone.
    const sets = await f.platform.listReplicaSets(f.application);
    expect(sets.map((s) => ({ slot: s.slot, version: s.version, replicas: s.replicas.length }))).toEqual([
      { slot: 'rolling', version, replicas: 2 },
    ]);
    expect(await f.backendTargets(`${f.application}-rolling`)).toHaveLength(2);
    for (const color of ['blue', 'green']) expect(await f.backendTargets(`${f.application}-${color}`)).toBeUndefined();

    // When: LifeTime re-delivers the Update Configurations call (after its workflow closed).
    await f.client
      .handle(String(configs.body.workflowId))
      .result()
      .catch(() => undefined);
    const again = await call('configs', OP_CONFIG);
    // Then: the same closed workflow answers, the same (empty) result file, no second update.
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({
      alreadyDone: true,
      workflowId: configs.body.workflowId,
      runId: configs.body.runId,
    });
    expect(fs.readFileSync(resultFile(OP_CONFIG, 'configsdone'), 'utf8')).toBe('');
    const deployments: string[] = [];
    for await (const wf of f.client.temporal.workflow.list({ query: `WorkflowId = '${appDeployment}'` })) {
      deployments.push(wf.type);
    }
    expect(deployments.sort()).toEqual(['blueGreenDeployment', 'rollingUpdateDeployment']);
    await load.waitForRequests();
    const configReport = await load.stop();
    // The configuration update changed no version; every replica it replaced was drained first.
    expectZeroDowntime(configReport, {
      label: 'Build, Run, Update Configurations',
      versions: {
        before: ['platform-server'],
        build: ['platform-server'],
        run: ['platform-server', version],
        configs: [version],
      },
      slowAcross: [{ from: 'platform-server', to: version }],
      deliveries: f.deliveries(),
    });

    // When: the next publish (Build and Run of a new version) reaches an application a rolling update now serves.
    const nextLoad = f.load();
    await nextLoad.next('publish');
    await givenBundle(OP_BUILD_2);
    const version2 = versionFromOperation(OP_BUILD_2);
    expect((await call('build', OP_BUILD_2)).status).toBe(202);
    expect(await waitForFile(resultFile(OP_BUILD_2, 'preparedone'))).toBe('');
    expect((await call('run', OP_BUILD_2)).status).toBe(202);
    await f.waitForPhase(appDeployment, 'AwaitingApproval');
    await f.client.approve(appDeployment, { by: 'release-manager', version: version2 });
    // Then: blue-green takes over from the rolling backend: green serves the new version, the rolling set is gone.
    expect(await waitForFile(resultFile(OP_BUILD_2, 'deploydone'))).toBe('');
    for (const m of f.modules) expect(await f.versionOf(m)).toBe(version2);
    expect((await f.platform.listReplicaSets(f.application)).map((s) => [s.slot, s.version])).toEqual([
      ['green', version2],
    ]);
    expect(await f.backendTargets(`${f.application}-rolling`)).toBeUndefined();
    for (const r of replicaProcessesOf(f.application)) expect(configOf(r)).toBe('FeatureX=on\n');
    // Disk: the live build and the one before it are kept.
    expect(fs.readdirSync(path.join(dirs.builds, f.application, 'builds')).sort()).toEqual(
      [OP_BUILD, `${OP_BUILD}.json`, OP_BUILD_2, `${OP_BUILD_2}.json`].sort(),
    );

    // When: Container Remove.
    await nextLoad.next('remove');
    const remove = await call('remove', OP_REMOVE);
    expect(remove.status).toBe(202);
    expect(await waitForFile(resultFile(OP_REMOVE, 'undeploydone'))).toBe('');
    await nextLoad.next('after');
    await nextLoad.waitForRequests();
    const report = await nextLoad.stop();

    // Then: every container is gone, the explicit rules are deleted, the platform server serves the modules again.
    expect(replicaProcessesOf(f.application)).toEqual([]);
    expect(fs.readdirSync(path.join(dirs.builds, f.application))).toEqual([]);
    expect(await f.platform.listReplicaSets(f.application)).toEqual([]);
    for (const m of f.modules) expect(await f.versionOf(m)).toBe('platform-server');
    const rules = (await (await fetch(`${f.stack.adminUrl}/rules`)).json()) as { rules: Record<string, unknown> };
    for (const m of f.modules) expect(rules.rules[m]).toBeUndefined();
    for (const color of ['blue', 'green', 'rolling']) {
      expect(await f.backendTargets(`${f.application}-${color}`)).toBeUndefined();
    }
    expectZeroDowntime(report, {
      label: 'next Build and Run, Remove',
      versions: {
        before: [version],
        publish: [version, version2],
        remove: [version2, 'platform-server'],
        after: ['platform-server'],
      },
      slowAcross: [
        { from: version, to: version2 },
        { from: version2, to: 'platform-server' },
      ],
      deliveries: f.deliveries(),
    });
  });

  test('a failure is reported as {"Error":{"Message":...}}; re-delivery starts nothing new and yields the same result', async () => {
    const op = '12345678-0000-4000-8000-000000000001';
    // When: a Container Run for an operation that was never built.
    const first = await call('run', op);
    const content = await waitForFile(resultFile(op, 'deploydone'));

    // Then: the error document LifeTime shows to the operator.
    expect(first.status).toBe(202);
    expect(JSON.parse(content)).toEqual({
      Error: {
        Message: `no build of operation ${op} for ${f.application}: the Container Build hook must run (and succeed) first`,
      },
    });

    // The result file is the operation's last step; the workflow closes a moment later.
    await f.client
      .handle(String(first.body.workflowId))
      .result()
      .catch(() => undefined);

    // When: LifeTime re-delivers the same call (once with the file there, once after it was removed).
    const again = await call('run', op);
    fs.rmSync(resultFile(op, 'deploydone'));
    const afterRemoval = await call('run', op);

    // Then: the same (closed) workflow run answers, nothing runs again, and the file is the same.
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ alreadyDone: true, workflowId: first.body.workflowId, runId: first.body.runId });
    expect(afterRemoval.body).toMatchObject({ alreadyDone: true, runId: first.body.runId });
    expect(fs.readFileSync(resultFile(op, 'deploydone'), 'utf8')).toBe(content);
    const runs: string[] = [];
    for await (const wf of f.client.temporal.workflow.list({ query: `WorkflowId = '${first.body.workflowId}'` })) {
      runs.push(wf.runId);
    }
    expect(runs).toEqual([first.body.runId]);
  });

  test('a failing build command and a configuration update before any Run report their errors', async () => {
    const op = '12345678-0000-4000-8000-000000000003';
    await writeZip(path.join(dirs.target, `${BROKEN_KEY}_${op}.zip`), { 'app.txt': 'x' });
    fs.writeFileSync(path.join(dirs.config, 'app.config'), 'A=1\n');

    const build = await call('build', op, { ApplicationKey: BROKEN_KEY });
    const configs = await call('configs', op);
    const buildResult = JSON.parse(await waitForFile(path.join(dirs.result, `${BROKEN_KEY}_${op}.preparedone`)));
    const configsResult = JSON.parse(await waitForFile(resultFile(op, 'configsdone')));

    expect([build.status, configs.status]).toEqual([202, 202]);
    const bundleDir = path.join(dirs.builds, `${f.application}-b`, 'builds', op);
    expect(buildResult.Error.Message).toBe(
      `build command "/bin/sh" exited with code 3; last output:\ncompiling ${bundleDir}`,
    );
    expect(fs.existsSync(bundleDir)).toBe(false);
    expect(configsResult.Error.Message).toBe(
      `${f.application} has no release deployed by the hook server yet: nothing to reconfigure (a Container Run must succeed first)`,
    );
  });

  test('a bundle whose entries would escape its directory (zip-slip) fails the Build; nothing is written outside', async () => {
    const op = '12345678-0000-4000-8000-000000000002';
    // Zip tools refuse to write such entries: write "xx/xx/escaped.txt", then patch the name to "../../escaped.txt".
    const zipFile = path.join(dirs.target, `${KEY}_${op}.zip`);
    await writeZip(zipFile, { 'ok.txt': 'fine', 'xx/xx/escaped.txt': 'evil' });
    const bytes = fs.readFileSync(zipFile);
    let at = bytes.indexOf('xx/xx/');
    for (; at >= 0; at = bytes.indexOf('xx/xx/', at)) bytes.write('../../', at);
    fs.writeFileSync(zipFile, bytes);

    const res = await call('build', op);
    const content = await waitForFile(resultFile(op, 'preparedone'));

    expect(res.status).toBe(202);
    expect(JSON.parse(content).Error.Message).toMatch(/invalid relative path: \.\.\/\.\.\/escaped\.txt/);
    expect(fs.existsSync(path.join(dirs.builds, f.application, 'escaped.txt'))).toBe(false);
    expect(fs.existsSync(path.join(dirs.builds, f.application, 'builds', op))).toBe(false);
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('condition not met in time');
}
