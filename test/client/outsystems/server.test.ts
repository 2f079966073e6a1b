/**
 * The hook server over real HTTP, as LifeTime calls it, against the real Temporal dev server — with NO worker on
 * the task queue, so nothing can run: whatever the server answers, it answered without waiting for the work.
 * Auth, malformed calls and paths outside the roots start nothing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { CutoverClient } from '../../../client/client';
import { temporalAddress } from '../../support/local-fixture';
import {
  HOOK_TOKEN,
  hookConfig,
  lifeTimeGet,
  lifeTimeParams,
  makeHookDirs,
  startHookServer,
} from '../../support/hooks';
import type { HookDirs, HookParams, RunningHookServer } from '../../support/hooks';
import { hookWorkflowId } from '../../../workflows/outsystems/types';
import type { HookStage } from '../../../workflows/outsystems/types';

const KEY = '5d1c0a6e-7f2b-4c3d-9e8f-0a1b2c3d4e5f';
let opCounter = 0;

describe('hook server (no worker: nothing can run)', () => {
  let dirs: HookDirs;
  let client: CutoverClient;
  let server: RunningHookServer;
  const started: string[] = [];

  beforeAll(async () => {
    dirs = makeHookDirs('server');
    client = await CutoverClient.connect({ address: temporalAddress(), taskQueue: `hooks-noworker-${process.pid}` });
    const profile = {
      platform: { kind: 'local' },
      router: { kind: 'local', adminUrl: 'http://127.0.0.1:1', publicUrl: 'http://127.0.0.1:2' },
      strategy: { type: 'blue-green' },
    };
    server = await startHookServer(
      hookConfig(dirs, { profiles: { p: profile }, applications: [{ key: KEY, application: 'portal', profile: 'p' }] }),
      client,
    );
  });

  afterAll(async () => {
    for (const id of started)
      await client
        .handle(id)
        .terminate('test cleanup')
        .catch(() => undefined);
    await server.close();
    await client.close();
    fs.rmSync(dirs.base, { recursive: true, force: true });
  });

  const newOperation = () => `00000000-0000-4000-8000-${String(++opCounter).padStart(12, '0')}-${process.pid}`;

  const params = (operationId: string, overrides: HookParams = {}): HookParams =>
    lifeTimeParams(dirs, { applicationKey: KEY, operationId, modules: ['Catalog', 'Cart'] }, overrides);

  async function exists(id: string): Promise<boolean> {
    try {
      await client.handle(id).describe();
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  /** Then: no workflow for this operation, and no result file. */
  async function expectNothingStarted(operationId: string, stage: HookStage): Promise<void> {
    expect(await exists(hookWorkflowId(KEY, operationId, stage))).toBe(false);
    expect(fs.readdirSync(dirs.result).filter((f) => f.includes(operationId))).toEqual([]);
  }

  test('a valid call is answered 202 at once with the operation workflow started; no result file yet', async () => {
    const op = newOperation();
    const res = await lifeTimeGet(server, 'run', params(op));

    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ started: true, workflowId: hookWorkflowId(KEY, op, 'run') });
    started.push(res.body.workflowId);
    const description = await client.handle(res.body.workflowId).describe();
    expect(description.status.name).toBe('RUNNING');
    expect(description.type).toBe('outSystemsHookOperation');
    expect(fs.existsSync(path.join(dirs.result, `${KEY}_${op}.deploydone`))).toBe(false);
  });

  test('re-delivery while the operation runs finds the same workflow run', async () => {
    const op = newOperation();
    const first = await lifeTimeGet(server, 'build', params(op));
    const second = await lifeTimeGet(server, 'build', params(op));
    started.push(first.body.workflowId);

    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body.workflowId).toBe(first.body.workflowId);
    expect(second.body.runId).toBe(first.body.runId);
  });

  test('a call without Address is a connection test: 200, nothing else', async () => {
    const res = await lifeTimeGet(server, 'build', {});
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
  });

  test('missing token: 401; wrong token: 403; nothing starts', async () => {
    const op = newOperation();
    const missing = await lifeTimeGet(server, 'run', params(op), { token: null });
    const wrong = await lifeTimeGet(server, 'run', params(op), { token: `${HOOK_TOKEN}x` });
    const connectionTestWithoutToken = await lifeTimeGet(server, 'build', {}, { token: null });

    expect(missing.status).toBe(401);
    expect(wrong.status).toBe(403);
    expect(wrong.body.message).toBe('the token is not valid');
    expect(connectionTestWithoutToken.status).toBe(401);
    await expectNothingStarted(op, 'run');
  });

  test('the token may come in a header instead (x-cutover-hook-token or Authorization: Bearer)', async () => {
    const custom = await lifeTimeGet(
      server,
      'build',
      {},
      { token: null, headers: { 'x-cutover-hook-token': HOOK_TOKEN } },
    );
    const bearer = await lifeTimeGet(
      server,
      'build',
      {},
      { token: null, headers: { authorization: `Bearer ${HOOK_TOKEN}` } },
    );
    expect([custom.status, bearer.status]).toEqual([200, 200]);
  });

  test('the token never appears in the server log', async () => {
    await lifeTimeGet(server, 'build', {});
    const logged = JSON.stringify(server.logs);
    expect(logged).not.toContain(HOOK_TOKEN);
    expect(logged).toContain('token=***');
  });

  test('bad Base64 is a 400 naming the parameter; nothing starts', async () => {
    const op = newOperation();
    const res = await fetch(
      `${server.url}/hooks/container-run?token=${HOOK_TOKEN}&` +
        new URLSearchParams({
          Address: Buffer.from('a').toString('base64'),
          ApplicationName: Buffer.from('Customer Portal').toString('base64'),
          ApplicationKey: Buffer.from(KEY).toString('base64'),
          OperationId: Buffer.from(op).toString('base64'),
          ResultPath: Buffer.from(dirs.result).toString('base64'),
          ModuleNames: '#not base64#',
        }).toString(),
    );
    const body = (await res.json()) as { message: string; issues: { parameter: string }[] };

    expect(res.status).toBe(400);
    expect(body.message).toBe('ModuleNames: is not valid Base64');
    expect(body.issues[0]?.parameter).toBe('ModuleNames');
    await expectNothingStarted(op, 'run');
  });

  test('ModuleNames that is not a JSON array is a 400; nothing starts', async () => {
    const op = newOperation();
    const res = await lifeTimeGet(server, 'run', params(op, { ModuleNames: 'Catalog,Cart' }));
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^ModuleNames: is not JSON/);
    await expectNothingStarted(op, 'run');
  });

  test('paths outside the roots (.., elsewhere, symlink escape) are a 400; nothing starts', async () => {
    fs.symlinkSync(dirs.outside, path.join(dirs.result, 'escape'));
    const cases: [HookStage, HookParams, RegExp][] = [
      ['run', { ResultPath: `${dirs.result}/../../outside` }, /^ResultPath: .*"\.\." segment/],
      ['run', { ResultPath: dirs.outside }, /^ResultPath: .*outside the allowed roots/],
      [
        'run',
        { ResultPath: path.join(dirs.result, 'escape') },
        /^ResultPath: .*resolves to.*outside the allowed roots/,
      ],
      ['build', { TargetPath: '/etc' }, /^TargetPath: .*outside the allowed roots/],
      ['configs', { ConfigPath: dirs.outside }, /^ConfigPath: .*outside the allowed roots/],
    ];
    for (const [stage, overrides, message] of cases) {
      const op = newOperation();
      const res = await lifeTimeGet(server, stage, params(op, overrides));
      expect({ stage, status: res.status, message: res.body.message }).toEqual({
        stage,
        status: 400,
        message: expect.stringMatching(message),
      });
      await expectNothingStarted(op, stage);
    }
    expect(fs.readdirSync(dirs.outside)).toEqual([]);
  });

  test('an unknown application gets an error result file at once; no workflow', async () => {
    const op = newOperation();
    const res = await lifeTimeGet(
      server,
      'run',
      params(op, { ApplicationKey: 'ffffffff-0000-0000-0000-000000000000' }),
    );
    const file = path.join(dirs.result, `ffffffff-0000-0000-0000-000000000000_${op}.deploydone`);

    expect(res.status).toBe(200);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({
      Error: {
        Message:
          'application "Customer Portal" (key ffffffff-0000-0000-0000-000000000000) is not mapped to a deployment ' +
          'profile in the Cutover hook configuration (applications: key or name)',
      },
    });
    expect(await exists(hookWorkflowId('ffffffff-0000-0000-0000-000000000000', op, 'run'))).toBe(false);
  });

  test('unknown paths and other methods are not hooks', async () => {
    expect((await fetch(`${server.url}/hooks/container-explode?token=${HOOK_TOKEN}`)).status).toBe(404);
    expect((await fetch(`${server.url}/hooks/container-run?token=${HOOK_TOKEN}`, { method: 'POST' })).status).toBe(404);
  });
});
