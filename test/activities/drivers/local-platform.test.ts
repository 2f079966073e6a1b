/**
 * The local Platform driver against real detached processes (the compiled
 * sample app): idempotent launches, relaunch of dead replicas, retirement,
 * slow and unhealthy replicas, and recovery by a new driver instance.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { newLocalPlatformDriver } from '../../../activities/drivers/local';
import { acceptsConnections, listenerOf } from '../../../activities/drivers/local/listening';
import type { Platform, ReplicaSetSpec } from '../../../activities/ports';
import { ROOT, distFile, freePort, get, isAlive, killAll, replicaPids, sleep, tempDir } from './local-support';

jest.setTimeout(60_000);

const stateDir = tempDir('platform');
const fastStop = { stopTimeoutMs: 5_000 };
let platform: Platform;

function spec(name: string, overrides: Partial<ReplicaSetSpec> = {}): ReplicaSetSpec {
  return {
    name,
    application: 'shop',
    version: '1.0.0',
    slot: 'blue',
    modules: ['Shop', 'Cart'],
    replicas: 2,
    env: {},
    ...overrides,
  };
}

function pidOf(set: string, id: string): number {
  const file = path.join(stateDir, 'platform', set, 'replicas', `${id}.json`);
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { pid: number }).pid;
}

beforeAll(() => {
  distFile('examples/sample-app/server.js');
  platform = newLocalPlatformDriver({ stateDir, ...fastStop });
});

afterAll(async () => {
  try {
    for (const name of fs.readdirSync(path.join(stateDir, 'platform'))) await platform.retireReplicaSet(name);
  } finally {
    killAll(replicaPids(stateDir)); // anything a failed test left behind
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
});

describe('ensureReplicaSet', () => {
  it('launches N detached processes, reachable at their addresses and reporting the version', async () => {
    const state = await platform.ensureReplicaSet(spec('shop-1-0-0-blue', { replicas: 3 }));

    expect(state).toMatchObject({
      name: 'shop-1-0-0-blue',
      application: 'shop',
      version: '1.0.0',
      slot: 'blue',
      desired: 3,
    });
    expect(state.replicas.map((r) => r.id)).toEqual(['shop-1-0-0-blue-0', 'shop-1-0-0-blue-1', 'shop-1-0-0-blue-2']);
    expect(new Set(state.replicas.map((r) => r.address)).size).toBe(3);
    for (const replica of state.replicas) {
      expect(replica.running).toBe(true);
      const answer = await get(`${replica.address}/Cart/items`);
      expect(answer).toMatchObject({ status: 200, version: '1.0.0', replica: replica.id });
      expect(JSON.parse(answer.body)).toMatchObject({
        application: 'shop',
        module: 'Cart',
        version: '1.0.0',
        replica: replica.id,
        path: '/Cart/items',
        method: 'GET',
        requestId: null,
        bodyBytes: 0,
      });
      expect((await get(`${replica.address}/Shop/_ping.html`)).body).toBe('OK');
      expect((await get(`${replica.address}/Other/`)).status).toBe(404);
    }
    expect(replicaPids(stateDir)).toHaveLength(3);
  });

  it('is idempotent: calling it again, even twice concurrently, starts no second process', async () => {
    const before = replicaPids(stateDir);
    const first = await platform.ensureReplicaSet(spec('shop-1-0-0-blue', { replicas: 3 }));
    const [a, b] = await Promise.all([
      platform.ensureReplicaSet(spec('shop-1-0-0-blue', { replicas: 3 })),
      newLocalPlatformDriver({ stateDir }).ensureReplicaSet(spec('shop-1-0-0-blue', { replicas: 3 })),
    ]);

    expect(a.replicas).toEqual(first.replicas);
    expect(b.replicas).toEqual(first.replicas);
    expect(replicaPids(stateDir)).toEqual(before);
  });

  it('relaunches a replica whose process died', async () => {
    const victim = pidOf('shop-1-0-0-blue', 'shop-1-0-0-blue-1');
    process.kill(victim, 'SIGKILL');
    await sleep(200);
    const seen = await platform.getReplicaSet('shop-1-0-0-blue');
    expect(seen?.replicas.find((r) => r.id === 'shop-1-0-0-blue-1')?.running).toBe(false);

    const state = await platform.ensureReplicaSet(spec('shop-1-0-0-blue', { replicas: 3 }));

    const relaunched = state.replicas.find((r) => r.id === 'shop-1-0-0-blue-1');
    expect(relaunched?.running).toBe(true);
    expect(pidOf('shop-1-0-0-blue', 'shop-1-0-0-blue-1')).not.toBe(victim);
    expect((await get(`${relaunched?.address}/Shop/`)).replica).toBe('shop-1-0-0-blue-1');
    expect(replicaPids(stateDir)).toHaveLength(3);
  });

  it('a new driver instance (a restarted worker) finds every replica set from the state dir', async () => {
    const original = await platform.getReplicaSet('shop-1-0-0-blue');
    const restarted = newLocalPlatformDriver({ stateDir });

    const sets = await restarted.listReplicaSets('shop');

    expect(sets).toHaveLength(1);
    expect(sets[0]).toEqual(original);
    expect(sets[0]?.replicas.every((r) => r.running)).toBe(true);
    expect(await restarted.listReplicaSets('another-app')).toEqual([]);
  });

  it('reads records written before `color` was renamed `slot`, and a spec that still says `color`', async () => {
    // Given: the set's record as an older Cutover wrote it (the field named color).
    const file = path.join(stateDir, 'platform', 'shop-1-0-0-blue', 'set.json');
    const record = JSON.parse(fs.readFileSync(file, 'utf8')) as { spec: Record<string, unknown> };
    const { slot, ...rest } = record.spec;
    fs.writeFileSync(file, JSON.stringify({ ...record, spec: { ...rest, color: slot } }));

    // Then: a new driver reads its slot; ensuring it again with a legacy spec (an activity scheduled by an older
    // worker) starts nothing and rewrites the record with `slot` only.
    const restarted = newLocalPlatformDriver({ stateDir });
    expect((await restarted.getReplicaSet('shop-1-0-0-blue'))?.slot).toBe('blue');
    const before = (await restarted.getReplicaSet('shop-1-0-0-blue'))?.replicas ?? [];
    const { slot: _slot, ...legacy } = spec('shop-1-0-0-blue', { replicas: before.length });
    const state = await restarted.ensureReplicaSet({ ...legacy, color: 'blue' } as unknown as ReplicaSetSpec);
    expect(state.slot).toBe('blue');
    expect(state.replicas).toEqual(before);
    const rewritten = JSON.parse(fs.readFileSync(file, 'utf8')) as { spec: Record<string, unknown> };
    expect(rewritten.spec).toMatchObject({ slot: 'blue' });
    expect(rewritten.spec).not.toHaveProperty('color');
  });

  it('takes over after a worker crashed mid-launch: waits for that process instead of starting another', async () => {
    const setSpec = spec('shop-crash-green', { replicas: 1, slot: 'green', env: { SAMPLE_START_DELAY_MS: '1500' } });
    // A "worker" in its own process starts the launch, then dies (SIGKILL) while holding the lock.
    const script = `require(${JSON.stringify(distFile('activities/drivers/local/platform.js'))})
      .newLocalPlatformDriver({ stateDir: ${JSON.stringify(stateDir)} }).ensureReplicaSet(${JSON.stringify(setSpec)});`;
    const worker = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
    const record = path.join(stateDir, 'platform', 'shop-crash-green', 'replicas', 'shop-crash-green-0.json');
    while (!fs.existsSync(record)) await sleep(20);
    worker.kill('SIGKILL');
    await new Promise((resolve) => worker.once('exit', resolve));
    const orphan = pidOf('shop-crash-green', 'shop-crash-green-0');
    expect(isAlive(orphan)).toBe(true);

    const state = await platform.ensureReplicaSet(setSpec);

    expect(state.replicas).toHaveLength(1);
    expect(state.replicas[0]?.running).toBe(true);
    expect(pidOf('shop-crash-green', 'shop-crash-green-0')).toBe(orphan);
    expect((await get(`${state.replicas[0]?.address}/Shop/`)).status).toBe(200);
    expect(replicaPids(stateDir).filter((pid) => pid === orphan)).toHaveLength(1);
    await platform.retireReplicaSet('shop-crash-green');
  });
});

describe('launchReplica, scaleReplicaSet, retire', () => {
  const set = 'shop-2-0-0-rolling';

  beforeAll(async () => {
    await platform.ensureReplicaSet(spec(set, { version: '2.0.0', slot: 'rolling', replicas: 0 }));
  });

  it('launchReplica uses the caller id and, under concurrent retries, starts exactly one process', async () => {
    const before = replicaPids(stateDir).length;
    const replicas = await Promise.all([
      platform.launchReplica(set, `${set}-7`),
      platform.launchReplica(set, `${set}-7`),
      newLocalPlatformDriver({ stateDir }).launchReplica(set, `${set}-7`),
    ]);

    expect(new Set(replicas.map((r) => r.address)).size).toBe(1);
    expect(replicas[0]).toMatchObject({ id: `${set}-7`, running: true });
    expect(replicaPids(stateDir)).toHaveLength(before + 1);
    expect((await platform.getReplicaSet(set))?.desired).toBe(1);
  });

  it('scales up with new ids and down by retiring the highest-numbered replicas', async () => {
    const up = await platform.scaleReplicaSet(set, 3);
    expect(up.desired).toBe(3);
    expect(up.replicas.map((r) => r.id)).toEqual([`${set}-0`, `${set}-1`, `${set}-7`]);
    const retiredPid = pidOf(set, `${set}-7`);

    const down = await platform.scaleReplicaSet(set, 1);

    expect(down.desired).toBe(1);
    expect(down.replicas.map((r) => r.id)).toEqual([`${set}-0`]);
    expect(isAlive(retiredPid)).toBe(false);
  });

  it('retireReplica stops the process gracefully and forgets it; retiring again is a no-op', async () => {
    const pid = pidOf(set, `${set}-0`);
    const logFile = path.join(stateDir, 'platform', set, 'logs', `${set}-0.log`);

    await platform.retireReplica(set, `${set}-0`);
    await platform.retireReplica(set, `${set}-0`);
    await platform.retireReplica('no-such-set', 'x-0');

    expect(isAlive(pid)).toBe(false);
    expect(fs.readFileSync(logFile, 'utf8')).toMatch(/SIGTERM: shutting down gracefully[\s\S]*stopped/);
    expect((await platform.getReplicaSet(set))?.replicas).toEqual([]);
    expect((await platform.getReplicaSet(set))?.desired).toBe(0);
  });

  it('retireReplicaSet stops every process and removes the set; again is a no-op', async () => {
    await platform.ensureReplicaSet(spec('shop-retire-green', { slot: 'green', replicas: 2 }));
    const pids = [pidOf('shop-retire-green', 'shop-retire-green-0'), pidOf('shop-retire-green', 'shop-retire-green-1')];

    await platform.retireReplicaSet('shop-retire-green');
    await platform.retireReplicaSet('shop-retire-green');

    expect(pids.map(isAlive)).toEqual([false, false]);
    expect(await platform.getReplicaSet('shop-retire-green')).toBeUndefined();
    expect(fs.existsSync(path.join(stateDir, 'platform', 'shop-retire-green'))).toBe(false);
  });

  it('rejects unknown sets and unsafe names with PlatformRequestRejectedError', async () => {
    await expect(platform.launchReplica('no-such-set', 'no-such-set-0')).rejects.toMatchObject({
      name: 'PlatformRequestRejectedError',
    });
    await expect(platform.scaleReplicaSet('no-such-set', 2)).rejects.toThrow(/does not exist/);
    await expect(platform.ensureReplicaSet(spec('../escape'))).rejects.toMatchObject({
      name: 'PlatformRequestRejectedError',
    });
  });
});

describe('slow and unhealthy replicas', () => {
  it('returns only once a slow-starting replica listens', async () => {
    const started = Date.now();
    const state = await platform.ensureReplicaSet(
      spec('shop-slow-blue', { replicas: 1, env: { SAMPLE_START_DELAY_MS: '1500' } }),
    );

    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect((await get(`${state.replicas[0]?.address}/Shop/`)).status).toBe(200);
    await platform.retireReplicaSet('shop-slow-blue');
  });

  it('gives up on a replica that does not listen in time, kills it and leaves no record', async () => {
    const impatient = newLocalPlatformDriver({ stateDir, startTimeoutMs: 500 });
    const before = replicaPids(stateDir);

    await expect(
      impatient.ensureReplicaSet(spec('shop-stuck-blue', { replicas: 1, env: { SAMPLE_START_DELAY_MS: '20000' } })),
    ).rejects.toMatchObject({
      name: 'ReplicaStartError',
      message: expect.stringMatching(
        /did not listen on port \d+ \(its PORT\) within 500 ms[\s\S]*starting in 20000 ms/,
      ),
    });

    await sleep(200);
    expect(replicaPids(stateDir)).toEqual(before);
    expect((await platform.getReplicaSet('shop-stuck-blue'))?.replicas).toEqual([]);
    await platform.retireReplicaSet('shop-stuck-blue');
  });

  it('reports a replica that dies at start with the end of its log', async () => {
    const broken = newLocalPlatformDriver({
      stateDir,
      command: [process.execPath, '-e', 'console.error("cannot open database"); process.exit(3)'],
    });

    await expect(broken.ensureReplicaSet(spec('shop-broken-blue', { replicas: 1 }))).rejects.toThrow(
      /exited with code 3 before it was listening[\s\S]*cannot open database/,
    );
    await platform.retireReplicaSet('shop-broken-blue');
  });

  it('probe follows SAMPLE_HEALTH: ok, fail (503) and flaky', async () => {
    const states = await Promise.all(
      (['ok', 'fail', 'flaky'] as const).map((health) =>
        platform.ensureReplicaSet(spec(`shop-health-${health}`, { replicas: 1, env: { SAMPLE_HEALTH: health } })),
      ),
    );
    const [ok, fail, flaky] = states.map((s) => s.replicas[0]!);

    expect(await platform.probe(ok!, '/Shop/_ping.html', 2000)).toEqual({ healthy: true });
    expect(await platform.probe(fail!, '/Shop/_ping.html', 2000)).toEqual({
      healthy: false,
      reason: `GET ${fail!.address}/Shop/_ping.html answered HTTP 503`,
    });
    const flakyResults = [];
    for (let i = 0; i < 4; i++) flakyResults.push((await platform.probe(flaky!, '/Shop/_ping.html', 2000)).healthy);
    expect(flakyResults).toEqual([true, false, true, false]);
    expect(fail!.running).toBe(true); // unhealthy, yet running: health is the caller's judgement
    const closedPort = await freePort();
    expect(
      await platform.probe(
        { id: 'x', address: `http://127.0.0.1:${closedPort}`, running: false },
        '/Shop/_ping.html',
        2000,
      ),
    ).toMatchObject({
      healthy: false,
      reason: expect.stringContaining('ECONNREFUSED'),
    });

    for (const s of states) await platform.retireReplicaSet(s.name);
  });
});

describe('any process that listens on the PORT it is given', () => {
  const pythonApp = path.join(ROOT, 'examples', 'python-app', 'app.py');
  const python = newLocalPlatformDriver({ stateDir, command: ['python3', pythonApp], ...fastStop });

  function recordOf(set: string, id: string): { port?: number; assignedPort?: number; pid: number } {
    const file = path.join(stateDir, 'platform', set, 'replicas', `${id}.json`);
    return JSON.parse(fs.readFileSync(file, 'utf8')) as { port?: number; assignedPort?: number; pid: number };
  }

  it('starts the Python application, which never writes the ready file: started = its PORT accepts connections', async () => {
    const state = await python.ensureReplicaSet(
      spec('py-listen-blue', { replicas: 2, env: { PYAPP_START_DELAY_MS: '700' } }),
    );

    for (const replica of state.replicas) {
      const record = recordOf('py-listen-blue', replica.id);
      expect(replica.address).toBe(`http://127.0.0.1:${record.assignedPort}`);
      expect(record.port).toBe(record.assignedPort);
      expect(fs.existsSync(path.join(stateDir, 'platform', 'py-listen-blue', 'run', `${replica.id}.ready.json`))).toBe(
        false,
      );
      expect(await get(`${replica.address}/Cart/`)).toMatchObject({ status: 200, version: '1.0.0' });
    }
    expect(new Set(state.replicas.map((r) => r.address)).size).toBe(2);
    await python.retireReplicaSet('py-listen-blue');
  });

  it('tells its own listener from another program on the port (/proc)', async () => {
    const state = await python.ensureReplicaSet(spec('py-owner-blue', { replicas: 1 }));
    const replica = state.replicas[0]!;
    const { assignedPort, pid } = recordOf('py-owner-blue', replica.id);
    const other = net.createServer();
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const otherPort = (other.address() as net.AddressInfo).port;

    expect(await listenerOf(assignedPort!, pid)).toBe('replica');
    expect(await listenerOf(otherPort, pid)).toBe('other');
    expect(await acceptsConnections(otherPort)).toBe(true);
    await new Promise((resolve) => other.close(resolve));
    expect(await acceptsConnections(otherPort)).toBe(false);
    await python.retireReplicaSet('py-owner-blue');
  });

  it('an abort ends the wait for a slow start at once and leaves the process recorded; a retire stops it', async () => {
    const abort = new AbortController();
    const reason = new Error('aborted by the test');
    const launching = python.ensureReplicaSet(
      spec('py-abort-blue', { replicas: 1, env: { PYAPP_START_DELAY_MS: '30000' } }),
      { signal: abort.signal },
    );
    await sleep(500);
    abort.abort(reason);

    await expect(launching).rejects.toBe(reason);
    const record = recordOf('py-abort-blue', 'py-abort-blue-0');
    expect(record.port).toBeUndefined();
    expect(isAlive(record.pid)).toBe(true);
    await python.retireReplicaSet('py-abort-blue');
    expect(isAlive(record.pid)).toBe(false);
  });
});
