/**
 * Blue-green through a real nginx, end to end: the Temporal dev server, the blue-green workflow with the nginx
 * driver selected by `router.kind: nginx`, local-platform replicas behind nginx, and a load generator through nginx
 * (a client that honours `Connection: close`, like browsers and Node's fetch) counting every failed request while
 * nginx reloads on each rule change.
 */
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
    const first = await f.result(await f.deploy('1.0.0'));
    const second = await f.result(await f.deploy('2.0.0'));
    const report = await load.stop();

    // Then
    expect([first.outcome, second.outcome]).toEqual(['succeeded', 'succeeded']);
    expect(report.errors).toEqual({});
    expect(report.failed).toBe(0);
    expect(report.byVersion['platform-server']).toBeGreaterThan(0);
    expect(report.byVersion['1.0.0']).toBeGreaterThan(0);
    expect(report.byVersion['2.0.0']).toBeGreaterThan(0);
    for (const m of f.modules) expect(await f.versionOf(m)).toBe('2.0.0');
    expect(await f.liveVersions()).toEqual(['2.0.0', '2.0.0']);
    const verify = second.status.steps.find((s) => s.name.startsWith('verify'));
    expect(verify?.detail).toMatch(/Catalog: verified, Cart: verified/);
  });

  test('preview through nginx before approval; the switch after approval: 0 failed requests', async () => {
    await givenLiveV1(f);
    const load = f.load();
    const id = await f.deploy('2.0.0', { strategy: { ...approvalRequired, preview: { enabled: true } } });

    await f.waitForPhase(id, 'AwaitingApproval');
    expect(await f.versionOf('Catalog')).toBe('1.0.0');
    expect(await f.versionOf('Catalog', { 'x-cutover-preview': '1' })).toBe('2.0.0');

    await f.client.approve(id, { by: 'alice', version: '2.0.0' });
    const result = await f.result(id);
    const report = await load.stop();

    expect(result.outcome).toBe('succeeded');
    expect(report.failed).toBe(0);
    expect(await f.versionOf('Cart')).toBe('2.0.0');
    expect(await f.versionOf('Cart', { 'x-cutover-preview': '1' })).toBe('2.0.0'); // preview route gone
  });

  test('rollback inside the window switches back through nginx: 0 failed requests', async () => {
    await givenLiveV1(f);
    const load = f.load();
    const id = await f.deploy('2.0.0', { strategy: { rollbackWindow: '10m' } });
    await f.waitForPhase(id, 'RollbackWindow');
    expect(await f.versionOf('Catalog')).toBe('2.0.0');

    await f.client.rollback(id, { by: 'dave', reason: 'errors up' });
    const result = await f.result(id);
    const report = await load.stop();

    expect(result.outcome).toBe('rolled-back');
    expect(report.failed).toBe(0);
    expect(report.byVersion['2.0.0']).toBeGreaterThan(0);
    for (const m of f.modules) expect(await f.versionOf(m)).toBe('1.0.0');
    expect(await f.liveVersions()).toEqual(['1.0.0', '1.0.0']);
  });

  test('verification through nginx catches a mislabelled build and switches back: 0 failed requests', async () => {
    await givenLiveV1(f);
    const load = f.load();
    const result = await f.result(await f.deploy('2.0.0', { env: { SAMPLE_ADVERTISED_VERSION: '1.9.9-wrong' } }));
    const report = await load.stop();

    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/post-switch verification failed/);
    expect(report.failed).toBe(0);
    for (const m of f.modules) expect(await f.versionOf(m)).toBe('1.0.0');
  });

  test('migration rollback deletes the module files: location / serves again', async () => {
    const load = f.load();
    const id = await f.deploy('1.0.0', { strategy: { rollbackWindow: '10m' } });
    await f.waitForPhase(id, 'RollbackWindow');
    expect(await f.versionOf('Cart')).toBe('1.0.0');

    await f.client.rollback(id, { by: 'gina' });
    const result = await f.result(id);
    const report = await load.stop();

    expect(result.outcome).toBe('rolled-back');
    expect(report.failed).toBe(0);
    for (const m of f.modules) expect(await f.versionOf(m)).toBe('platform-server');
    expect(await f.liveVersions()).toEqual([]);
  });
});
