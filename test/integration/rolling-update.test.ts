/**
 * Rolling updates end to end on real parts: the Temporal dev server, the local
 * platform (real processes) and the local router (real proxy), with a load
 * through the router judged per phase by expectZeroDowntime (GETs, POSTs
 * delivered at most once, slow requests in flight across each batch, every
 * retired replica drained before it stopped), and a sampler
 * checking the bounds (serving >= replicas - maxUnavailable, alive <= replicas
 * + maxSurge) while batches run. Each scenario ends with the exact set of live
 * replicas it should leave.
 */
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { projectRoot } from '../../examples/local-stack';
import { configRevisionOf, rollingReplicaSetName } from '../../workflows/rolling-math';
import { expectZeroDowntime, underLoad } from '../support/load';
import type { ZeroDowntimeExpectation } from '../support/load';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** 4 replicas with the default maxSurge/maxUnavailable of 25%: 1 above, 1 below. */
const REPLICAS = 4;

/** The replica set's name; every spec's env includes the fixture's appEnv (the delivery log). */
function setName(f: Fixture, version: string, env: Record<string, string> = {}): string {
  return rollingReplicaSetName(f.application, version, configRevisionOf({ ...f.appEnv, ...env }));
}

/** v1 -> v2: what every phase may be answered by, and the switch a slow request must cross. */
const upgrade = (f: Fixture, after = '2.0.0'): ZeroDowntimeExpectation => ({
  versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: [after] },
  slowAcross: [{ from: '1.0.0', to: '2.0.0' }],
  deliveries: f.deliveries(),
});

function ids(set: string, indexes: number[]): string[] {
  return indexes.map((i) => `${set}-${i}`).sort((a, b) => a.localeCompare(b));
}

