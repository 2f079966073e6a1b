/**
 * Blue-green through a real nginx, end to end: the Temporal dev server, the blue-green workflow with the nginx
 * driver selected by `router.kind: nginx`, local-platform replicas behind nginx, and a load through nginx (GETs,
 * POSTs, slow requests, from a client that honours `Connection: close`, like browsers and Node's fetch) judged per
 * phase by expectZeroDowntime while nginx reloads on each rule change.
 */
import { expectZeroDowntime, underLoad } from '../support/load';
import { createNginxFixture } from '../support/nginx-fixture';
import type { NginxFixture } from '../support/nginx-fixture';

jest.setTimeout(240_000);

const approvalRequired = { approval: { mode: 'required', timeout: '10m' } };

/** Given: the application migrated off the platform server and serving v1 from containers. */
async function givenLiveV1(f: NginxFixture): Promise<void> {
  const result = await f.result(await f.deploy('1.0.0'));
  expect(result.outcome).toBe('succeeded');
  for (const m of f.modules) expect(await f.versionOf(m)).toBe('1.0.0');
}

describe('blue-green through nginx', () => {
  let f: NginxFixture;

  beforeEach(async () => {
    f = await createNginxFixture('ngx');
  });

  afterEach(async () => {
    await f.close();
  });

  test('migration off the platform server, then v1 -> v2: 0 failed requests through nginx', async () => {
    // Given: location / (the platform server) answers every module.
    expect(await f.versionOf('Catalog')).toBe('platform-server');
    const load = f.load();

    // When
    await load.next('migrating');
    const first = await f.result(await f.deploy('1.0.0'));
    await load.next('migrated');
    await load.next('upgrading');
    const second = await f.result(await f.deploy('2.0.0'));
    await load.next('after');
    await load.waitForRequests();
    const report = await load.stop();

    // Then
    expect([first.outcome, second.outcome]).toEqual(['succeeded', 'succeeded']);
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
    expect(await f.liveVersions()).toEqual(['2.0.0', '2.0.0']);
    const verify = second.status.steps.find((s) => s.name.startsWith('verify'));
    expect(verify?.detail).toMatch(/Catalog: verified, Cart: verified/);
  });

  test('preview through nginx before approval; the switch after approval: 0 failed requests', async () => {
    await givenLiveV1(f);
    const { value: result, report } = await underLoad(f.load(), async () => {
      const id = await f.deploy('2.0.0', { strategy: { ...approvalRequired, preview: { enabled: true } } });
      await f.waitForPhase(id, 'AwaitingApproval');
      expect(await f.versionOf('Catalog')).toBe('1.0.0');
      expect(await f.versionOf('Catalog', { 'x-cutover-preview': '1' })).toBe('2.0.0');
      await f.client.approve(id, { by: 'alice', version: '2.0.0' });
      return f.result(id);
    });

    expect(result.outcome).toBe('succeeded');
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['2.0.0'] },
      slowAcross: [{ from: '1.0.0', to: '2.0.0' }],
      deliveries: f.deliveries(),
    });
    expect(await f.versionOf('Cart')).toBe('2.0.0');
    expect(await f.versionOf('Cart', { 'x-cutover-preview': '1' })).toBe('2.0.0'); // preview route gone
  });

  test('rollback inside the window switches back through nginx: 0 failed requests', async () => {
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
    expect(await f.liveVersions()).toEqual(['1.0.0', '1.0.0']);
  });

  test('verification through nginx catches a mislabelled build and switches back: 0 failed requests', async () => {
    await givenLiveV1(f);
    const { value: result, report } = await underLoad(f.load(), async () =>
      f.result(await f.deploy('2.0.0', { env: { SAMPLE_ADVERTISED_VERSION: '1.9.9-wrong' } })),
    );

    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/post-switch verification failed/);
    // Until the switch back, the mislabelled build answers (2xx, with the version it claims).
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0', '1.9.9-wrong'], after: ['1.0.0'] },
      deliveries: f.deliveries(),
    });
    for (const m of f.modules) expect(await f.versionOf(m)).toBe('1.0.0');
  });

  test('migration rollback deletes the module files: location / serves again', async () => {
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
    expect(await f.liveVersions()).toEqual([]);
  });
});
