/**
 * Records real workflow histories for the replay suite (replay.test.ts): real runs on the dev server with the real
 * local platform and router, stopped at the points where a deployment can sit for hours or days (a gate, a pause) and
 * at its ends (succeeded, rolled back). Not part of `make test` (its name does not end in .test.ts): `make record-histories` runs it. Each history is written
 * to test/replay/histories/<workflow>-<scenario>.binpb (dated when that exists already) and committed; record new ones after every change to what a
 * workflow commands, and keep the old ones (they are what proves runs in flight still replay).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { projectRoot } from '../../examples/local-stack';
import { versionFromOperation } from '../../workflows/outsystems/types';
import { validateSpec } from '../../workflows/spec';
import { deploymentId } from '../../workflows/types';
import {
  LIFETIME_IDS,
  hookConfig,
  lifeTimeGet,
  lifeTimeParams,
  localBlueGreenProfile,
  makeHookDirs,
  startHookServer,
  waitForFile,
  writeZip,
} from '../support/hooks';
import type { HookDirs, HookParams, RunningHookServer } from '../support/hooks';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';
import { errorRateAnalysis } from '../support/analysis';
import { startPrometheus } from '../support/prometheus';
import type { PrometheusServer } from '../support/prometheus';
import { pythonSpec } from '../support/python-app';
import type { DeploymentSpecInput } from '../../workflows/spec';
import type { DeploymentResult } from '../../workflows/types';

// RECORD_HISTORIES_DIR: a rehearsal writes elsewhere (a scratch directory), leaving the committed histories alone.
const HISTORIES = process.env['RECORD_HISTORIES_DIR'] ?? join(__dirname, 'histories');
const approvalRequired = { approval: { mode: 'required', timeout: '1h' } };

/** Saves the history of a workflow's latest run (or of the run given); returns it. */
async function save(f: Fixture, id: string, name: string, runId?: string) {
  const history = await f.client.temporal.workflow.getHandle(id, runId).fetchHistory();
  // Binary protobuf: the exact history the server sent (its JSON form does not load under jest's module registry).
  // Never replace a history recorded earlier (it stands for runs in flight under older code): a second recording of
  // the same scenario is kept beside it, dated.
  const day = new Date().toISOString().slice(0, 10);
  const candidates = [
    `${name}.binpb`,
    `${name}.${day}.binpb`,
    ...Array.from({ length: 98 }, (_, i) => `${name}.${day}-${i + 2}.binpb`),
  ];
  const free = candidates.map((c) => join(HISTORIES, c)).find((c) => !existsSync(c));
  if (!free) throw new Error(`too many recordings of ${name} today`);
  const file = free;
  // 'wx': fails rather than overwrite, should a file appear between the check and the write.
  writeFileSync(file, temporal.api.history.v1.History.encode(history).finish(), { flag: 'wx' });
  process.stdout.write(`recorded ${file}: ${history.events?.length ?? 0} events\n`);
  return history;
}