/** Samples the router's rolling backend and the live replica processes until stopped. */
function sampleBounds(f: Fixture) {
  let running = true;
  let minServing = Number.POSITIVE_INFINITY;
  let maxAlive = 0;
  let samples = 0;
  const loop = (async () => {
    while (running) {
      const targets = await f.backendTargets(`${f.application}-rolling`).catch(() => undefined);
      if (targets) minServing = Math.min(minServing, targets.length);
      maxAlive = Math.max(maxAlive, f.replicaProcesses().length);
      samples++;
      await sleep(40);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { minServing, maxAlive, samples };
    },
  };
}

/** Given: the application moved off the platform server by a first rolling deployment, serving v1. */
async function givenLiveV1(f: Fixture): Promise<void> {
  const { value: result, report } = await underLoad(f.load(), async () =>
    f.result(await f.deployRolling('1.0.0', { replicas: REPLICAS })),
  );
  expect(result.outcome).toBe('succeeded');
  expectZeroDowntime(report, {
    label: 'given: v1 migrated off the platform server',
    versions: { before: ['platform-server'], during: ['platform-server', '1.0.0'], after: ['1.0.0'] },
    slowAcross: [{ from: 'platform-server', to: '1.0.0' }],
    deliveries: f.deliveries(),
  });
  for (const m of f.modules) expect(await f.versionOf(m)).toBe('1.0.0');
  expect(f.replicaProcesses().map((p) => p.replica)).toEqual(ids(setName(f, '1.0.0'), [0, 1, 2, 3]));
}

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('rolling update on the local platform and router', () => {
  let f: Fixture;

  afterEach(async () => {
    await f.close();
  });

  describe('with a worker in this process', () => {
    beforeEach(async () => {
      f = await createFixture('roll');
      await f.startInProcessWorker();
    });

    test('full update v1 -> v2 in 2 batches: 0 failed requests, bounds held, exactly the 4 new replicas left', async () => {
      await givenLiveV1(f);
      const bounds = sampleBounds(f);

      const { value: result, report } = await underLoad(f.load(), async () =>
        f.result(await f.deployRolling('2.0.0', { replicas: REPLICAS })),
      );
      const seen = await bounds.stop();

      expect(result.outcome).toBe('succeeded');
      expect(result.status.rolling).toMatchObject({ batch: 2, batches: 2, old: 0, new: 4, healthy: 4 });
      expectZeroDowntime(report, upgrade(f));
      expect(seen.minServing).toBeGreaterThanOrEqual(REPLICAS - 1);
      expect(seen.maxAlive).toBeLessThanOrEqual(REPLICAS + 1);
      const live = f.replicaProcesses();
      expect(live.map((p) => p.replica)).toEqual(ids(setName(f, '2.0.0'), [0, 1, 2, 3]));
      expect(live.every((p) => p.version === '2.0.0')).toBe(true);
      expect(await f.backendTargets(`${f.application}-rolling`)).toHaveLength(REPLICAS);
      expect((await f.platform.listReplicaSets(f.application)).map((s) => s.name)).toEqual([setName(f, '2.0.0')]);
      for (const m of f.modules) expect(await f.versionOf(m)).toBe('2.0.0');
    });

    test('an update that fails at batch 2 (its replicas never healthy) rolls back: 0 failed, exactly v1 x4', async () => {
      await givenLiveV1(f);
      // The v2 build is healthy on replicas 0 and 1 (batch 1) and never on 2 and 3 (batch 2).
      const command = [
        '/bin/sh',
        '-c',
        `case "$CUTOVER_VERSION:$CUTOVER_REPLICA_ID" in 2.0.0:*-2|2.0.0:*-3) export SAMPLE_HEALTH=fail;; esac; ` +
          `exec "${process.execPath}" "${path.join(projectRoot(), 'dist/examples/sample-app/server.js')}"`,
      ];
      const bounds = sampleBounds(f);

      const spec = f.rollingSpec('2.0.0', { replicas: REPLICAS, strategy: { progressDeadline: '4s' } });
      const { value: result, report } = await underLoad(f.load(), async () => {
        const { deploymentId } = await f.client.deploy(
          { ...spec, platform: { ...spec.platform, command } },
          { deploymentId: `deploy-test-${f.application}-fails` },
        );
        return f.result(deploymentId);
      });
      const seen = await bounds.stop();

      expect(result.outcome).toBe('rolled-back');
      expect(result.reason).toMatch(/batch 2\/2 made no progress within the progress deadline/);
      expectZeroDowntime(report, upgrade(f, '1.0.0'));
      expect(report.byVersion['2.0.0']).toBeGreaterThan(0); // batch 1 served
      expect(seen.minServing).toBeGreaterThanOrEqual(REPLICAS - 1);
      expect(seen.maxAlive).toBeLessThanOrEqual(REPLICAS + 1);
      // Old replicas 0 kept; 1, 2, 3 were replaced and their replacements are relaunched as 4, 5, 6.
      const live = f.replicaProcesses();
      expect(live.map((p) => p.replica)).toEqual(ids(setName(f, '1.0.0'), [0, 4, 5, 6]));
      expect(live.every((p) => p.version === '1.0.0')).toBe(true);
      expect(await f.backendTargets(`${f.application}-rolling`)).toHaveLength(REPLICAS);
      for (const m of f.modules) expect(await f.versionOf(m)).toBe('1.0.0');
    });

    test('abort during a pause (a canary after batch 1): rolled back, 0 failed, exactly v1 x4', async () => {
      await givenLiveV1(f);
      const bounds = sampleBounds(f);
      const { value: result, report } = await underLoad(f.load(), async () => {
        const id = await f.deployRolling('2.0.0', {
          replicas: REPLICAS,
          strategy: { steps: [{ afterBatch: 1, pause: { approval: true } }] },
        });
        const waiting = await f.waitForPhase(id, 'AwaitingApproval');
        expect(waiting.rolling).toMatchObject({ batch: 1, batches: 2, old: 2, new: 2, healthy: 4 });
        await f.client.abort(id, { by: 'erin', reason: 'canary errors' });
        return f.result(id);
      });
      const seen = await bounds.stop();

      expect(result.outcome).toBe('rolled-back');
      expect(result.reason).toBe('aborted by erin: canary errors');
      expectZeroDowntime(report, upgrade(f, '1.0.0'));
      expect(report.byVersion['2.0.0']).toBeGreaterThan(0);
      expect(seen.minServing).toBeGreaterThanOrEqual(REPLICAS - 1);
      expect(seen.maxAlive).toBeLessThanOrEqual(REPLICAS + 1);
      const live = f.replicaProcesses();
      expect(live.map((p) => p.replica)).toEqual(ids(setName(f, '1.0.0'), [0, 1, 4, 5]));
      expect(live.every((p) => p.version === '1.0.0')).toBe(true);
      expect((await f.platform.listReplicaSets(f.application)).map((s) => s.name)).toEqual([setName(f, '1.0.0')]);
    });

    test('an application deployed by blue-green is adopted: rolled to v2 through the rolling backend, 0 failed', async () => {
      // Given: v1 serving from <app>-blue (a blue-green migration off the platform server).
      expect((await f.result(await f.deploy('1.0.0', { replicas: REPLICAS }))).outcome).toBe('succeeded');
      const bounds = sampleBounds(f);

      const { value: result, report } = await underLoad(f.load(), async () =>
        f.result(await f.deployRolling('2.0.0', { replicas: REPLICAS })),
      );
      const seen = await bounds.stop();

      expect(result.outcome).toBe('succeeded');
      expect(result.status.previousVersion).toBe('1.0.0');
      expectZeroDowntime(report, upgrade(f));
      expect(seen.minServing).toBeGreaterThanOrEqual(REPLICAS - 1);
      expect(seen.maxAlive).toBeLessThanOrEqual(REPLICAS + 1);
      expect(f.replicaProcesses().map((p) => p.replica)).toEqual(ids(setName(f, '2.0.0'), [0, 1, 2, 3]));
      expect(await f.backendTargets(`${f.application}-blue`)).toBeUndefined();
      expect((await f.platform.listReplicaSets(f.application)).map((s) => s.name)).toEqual([setName(f, '2.0.0')]);
      for (const m of f.modules) expect(await f.versionOf(m)).toBe('2.0.0');
    });

    test('configuration-only update (same version, new env): every replica replaced, 0 failed', async () => {
      await givenLiveV1(f);
      const env = { FEATURE_FLAG: 'on' };
      const bounds = sampleBounds(f);

      const { value: result, report } = await underLoad(f.load(), async () =>
        f.result(await f.deployRolling('1.0.0', { replicas: REPLICAS, env })),
      );
      const seen = await bounds.stop();

      expect(result.outcome).toBe('succeeded');
      // One version throughout; every replica replaced (each one drained before it stopped).
      expectZeroDowntime(report, {
        versions: { before: ['1.0.0'], during: ['1.0.0'], after: ['1.0.0'] },
        deliveries: f.deliveries(),
      });
      expect(seen.minServing).toBeGreaterThanOrEqual(REPLICAS - 1);
      expect(seen.maxAlive).toBeLessThanOrEqual(REPLICAS + 1);
      const live = f.replicaProcesses();
      expect(live.map((p) => p.replica)).toEqual(ids(setName(f, '1.0.0', env), [0, 1, 2, 3]));
      expect(live.map((p) => f.replicaEnv(p.pid).FEATURE_FLAG)).toEqual(['on', 'on', 'on', 'on']);
      expect(live.every((p) => p.version === '1.0.0')).toBe(true);
    });
  });

  test('worker SIGKILLed mid-batch: another worker finishes it, nothing launched twice, 0 failed', async () => {
    f = await createFixture('rollkill');
    let worker = await f.startWorkerProcess();
    await givenLiveV1(f);
    const env = { SAMPLE_HEALTHY_AFTER_MS: '6000' }; // each batch's new replicas take 6 s to become healthy
    const bounds = sampleBounds(f);

    let before: { pid: number; replica: string }[] = [];
    const { value: result, report } = await underLoad(f.load(), async () => {
      const id = await f.deployRolling('2.0.0', {
        replicas: REPLICAS,
        env,
        health: { interval: '200ms', deadline: '5m' },
      });
      const probing = await f.waitForPhase(id, 'AwaitingHealthy');
      expect(probing.rolling?.batch).toBe(1);
      before = f.replicaProcesses().filter((p) => p.version === '2.0.0');
      expect(before).toHaveLength(2);
      await kill9(worker);
      worker = await f.startWorkerProcess();
      return f.result(id);
    });
    const seen = await bounds.stop();

    expect(result.outcome).toBe('succeeded');
    expectZeroDowntime(report, upgrade(f));
    expect(seen.minServing).toBeGreaterThanOrEqual(REPLICAS - 1);
    expect(seen.maxAlive).toBeLessThanOrEqual(REPLICAS + 1);
    const live = f.replicaProcesses();
    expect(live.map((p) => p.replica)).toEqual(ids(setName(f, '2.0.0', env), [0, 1, 2, 3]));
    // The two replicas launched before the kill are the same processes: not launched again.
    for (const p of before) expect(live.find((l) => l.replica === p.replica)?.pid).toBe(p.pid);
    await kill9(worker);
  });
});
