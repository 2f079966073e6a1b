/**
 * Blue-green end to end on real parts: the Temporal dev server, the local
 * platform (real processes) and the local router (real proxy), with a load
 * through the router (GETs, POSTs, slow requests; keep-alive clients that honour
 * and that ignore `Connection: close`) judged per phase by expectZeroDowntime.
 */
import { expectZeroDowntime, underLoad } from '../support/load';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';

const approvalRequired = { approval: { mode: 'required', timeout: '10m' } };

/** Given: the application migrated off the platform server and serving v1 from containers. */
async function givenLiveV1(f: Fixture): Promise<void> {
  const id = await f.deploy('1.0.0');
  const result = await f.result(id);
  expect(result.outcome).toBe('succeeded');
  for (const m of f.modules) expect(await f.versionOf(m)).toBe('1.0.0');
}

describe('blue-green on the local platform and router', () => {
  let f: Fixture;

  beforeEach(async () => {
    f = await createFixture('bg');
    await f.startInProcessWorker();
  });

  afterEach(async () => {
    await f.close();
  });

  test('migration off the platform server, then upgrade v1 -> v2, with 0 failed requests', async () => {
    // Given: the platform server answers every module (no explicit rule).
    expect(await f.versionOf('Catalog')).toBe('platform-server');
    const load = f.load();

    // When: migrate to 1.0.0, then upgrade to 2.0.0.
    await load.next('migrating');
    const first = await f.result(await f.deploy('1.0.0'));
    const afterMigration = f.replicaProcesses();
    await load.next('migrated');
    await load.next('upgrading');
    const second = await f.result(await f.deploy('2.0.0'));
    await load.next('after');
    await load.waitForRequests();
    const report = await load.stop();

    // Then
    expect(first.outcome).toBe('succeeded');
    expect(first.status.previousVersion).toBeNull();
    expect(afterMigration.map((p) => p.version)).toEqual(['1.0.0', '1.0.0']);
    expect(second.outcome).toBe('succeeded');
    expect(second.status.previousVersion).toBe('1.0.0');
    expectZeroDowntime(report, {
      versions: {
        before: ['platform-server'],
        migrating: ['platform-server', '1.0.0'],
        migrated: ['1.0.0'],
        upgrading: ['1.0.0', '2.0.0'],
        after: ['2.0.0'],
      },
      slowAcross: [
        { from: 'platform-server', to: '1.0.0' },
        { from: '1.0.0', to: '2.0.0' },
      ],
      deliveries: f.deliveries(),
    });
    for (const m of f.modules) expect(await f.versionOf(m)).toBe('2.0.0');
    const live = f.replicaProcesses();
    expect(live.map((p) => p.version)).toEqual(['2.0.0', '2.0.0']);
    expect(await f.platform.listReplicaSets(f.application)).toHaveLength(1);
  });

  test('takes over an application a rolling update left: v1 (rolling) -> v2 (green), 0 failed requests', async () => {
    // Given: v1 serving from <app>-rolling (a rolling update migrated it off the platform server).
    expect((await f.result(await f.deployRolling('1.0.0'))).outcome).toBe('succeeded');
    for (const m of f.modules) expect(await f.versionOf(m)).toBe('1.0.0');

    // When: a blue-green deployment of v2.
    const { value: result, report } = await underLoad(f.load(), async () => f.result(await f.deploy('2.0.0')));

    // Then: green serves v2; the rolling replicas and backend are gone; nothing failed on the way.
    expect(result.outcome).toBe('succeeded');
    expect(result.status.previousVersion).toBe('1.0.0');
    expect(result.liveColor).toBe('green');
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['2.0.0'] },
      slowAcross: [{ from: '1.0.0', to: '2.0.0' }],
      deliveries: f.deliveries(),
    });
    for (const m of f.modules) expect(await f.versionOf(m)).toBe('2.0.0');
    expect(f.replicaProcesses().map((p) => p.version)).toEqual(['2.0.0', '2.0.0']);
    expect((await f.platform.listReplicaSets(f.application)).map((s) => s.slot)).toEqual(['green']);
    expect(await f.backendTargets(`${f.application}-rolling`)).toBeUndefined();
  });

  test('preview route and approval by signal: marked requests reach green before the switch', async () => {
    await givenLiveV1(f);
    const { value: result, report } = await underLoad(f.load(), async () => {
      const id = await f.deploy('2.0.0', { strategy: { ...approvalRequired, preview: { enabled: true } } });
      const waiting = await f.waitForPhase(id, 'AwaitingApproval');
      expect(waiting.approval.pending).toBe(true);
      expect(await f.versionOf('Catalog')).toBe('1.0.0');
      expect(await f.versionOf('Catalog', { 'x-cutover-preview': '1' })).toBe('2.0.0');
      await f.client.approve(id, { by: 'alice', version: '2.0.0' });
      return f.result(id);
    });

    expect(result.outcome).toBe('succeeded');
    expect(result.status.approval.approved?.by).toBe('alice');
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['2.0.0'] },
      slowAcross: [{ from: '1.0.0', to: '2.0.0' }],
      deliveries: f.deliveries(),
    });
    expect(await f.versionOf('Cart')).toBe('2.0.0');
  });

  test('approval by the promote update; a promote for another version is refused', async () => {
    await givenLiveV1(f);
    const id = await f.deploy('2.0.0', { strategy: approvalRequired });
    await f.waitForPhase(id, 'AwaitingApproval');

    await expect(f.client.promote(id, { by: 'bob', version: '9.9.9' })).rejects.toThrow();
    const accepted = await f.client.promote(id, { by: 'bob', version: '2.0.0' });

    expect(accepted.accepted).toBe(true);
    expect((await f.result(id)).outcome).toBe('succeeded');
  });

  test('reject at the gate: rolled back, green gone, v1 keeps serving with 0 failed requests', async () => {
    await givenLiveV1(f);
    const { value: result, report } = await underLoad(f.load(), async () => {
      const id = await f.deploy('2.0.0', { strategy: approvalRequired });
      await f.waitForPhase(id, 'AwaitingApproval');
      expect(f.replicaProcesses().map((p) => p.version)).toEqual(['1.0.0', '1.0.0', '2.0.0', '2.0.0']);
      await f.client.reject(id, { by: 'carol', reason: 'not today' });
      return f.result(id);
    });

    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/rejected by carol/);
    // Green never answered a request of the load.
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0'], after: ['1.0.0'] },
      deliveries: f.deliveries(),
    });
    expect(f.replicaProcesses().map((p) => p.version)).toEqual(['1.0.0', '1.0.0']);
  });

  test('approval timeout rolls back', async () => {
    await givenLiveV1(f);
    const id = await f.deploy('2.0.0', { strategy: { approval: { mode: 'required', timeout: '2s' } } });
    const result = await f.result(id);
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/approval timed out/);
    expect(await f.versionOf('Catalog')).toBe('1.0.0');
  });

  test('unhealthy green never gets traffic and is retired', async () => {
    await givenLiveV1(f);
    const { value: result, report } = await underLoad(f.load(), async () =>
      f.result(await f.deploy('2.0.0', { env: { SAMPLE_HEALTH: 'fail' }, health: { deadline: '3s' } })),
    );

    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/healthy by the deadline/);
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0'], after: ['1.0.0'] },
      deliveries: f.deliveries(),
    });
    expect(f.replicaProcesses().map((p) => p.version)).toEqual(['1.0.0', '1.0.0']);
  });

  test('abort while probing undoes green', async () => {
    await givenLiveV1(f);
    const id = await f.deploy('2.0.0', { env: { SAMPLE_HEALTH: 'fail' }, health: { deadline: '5m' } });
    await f.waitForPhase(id, 'AwaitingHealthy');
    await f.client.abort(id, { by: 'erin', reason: 'wrong build' });
    const result = await f.result(id);

    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/aborted by erin/);
    expect(f.replicaProcesses().map((p) => p.version)).toEqual(['1.0.0', '1.0.0']);
  });

  test('rollback inside the window switches back with 0 failed requests', async () => {
    await givenLiveV1(f);
    const { value: result, report } = await underLoad(f.load(), async () => {
      const id = await f.deploy('2.0.0', { strategy: { rollbackWindow: '10m' } });
      await f.waitForPhase(id, 'RollbackWindow');
      expect(await f.versionOf('Catalog')).toBe('2.0.0');
      await f.client.rollback(id, { by: 'dave', reason: 'errors up' });
      return f.result(id);
    });

    expect(result.outcome).toBe('rolled-back');
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['1.0.0'] },
      slowAcross: [{ from: '1.0.0', to: '2.0.0' }],
      deliveries: f.deliveries(),
    });
    expect(report.phases.find((p) => p.phase === 'during')?.byVersion['2.0.0']).toBeGreaterThan(0);
    for (const m of f.modules) expect(await f.versionOf(m)).toBe('1.0.0');
    expect(f.replicaProcesses().map((p) => p.version)).toEqual(['1.0.0', '1.0.0']);
  });

  test('post-switch verification failure switches back automatically', async () => {
    await givenLiveV1(f);
    // Healthy on its ping page, but the build answers as another version: verification must catch it.
    const { value: result, report } = await underLoad(f.load(), async () =>
      f.result(await f.deploy('2.0.0', { env: { SAMPLE_ADVERTISED_VERSION: '1.9.9-wrong' } })),
    );

    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/post-switch verification failed/);
    // Between the switch and the switch back, users were answered by the mislabelled build (2xx, honestly labelled
    // with the version it claims): that is what verification exists to cut short.
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0', '1.9.9-wrong'], after: ['1.0.0'] },
      deliveries: f.deliveries(),
    });
    for (const m of f.modules) expect(await f.versionOf(m)).toBe('1.0.0');
    expect(f.replicaProcesses().map((p) => p.version)).toEqual(['1.0.0', '1.0.0']);
  });

  test('migration rollback removes the explicit rules: the platform server serves again', async () => {
    const { value: result, report } = await underLoad(f.load(), async () => {
      const id = await f.deploy('1.0.0', { strategy: { rollbackWindow: '10m' } });
      await f.waitForPhase(id, 'RollbackWindow');
      expect(await f.versionOf('Cart')).toBe('1.0.0');
      await f.client.rollback(id, { by: 'gina' });
      return f.result(id);
    });

    expect(result.outcome).toBe('rolled-back');
    expectZeroDowntime(report, {
      versions: { before: ['platform-server'], during: ['platform-server', '1.0.0'], after: ['platform-server'] },
      slowAcross: [{ from: 'platform-server', to: '1.0.0' }],
      deliveries: f.deliveries(),
    });
    for (const m of f.modules) expect(await f.versionOf(m)).toBe('platform-server');
    expect(f.replicaProcesses()).toEqual([]);
  });

  test('a second deployment of the same application is refused, naming the running one', async () => {
    const id = await f.deploy('1.0.0', { strategy: approvalRequired });
    await f.waitForPhase(id, 'AwaitingApproval');
    await expect(f.client.deploy(f.spec('1.0.1'), { deploymentId: id })).rejects.toThrow(
      new RegExp(`already running as ${id}`),
    );
    await f.client.abort(id, { by: 'test' });
    expect((await f.result(id)).outcome).toBe('rolled-back');
  });
});
