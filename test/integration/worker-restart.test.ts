/**
 * Durability: the worker is a separate process, SIGKILLed mid-deployment and
 * started again. The deployment completes, no replica is launched twice, and
 * traffic through the router never fails.
 */
import type { ChildProcess } from 'node:child_process';
import { expectZeroDowntime, underLoad } from '../support/load';
import type { ZeroDowntimeExpectation } from '../support/load';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

const upgrade = (f: Fixture): ZeroDowntimeExpectation => ({
  versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['2.0.0'] },
  slowAcross: [{ from: '1.0.0', to: '2.0.0' }],
  deliveries: f.deliveries(),
});

describe('worker killed (SIGKILL) and restarted', () => {
  let f: Fixture;

  beforeEach(async () => {
    f = await createFixture('crash');
  });

  afterEach(async () => {
    await f.close();
  });

  test('while waiting for approval: the gate survives, approval completes it, nothing launched twice', async () => {
    // Given: v1 live, deployed by a worker process.
    let worker = await f.startWorkerProcess();
    expect((await f.result(await f.deploy('1.0.0'))).outcome).toBe('succeeded');

    // When: v2 waits for approval, the worker dies, another one starts, a person approves.
    let greenBefore: { pid: number }[] = [];
    const { value: result, report } = await underLoad(f.load(), async () => {
      const id = await f.deploy('2.0.0', { strategy: { approval: { mode: 'required', timeout: '1h' } } });
      const waiting = await f.waitForPhase(id, 'AwaitingApproval');
      greenBefore = f.replicaProcesses().filter((p) => p.version === '2.0.0');
      await kill9(worker);
      worker = await f.startWorkerProcess();
      const afterRestart = await f.waitForPhase(id, 'AwaitingApproval');
      expect(afterRestart.approval.deadline).toBe(waiting.approval.deadline);
      await f.client.approve(id, { by: 'alice', version: '2.0.0' });
      return f.result(id);
    });

    // Then
    expect(result.outcome).toBe('succeeded');
    expectZeroDowntime(report, upgrade(f));
    const live = f.replicaProcesses();
    expect(live.map((p) => p.version)).toEqual(['2.0.0', '2.0.0']);
    expect(live.map((p) => p.pid).sort()).toEqual(greenBefore.map((p) => p.pid).sort());
    await kill9(worker);
  });

  test('while probing: the probe resumes on the new worker, nothing launched twice', async () => {
    let worker = await f.startWorkerProcess();
    expect((await f.result(await f.deploy('1.0.0'))).outcome).toBe('succeeded');

    // Green becomes healthy only 12 s after it starts: the worker dies while probing it.
    let greenBefore: { pid: number }[] = [];
    const { value: result, report } = await underLoad(f.load(), async () => {
      const id = await f.deploy('2.0.0', {
        env: { SAMPLE_HEALTHY_AFTER_MS: '12000' },
        health: { deadline: '5m', interval: '200ms' },
      });
      await f.waitForPhase(id, 'AwaitingHealthy');
      greenBefore = f.replicaProcesses().filter((p) => p.version === '2.0.0');
      expect(greenBefore).toHaveLength(2);
      await kill9(worker);
      worker = await f.startWorkerProcess();
      return f.result(id);
    });

    expect(result.outcome).toBe('succeeded');
    expectZeroDowntime(report, upgrade(f));
    const live = f.replicaProcesses();
    expect(live.map((p) => p.version)).toEqual(['2.0.0', '2.0.0']);
    expect(live.map((p) => p.pid).sort()).toEqual(greenBefore.map((p) => p.pid).sort());
    const probe = result.status.steps.find((s) => /^wait until 2 (blue|green) replicas/.test(s.name));
    expect(probe?.state).toBe('done');
    await kill9(worker);
  });
});
