/**
 * Chaos, two workers on one task queue: both poll from the start; the one running a step is SIGKILLed (read from the
 * pending activity's last worker identity, `<pid>@<host>`), and the survivor takes the deployment over without a new
 * worker being started. The usual invariants and strict load accounting hold.
 */
import type { ChildProcess } from 'node:child_process';
import { checkInvariants, kill9 } from '../support/chaos';
import { expectZeroDowntime, underLoad } from '../support/load';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';

/** The worker process running `activity` of the deployment now (polls the pending activities). */
async function workerRunning(f: Fixture, id: string, activity: string, workers: ChildProcess[]): Promise<ChildProcess> {
  for (let i = 0; i < 600; i++) {
    const pending = (await f.client.handle(id).describe()).raw.pendingActivities ?? [];
    const running = pending.find((p) => p.activityType?.name === activity && p.lastWorkerIdentity);
    const pid = Number(running?.lastWorkerIdentity?.split('@')[0]);
    const worker = workers.find((w) => w.pid === pid);
    if (worker) return worker;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no worker of ours ran ${activity}`);
}

describe('chaos: two workers on one task queue, the busy one SIGKILLed', () => {
  let f: Fixture;

  beforeEach(async () => {
    f = await createFixture('chaos-two');
  });

  afterEach(async () => {
    await f.close();
  });

  test.each([
    ['blue-green, while probing green', 'blue-green', 'awaitReplicaSetHealthy'],
    ['rolling, while probing a new replica', 'rolling', 'awaitSetAvailable'],
  ] as const)('%s: the survivor completes it', async (_name, strategy, activity) => {
    const workers = [await f.startWorkerProcess(), await f.startWorkerProcess()];
    const deploy = (version: string, env: Record<string, string> = {}) =>
      strategy === 'blue-green'
        ? f.deploy(version, { env, health: { deadline: '2m', interval: '200ms' } })
        : f.deployRolling(version, {
            replicas: 2,
            env,
            health: { deadline: '2m', interval: '200ms' },
            strategy: { maxSurge: 1, maxUnavailable: 0 },
          });
    expect((await f.result(await deploy('1.0.0'))).outcome).toBe('succeeded');

    let killed: ChildProcess | undefined;
    const { value, report } = await underLoad(f.load(), async () => {
      const id = await deploy('2.0.0', { SAMPLE_HEALTHY_AFTER_MS: '4000' });
      killed = await workerRunning(f, id, activity, workers);
      await kill9(killed);
      return { id, result: await f.result(id) };
    });

    expect(value.result.outcome).toBe('succeeded');
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['2.0.0'] },
      deliveries: f.deliveries(),
    });
    const invariants = await checkInvariants(f, value.id, { version: '2.0.0', replicas: 2 });
    expect(invariants.violations).toEqual([]);
    const survivor = workers.find((w) => w !== killed);
    expect(survivor?.exitCode).toBeNull();
    await kill9(survivor!);
  });
});
