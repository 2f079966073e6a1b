/**
 * Records real workflow histories for the replay suite (replay.test.ts): real runs on the dev server with the real
 * local platform and router, stopped at the points where a deployment can sit for hours or days (a gate, a pause) and
 * at its ends (succeeded, rolled back). Not part of `make test` (its name does not end in .test.ts): `make record-histories` runs it. Each history is written
 * to test/replay/histories/<workflow>-<scenario>.binpb and committed; record new ones after every change to what a
 * workflow commands, and keep the old ones (they are what proves runs in flight still replay).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';

const HISTORIES = join(__dirname, 'histories');
const approvalRequired = { approval: { mode: 'required', timeout: '1h' } };

async function save(f: Fixture, id: string, name: string): Promise<void> {
  const history = await f.client.temporal.workflow.getHandle(id).fetchHistory();
  // Binary protobuf: the exact history the server sent (its JSON form does not load under jest's module registry).
  const file = join(HISTORIES, `${name}.binpb`);
  writeFileSync(file, temporal.api.history.v1.History.encode(history).finish());
  process.stdout.write(`recorded ${file}: ${history.events?.length ?? 0} events\n`);
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

  test('rolling: a full update', async () => {
    expect((await f.result(await f.deployRolling('1.0.0', { replicas: 4 }))).outcome).toBe('succeeded');
    const id = await f.deployRolling('2.0.0', { replicas: 4, strategy: { maxSurge: 1, maxUnavailable: 0 } });
    expect((await f.result(id)).outcome).toBe('succeeded');
    await save(f, id, 'rolling-upgrade-succeeded');
  });
});
