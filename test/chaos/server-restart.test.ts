/**
 * Chaos, the Temporal server restarted: a file-backed dev server of this suite's own is stopped and started again on
 * the same database and port while a deployment probes, waits at its gate, and switches traffic. The worker and the
 * client reconnect by themselves; the deployment completes, with the usual invariants and strict load accounting.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkInvariants, kill9, startChaosWorker } from '../support/chaos';
import { expectZeroDowntime, underLoad } from '../support/load';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';
import { startDevServer } from '../support/temporal';
import type { DevServer } from '../support/temporal';

describe('chaos: the Temporal server restarted mid-deployment', () => {
  let dataDir: string;
  let server: DevServer;
  let f: Fixture;
  let restarts = 0;

  /** Stops the server (its database kept), starts it again on the same port and database. */
  async function restartServer(): Promise<void> {
    const port = Number(server.address.split(':').pop());
    const uiPort = Number(new URL(server.uiUrl).port);
    await server.stop({ keepData: true });
    server = await startDevServer({ port, uiPort, dbFilename: server.dbFilename });
    restarts++;
  }

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-restart-'));
    server = await startDevServer({ dbFilename: path.join(dataDir, 'temporal.db') });
  });

  afterAll(async () => {
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    process.stdout.write(`Temporal server restarts: ${restarts}\n`);
  });

  beforeEach(async () => {
    f = await createFixture('chaos-srv', ['Catalog', 'Cart'], { temporalAddress: server.address });
  });

  afterEach(async () => {
    await f.close();
  });

  const upgrade = () => ({
    versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['2.0.0'] },
    deliveries: f.deliveries(),
  });

  test('while probing green: the probe goes on after the restart', async () => {
    const worker = await f.startWorkerProcess();
    expect((await f.result(await f.deploy('1.0.0'))).outcome).toBe('succeeded');
    const { value, report } = await underLoad(f.load(), async () => {
      const id = await f.deploy('2.0.0', {
        env: { SAMPLE_HEALTHY_AFTER_MS: '8000' },
        health: { deadline: '3m', interval: '200ms' },
      });
      await f.waitForPhase(id, 'AwaitingHealthy');
      await restartServer();
      return { id, result: await f.result(id) };
    });
    expect(value.result.outcome).toBe('succeeded');
    expectZeroDowntime(report, upgrade());
    expect((await checkInvariants(f, value.id, { version: '2.0.0', replicas: 2 })).violations).toEqual([]);
    await kill9(worker);
  });

  test('at the approval gate: the gate survives with its deadline, approval completes it', async () => {
    const worker = await f.startWorkerProcess();
    expect((await f.result(await f.deploy('1.0.0'))).outcome).toBe('succeeded');
    const { value, report } = await underLoad(f.load(), async () => {
      const id = await f.deploy('2.0.0', { strategy: { approval: { mode: 'required', timeout: '1h' } } });
      const waiting = await f.waitForPhase(id, 'AwaitingApproval');
      await restartServer();
      const after = await f.waitForPhase(id, 'AwaitingApproval', 120_000);
      expect(after.approval.deadline).toBe(waiting.approval.deadline);
      await f.client.approve(id, { by: 'alice', version: '2.0.0' });
      return { id, result: await f.result(id) };
    });
    expect(value.result.outcome).toBe('succeeded');
    expect(value.result.status.approval.approved?.by).toBe('alice');
    expectZeroDowntime(report, upgrade());
    expect((await checkInvariants(f, value.id, { version: '2.0.0', replicas: 2 })).violations).toEqual([]);
    await kill9(worker);
  });

  test('during the switch: the switch completes while the server is away and is reported after', async () => {
    await f.startInProcessWorker();
    expect((await f.result(await f.deploy('1.0.0'))).outcome).toBe('succeeded');
    await f.stopInProcessWorker();
    // The worker holds the switch activity for 4 s: the server restarts while it runs.
    const chaos = await startChaosWorker(f, {
      activity: 'switchTraffic',
      when: 'before',
      action: 'hold',
      holdMs: 4_000,
    });
    const { value, report } = await underLoad(f.load(), async () => {
      const id = await f.deploy('2.0.0');
      await chaos.reached();
      await restartServer();
      return { id, result: await f.result(id) };
    });
    expect(value.result.outcome).toBe('succeeded');
    expectZeroDowntime(report, upgrade());
    expect((await checkInvariants(f, value.id, { version: '2.0.0', replicas: 2 })).violations).toEqual([]);
    await kill9(chaos.child);
  });
});