async function until(check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('record histories', () => {
  let f: Fixture;

  beforeEach(async () => {
    f = await createFixture('rec');
    await f.startInProcessWorker();
  });

  afterEach(async () => {
    await f.close();
  });

  test('blue-green: migration succeeded, an upgrade waiting at the gate, then rejected (rolled back)', async () => {
    const migration = await f.deploy('1.0.0');
    expect((await f.result(migration)).outcome).toBe('succeeded');
    await save(f, migration, 'blue-green-migration-succeeded');

    const id = await f.deploy('2.0.0', { strategy: { ...approvalRequired, preview: { enabled: true } } });
    await f.waitForPhase(id, 'AwaitingApproval');
    await save(f, id, 'blue-green-at-gate');
    await f.client.reject(id, { by: 'recorder', reason: 'recording a rejection' });
    expect((await f.result(id)).outcome).toBe('rolled-back');
    await save(f, id, 'blue-green-rejected-rolled-back');
  });

  test('blue-green started from the Temporal UI (a spec as written): at the gate, then approved', async () => {
    expect((await f.result(await f.deploy('1.0.0'))).outcome).toBe('succeeded');
    const asWritten = f.spec('2.0.0', { strategy: approvalRequired });
    const started = await f.client.temporal.workflow.start('blueGreenDeployment', {
      taskQueue: f.taskQueue,
      workflowId: deploymentId(asWritten.environment ?? 'default', asWritten.application),
      args: [{ spec: asWritten }],
    });
    await f.waitForPhase(started.workflowId, 'AwaitingApproval');
    await save(f, started.workflowId, 'blue-green-ui-spec-at-gate');
    await f.client.approve(started.workflowId, { by: 'recorder', version: '2.0.0' });
    expect((await f.result(started.workflowId)).outcome).toBe('succeeded');
    await save(f, started.workflowId, 'blue-green-ui-spec-succeeded');
  });

  test('blue-green: in the rollback window, then rolled back by signal', async () => {
    expect((await f.result(await f.deploy('1.0.0'))).outcome).toBe('succeeded');
    const id = await f.deploy('2.0.0', { strategy: { rollbackWindow: '1h' } });
    await f.waitForPhase(id, 'RollbackWindow');
    await save(f, id, 'blue-green-in-rollback-window');
    await f.client.rollback(id, { by: 'recorder', reason: 'recording a rollback' });
    expect((await f.result(id)).outcome).toBe('rolled-back');
    await save(f, id, 'blue-green-rollback-window-rolled-back');
  });

  test('blue-green: a failed post-switch verification switches back', async () => {
    expect((await f.result(await f.deploy('1.0.0'))).outcome).toBe('succeeded');
    // Green is healthy but advertises another version, so verification through the router fails.
    const id = await f.deploy('2.0.0', { env: { SAMPLE_ADVERTISED_VERSION: '9.9.9' } });
    expect((await f.result(id)).outcome).toBe('rolled-back');
    await save(f, id, 'blue-green-verification-switched-back');
  });

  test('rolling: succeeded, paused after batch 1, then aborted (rolled back)', async () => {
    const first = await f.deployRolling('1.0.0', { replicas: 4 });
    expect((await f.result(first)).outcome).toBe('succeeded');
    await save(f, first, 'rolling-migration-succeeded');

    const id = await f.deployRolling('2.0.0', {
      replicas: 4,
      strategy: { steps: [{ afterBatch: 1, pause: { approval: true } }] },
    });
    await f.waitForPhase(id, 'AwaitingApproval');
    await save(f, id, 'rolling-paused');
    await f.client.abort(id, { by: 'recorder', reason: 'recording an abort' });
    expect((await f.result(id)).outcome).toBe('rolled-back');
    await save(f, id, 'rolling-aborted-rolled-back');
  });

  test('rolling: an update that continues as new, then completes in a later run', async () => {
    expect((await f.result(await f.deployRolling('1.0.0', { replicas: 4 }))).outcome).toBe('succeeded');
    const validated = validateSpec(
      f.rollingSpec('2.0.0', { replicas: 4, strategy: { maxSurge: 1, maxUnavailable: 0 } }),
    );
    if (!validated.ok) throw new Error('the recorder builds a valid spec');
    // A small history limit (the input field the 1,000-replica unit tests use) makes the run continue as new.
    const first = await f.client.temporal.workflow.start('rollingUpdateDeployment', {
      taskQueue: f.taskQueue,
      workflowId: deploymentId(validated.spec.environment, validated.spec.application),
      args: [{ spec: validated.spec, specNormalized: true, maxHistoryEvents: 60 }],
    });
    expect((await f.result(first.workflowId)).outcome).toBe('succeeded');
    const firstRun = await save(f, first.workflowId, 'rolling-continued-as-new-first-run', first.firstExecutionRunId);
    expect((firstRun.events ?? []).some((e) => e.workflowExecutionContinuedAsNewEventAttributes)).toBe(true);
    await save(f, first.workflowId, 'rolling-continued-as-new-last-run');
  });

  test('rolling: continues as new, waits at a pause in a later run, then aborted (rolled back across runs)', async () => {
    expect((await f.result(await f.deployRolling('1.0.0', { replicas: 4 }))).outcome).toBe('succeeded');
    const validated = validateSpec(
      f.rollingSpec('2.0.0', {
        replicas: 4,
        strategy: { maxSurge: 1, maxUnavailable: 0, steps: [{ afterBatch: 3, pause: { approval: true } }] },
      }),
    );
    if (!validated.ok) throw new Error('the recorder builds a valid spec');
    const first = await f.client.temporal.workflow.start('rollingUpdateDeployment', {
      taskQueue: f.taskQueue,
      workflowId: deploymentId(validated.spec.environment, validated.spec.application),
      args: [{ spec: validated.spec, specNormalized: true, maxHistoryEvents: 60 }],
    });
    await f.waitForPhase(first.workflowId, 'AwaitingApproval');
    // Waiting at the pause in a later run: its input carries the book (old/new) and the context of the earlier runs.
    const waiting = await f.client.temporal.workflow.getHandle(first.workflowId).describe();
    expect(waiting.runId).not.toBe(first.firstExecutionRunId);
    await save(f, first.workflowId, 'rolling-continued-as-new-paused');
    await f.client.abort(first.workflowId, { by: 'recorder', reason: 'recording an abort in a later run' });
    expect((await f.result(first.workflowId)).outcome).toBe('rolled-back');
    await save(f, first.workflowId, 'rolling-continued-as-new-rolled-back');
  });

  test('rolling: aborted while launching a slow replica (the launch cancelled, patched)', async () => {
    expect((await f.result(await f.deployRolling('1.0.0', { replicas: 2 }))).outcome).toBe('succeeded');
    const id = await f.deployRolling('2.0.0', {
      replicas: 2,
      strategy: { maxSurge: 1, maxUnavailable: 0 },
      env: { SAMPLE_START_DELAY_MS: '30000' },
    });
    await f.waitForPhase(id, 'ScalingUp');
    await until(() => f.replicaProcesses().some((p) => p.version === '2.0.0'));
    await f.client.abort(id, { by: 'recorder', reason: 'recording an abort during a launch' });
    const result = await f.result(id);
    expect([result.outcome, result.reason]).toEqual([
      'rolled-back',
      'aborted by recorder: recording an abort during a launch',
    ]);
    const history = await save(f, id, 'rolling-aborted-while-launching');
    expect((history.events ?? []).some((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')).toBe(true);
  });

  test('blue-green: aborted while scaling up a slow replica, and while verifying slow pages', async () => {
    expect((await f.result(await f.deploy('1.0.0'))).outcome).toBe('succeeded');
    const launching = await f.deploy('2.0.0', { env: { SAMPLE_START_DELAY_MS: '30000' } });
    await f.waitForPhase(launching, 'ScalingUp');
    await until(() => f.replicaProcesses().some((p) => p.version === '2.0.0'));
    await f.client.abort(launching, { by: 'recorder', reason: 'recording an abort while scaling up' });
    expect((await f.result(launching)).reason).toBe('aborted by recorder: recording an abort while scaling up');
    await save(f, launching, 'blue-green-aborted-while-scaling-up');

    // The Python application: its pages take 2 s, its health page answers at once.
    const verifying = await f.deploy('2.0.0', pythonSpec(f, { pageMs: 2000 }));
    await f.waitForPhase(verifying, 'Verifying');
    await f.client.abort(verifying, { by: 'recorder', reason: 'recording an abort while verifying' });
    expect((await f.result(verifying)).reason).toBe('aborted by recorder: recording an abort while verifying');
    await save(f, verifying, 'blue-green-aborted-while-verifying');
  });

  test('rolling: a full update', async () => {
    expect((await f.result(await f.deployRolling('1.0.0', { replicas: 4 }))).outcome).toBe('succeeded');
    const id = await f.deployRolling('2.0.0', { replicas: 4, strategy: { maxSurge: 1, maxUnavailable: 0 } });
    expect((await f.result(id)).outcome).toBe('succeeded');
    await save(f, id, 'rolling-upgrade-succeeded');
  });
});

describe('record histories of the OutSystems hook operations', () => {
  let f: Fixture;
  let dirs: HookDirs;
  let server: RunningHookServer;
  const { key: KEY, build: OP_BUILD, config: OP_CONFIG, remove: OP_REMOVE } = LIFETIME_IDS;

  beforeEach(async () => {
    f = await createFixture('rechooks');
    await f.startInProcessWorker();
    dirs = makeHookDirs('rec');
    server = await startHookServer(
      hookConfig(dirs, {
        profiles: { containers: localBlueGreenProfile(f) },
        applications: [{ name: 'Customer Portal', application: f.application, profile: 'containers' }],
      }),
      f.client,
    );
  });

  afterEach(async () => {
    await server.close();
    await f.close();
    rmSync(dirs.base, { recursive: true, force: true });
  });

  test('build, a run waiting on its deployment, configs waiting for the application, then configs and remove', async () => {
    const params = (operationId: string): HookParams =>
      lifeTimeParams(dirs, { applicationKey: KEY, operationId, modules: f.modules });
    const resultFile = (op: string, ext: string) => join(dirs.result, `${KEY}_${op}.${ext}`);
    const appDeployment = deploymentId('test', f.application);
    await writeZip(join(dirs.target, `${KEY}_${OP_BUILD}.zip`), {
      'cutover.json': JSON.stringify({ command: [process.execPath, 'app/server.js'] }),
      'app/server.js': readFileSync(join(projectRoot(), 'dist/examples/sample-app/server.js')),
    });

    const build = await lifeTimeGet(server, 'build', params(OP_BUILD));
    expect(await waitForFile(resultFile(OP_BUILD, 'preparedone'))).toBe('');
    await save(f, build.body.workflowId, 'hook-build-succeeded');

    const run = await lifeTimeGet(server, 'run', params(OP_BUILD));
    await f.waitForPhase(appDeployment, 'AwaitingApproval');
    await save(f, run.body.workflowId, 'hook-run-waiting-on-deployment');

    writeFileSync(join(dirs.config, 'app.config'), 'FeatureX=on\n');
    const configs = await lifeTimeGet(server, 'configs', params(OP_CONFIG));
    for (let i = 0; i < 100; i++) {
      if ((await f.client.hookStatus(configs.body.workflowId)).state === 'waiting-for-application') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await save(f, configs.body.workflowId, 'hook-configs-waiting-for-application');

    await f.client.approve(appDeployment, { by: 'recorder', version: versionFromOperation(OP_BUILD) });
    expect(await waitForFile(resultFile(OP_BUILD, 'deploydone'))).toBe('');
    await f.client.temporal.workflow.getHandle(run.body.workflowId).result();
    await save(f, run.body.workflowId, 'hook-run-succeeded');

    await f.waitForPhase(appDeployment, 'AwaitingApproval');
    await f.client.approve(appDeployment, { by: 'recorder' });
    expect(await waitForFile(resultFile(OP_CONFIG, 'configsdone'))).toBe('');
    await f.client.temporal.workflow.getHandle(configs.body.workflowId).result();
    await save(f, configs.body.workflowId, 'hook-configs-succeeded');

    const remove = await lifeTimeGet(server, 'remove', params(OP_REMOVE));
    expect(await waitForFile(resultFile(OP_REMOVE, 'undeploydone'))).toBe('');
    await f.client.temporal.workflow.getHandle(remove.body.workflowId).result();
    await save(f, remove.body.workflowId, 'hook-remove-succeeded');
  });
});

// ---- blue-green after the patch blue-green-bounded-payloads (replica sets by name and counts) ----

describe('record blue-green histories with bounded payloads (patch blue-green-bounded-payloads)', () => {
  let f: Fixture;

  beforeEach(async () => {
    f = await createFixture('recbg');
    await f.startInProcessWorker();
  });

  afterEach(async () => {
    await f.close();
  });

  /** The run took the patched branch: the patch's marker and the bounded activities, none of the old ones. */
  function expectBounded(history: temporal.api.history.v1.IHistory): void {
    const events = history.events ?? [];
    expect(events.some((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')).toBe(true);
    const types = events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    expect(types).toContain('scaleUpReplicaSet');
    expect(types.filter((t) => ['provisionReplicaSet', 'awaitHealthy', 'publishBackend'].includes(t))).toEqual([]);
  }

  test('migration succeeded; an upgrade with preview replicas at the gate, approved, scaled up full, succeeded', async () => {
    const migration = await f.deploy('1.0.0');
    expect((await f.result(migration)).outcome).toBe('succeeded');
    expectBounded(await save(f, migration, 'blue-green-bounded-migration-succeeded'));

    const id = await f.deploy('2.0.0', {
      strategy: { ...approvalRequired, preview: { enabled: true }, previewReplicas: 1 },
    });
    await f.waitForPhase(id, 'AwaitingApproval');
    expectBounded(await save(f, id, 'blue-green-bounded-at-gate'));
    await f.client.approve(id, { by: 'recorder', version: '2.0.0' });
    expect((await f.result(id)).outcome).toBe('succeeded');
    expectBounded(await save(f, id, 'blue-green-bounded-scaled-up-full-succeeded'));
  });

  test('rejected at the gate (rolled back); in the rollback window, then rolled back by signal', async () => {
    expect((await f.result(await f.deploy('1.0.0'))).outcome).toBe('succeeded');
    const rejected = await f.deploy('2.0.0', { strategy: approvalRequired });
    await f.waitForPhase(rejected, 'AwaitingApproval');
    await f.client.reject(rejected, { by: 'recorder', reason: 'recording a rejection' });
    expect((await f.result(rejected)).outcome).toBe('rolled-back');
    expectBounded(await save(f, rejected, 'blue-green-bounded-rejected-rolled-back'));

    const id = await f.deploy('2.0.0', { strategy: { rollbackWindow: '1h' } });
    await f.waitForPhase(id, 'RollbackWindow');
    expectBounded(await save(f, id, 'blue-green-bounded-in-rollback-window'));
    await f.client.rollback(id, { by: 'recorder', reason: 'recording a rollback' });
    expect((await f.result(id)).outcome).toBe('rolled-back');
    expectBounded(await save(f, id, 'blue-green-bounded-rollback-window-rolled-back'));
  });

  test('aborted while scaling up a slow replica', async () => {
    expect((await f.result(await f.deploy('1.0.0'))).outcome).toBe('succeeded');
    const id = await f.deploy('2.0.0', { env: { SAMPLE_START_DELAY_MS: '30000' } });
    await f.waitForPhase(id, 'ScalingUp');
    await until(() => f.replicaProcesses().some((p) => p.version === '2.0.0'));
    await f.client.abort(id, { by: 'recorder', reason: 'recording an abort while scaling up' });
    expect((await f.result(id)).reason).toBe('aborted by recorder: recording an abort while scaling up');
    expectBounded(await save(f, id, 'blue-green-bounded-aborted-while-scaling-up'));
  });
});

// ---- canary (workflows/canary.ts): gates, pauses, analyses, background analysis; ends promoted and rolled back ----

describe('record canary histories (local router, a real Prometheus scraping its /metrics)', () => {
  let f: Fixture;
  let prometheus: PrometheusServer;

  beforeEach(async () => {
    f = await createFixture('reccanary');
    await f.startInProcessWorker();
    prometheus = await startPrometheus({ targets: [new URL(f.stack.adminUrl).host] });
    // Given: v1 serves every module (migrated by blue-green), as in test/integration/canary.test.ts.
    expect((await f.result(await f.deploy('1.0.0'))).outcome).toBe('succeeded');
  });

  afterEach(async () => {
    await prometheus?.stop();
    await f.close();
  });

  /**
   * The analysis templates: `error-rate` (the canary's 5xx ratio over 20 s from the router's own metrics, judged once
   * 20 requests reached it; as in the integration test, count 2 every 3 s) and `server-errors` (count 0: until the
   * rollout ends, for background analysis; `or vector(0)` so a canary without a 5xx still has data).
   */
  function analysis() {
    const base = errorRateAnalysis(prometheus.url, { interval: '3s' });
    const errors = 'cutover_router_requests_total{backend="{{args.canary}}",code_class="5xx"}';
    base.templates['server-errors'] = {
      metrics: [
        {
          name: 'server-errors',
          provider: { prometheus: { address: prometheus.url, query: `sum(increase(${errors}[20s])) or vector(0)` } },
          interval: '3s',
          count: 0,
          failureCondition: 'result > 50',
        },
      ],
    };
    return base;
  }

  function canarySpec(version: string, strategy: Record<string, unknown>, env: Record<string, string> = {}) {
    return {
      ...f.spec(version, { env }),
      strategy: { type: 'canary', abortScaleDownDelay: '2s', ...strategy },
      analysis: analysis(),
    } as DeploymentSpecInput;
  }

  /** Runs `work` with a load through the router on every module (one client class: the machine is shared). */
  async function withTraffic<T>(work: () => Promise<T>): Promise<T> {
    const load = f.load({ clients: ['undici'] });
    try {
      await load.next('during');
      return await work();
    } finally {
      await load.stop();
    }
  }

  function expectOutcome(result: DeploymentResult, outcome: DeploymentResult['outcome'], liveVersion: string): void {
    expect({ outcome: result.outcome, reason: result.reason, liveVersion: result.liveVersion }).toMatchObject({
      outcome,
      liveVersion,
    });
  }

  test('paused at a pause {} gate after setWeight 20, then promoted (succeeded)', async () => {
    await withTraffic(async () => {
      const id = await f.deploySpec(
        canarySpec('2.0.0', { steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 100 }] }),
      );
      const waiting = await f.waitForPhase(id, 'Paused');
      expect(waiting.canary?.splits.map((s) => s.weight)).toEqual([20]);
      await save(f, id, 'canary-paused-at-gate');
      await f.client.promote(id, { by: 'recorder', version: '2.0.0' });
      expectOutcome(await f.result(id), 'succeeded', '2.0.0');
      await save(f, id, 'canary-gate-promoted-succeeded');
    });
  });

  test('promoted to the end: setWeight 10, pause 2s, setWeight 50, analysis (2 measurements), setWeight 100', async () => {
    const result = await withTraffic(async () => {
      const id = await f.deploySpec(
        canarySpec('2.0.0', {
          steps: [
            { setWeight: 10 },
            { pause: { duration: '2s' } },
            { setWeight: 50 },
            { analysis: { templates: ['error-rate'] } },
            { setWeight: 100 },
          ],
        }),
      );
      const done = await f.result(id);
      await save(f, id, 'canary-promoted-succeeded');
      return done;
    });
    expectOutcome(result, 'succeeded', '2.0.0');
    expect(result.status.canary?.splits.map((s) => s.weight)).toEqual([10, 50, 100]);
    expect(result.status.canary?.analyses.map((a) => a.outcome)).toEqual(['successful']);
  });

  test('aborted at a pause (abort signal): rolled back', async () => {
    await withTraffic(async () => {
      const steps = [{ setWeight: 20 }, { pause: { duration: '1h' } }, { setWeight: 100 }];
      const id = await f.deploySpec(canarySpec('2.0.0', { steps }));
      await f.waitForPhase(id, 'Paused');
      await save(f, id, 'canary-paused-timed');
      await f.client.abort(id, { by: 'recorder', reason: 'recording an abort at a pause' });
      const result = await f.result(id);
      expectOutcome(result, 'rolled-back', '1.0.0');
      expect(result.reason).toMatch(/aborted by recorder/);
      await save(f, id, 'canary-aborted-at-pause-rolled-back');
    });
  });

  test('a bad canary (30 % of pages answer 500) is rolled back by its analysis', async () => {
    const steps = [{ setWeight: 20 }, { analysis: { templates: ['error-rate'] } }, { setWeight: 100 }];
    const result = await withTraffic(async () => {
      const id = await f.deploySpec(canarySpec('2.0.0-bad', { steps }, { SAMPLE_ERROR_RATE: '0.3' }));
      const done = await f.result(id);
      await save(f, id, 'canary-analysis-failed-rolled-back');
      return done;
    });
    expectOutcome(result, 'rolled-back', '1.0.0');
    expect(result.reason).toMatch(/analysis step 2 failed: error-rate/);
  });

  test('background analysis running across a pause (waiting there), then succeeded', async () => {
    const result = await withTraffic(async () => {
      const id = await f.deploySpec(
        canarySpec('2.0.0', {
          steps: [{ setWeight: 20 }, { pause: { duration: '12s' } }, { setWeight: 60 }, { setWeight: 100 }],
          backgroundAnalysis: { templates: ['server-errors'], startingStep: 0 },
        }),
      );
      await f.waitForPhase(id, 'Paused');
      // Waiting at the pause with the background analysis measuring beside it.
      const measured = async () => {
        const status = await f.client.status(id);
        const background = status.canary?.analyses.find((a) => a.label === 'background');
        return (background?.metrics[0]?.measurements.length ?? 0) >= 2 && status.phase === 'Paused';
      };
      const deadline = Date.now() + 10_000;
      while (!(await measured())) {
        if (Date.now() > deadline) throw new Error('no background measurements during the pause');
        await new Promise((r) => setTimeout(r, 200));
      }
      await save(f, id, 'canary-background-analysis-paused');
      const done = await f.result(id);
      await save(f, id, 'canary-background-analysis-succeeded');
      return done;
    });
    expectOutcome(result, 'succeeded', '2.0.0');
    const background = result.status.canary?.analyses.find((a) => a.label === 'background');
    expect(background?.outcome).toMatch(/^(successful|stopped)$/);
  });

  // The same analysis in the other two strategies (patches rolling-analysis and blue-green-analysis).

  function rollingAnalysed(version: string, env: Record<string, string> = {}): DeploymentSpecInput {
    return {
      ...f.rollingSpec(version, {
        env,
        replicas: 2,
        strategy: {
          maxSurge: 1,
          maxUnavailable: 0,
          steps: [{ afterBatch: 1, analysis: { templates: ['error-rate'] } }],
        },
      }),
      analysis: analysis(),
    } as DeploymentSpecInput;
  }

  test('a rolling update analysed after its first batch (succeeded)', async () => {
    const result = await withTraffic(async () => {
      const id = await f.deploySpec(rollingAnalysed('2.0.0'));
      const done = await f.result(id);
      await save(f, id, 'rolling-analysed-after-batch-succeeded');
      return done;
    });
    expectOutcome(result, 'succeeded', '2.0.0');
    expect(result.status.analyses?.map((a) => [a.label, a.outcome])).toEqual([['after batch 1', 'successful']]);
  });

  test('a bad version (30 % of pages answer 500) rolled back by the analysis after the first batch', async () => {
    const result = await withTraffic(async () => {
      const id = await f.deploySpec(rollingAnalysed('2.0.0-bad', { SAMPLE_ERROR_RATE: '0.3' }));
      const done = await f.result(id);
      await save(f, id, 'rolling-analysis-failed-rolled-back');
      return done;
    });
    expectOutcome(result, 'rolled-back', '1.0.0');
    expect(result.reason).toMatch(/^analysis after batch 1\/2 failed: error-rate/);
  });

  test('blue-green with a post-promotion analysis after the switch (succeeded)', async () => {
    const result = await withTraffic(async () => {
      const spec = {
        ...f.spec('2.0.0', {
          strategy: { approval: { mode: 'automatic' }, postPromotionAnalysis: { templates: ['error-rate'] } },
        }),
        analysis: analysis(),
      } as DeploymentSpecInput;
      const id = await f.deploySpec(spec);
      const done = await f.result(id);
      await save(f, id, 'blue-green-post-promotion-analysis-succeeded');
      return done;
    });
    expectOutcome(result, 'succeeded', '2.0.0');
    expect(result.status.analyses?.map((a) => [a.label, a.outcome])).toEqual([['post-promotion', 'successful']]);
  });
});
