/**
 * The hook server's logs, metrics and probes, and its SIGTERM, over real HTTP against the real Temporal dev server
 * (no worker on the task queue: an operation starts, nothing runs it). The token never reaches a log line, in the URL
 * or in a header; the probes need no token; `cutover hooks serve` exits 0 on SIGTERM.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { CutoverClient } from '../../../client/client';
import { pinoHookLog } from '../../../client/outsystems/server';
import { buildHookServer } from '../../../client/outsystems/server';
import { createHookMetrics } from '../../../client/outsystems/metrics';
import { projectRoot } from '../../../examples/local-stack';
import { temporalAddress } from '../../support/local-fixture';
import { HOOK_TOKEN, hookConfig, lifeTimeGet, lifeTimeParams, makeHookDirs } from '../../support/hooks';
import type { HookDirs } from '../../support/hooks';

const KEY = '7e6d5c4b-3a29-4817-a6b5-c4d3e2f1a0b9';

/** A pino destination that keeps what it is given. */
function memory(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('hook server logs, metrics and probes', () => {
  let dirs: HookDirs;
  let client: CutoverClient;
  const taskQueue = `hooks-observe-${process.pid}`;
  const started: string[] = [];

  beforeAll(async () => {
    dirs = makeHookDirs('observe');
    client = await CutoverClient.connect({ address: temporalAddress(), taskQueue });
  });

  afterAll(async () => {
    for (const id of started) {
      await client
        .handle(id)
        .terminate('test cleanup')
        .catch(() => undefined);
    }
    await client.close();
    fs.rmSync(dirs.base, { recursive: true, force: true });
  });

  const config = (overrides: Parameters<typeof hookConfig>[1] = {}) =>
    hookConfig(dirs, {
      profiles: {
        p: {
          platform: { kind: 'local' },
          router: { kind: 'local', adminUrl: 'http://127.0.0.1:1', publicUrl: 'http://127.0.0.1:2' },
          strategy: { type: 'blue-green' },
        },
      },
      applications: [{ key: KEY, application: 'observed', profile: 'p' }],
      ...overrides,
    });

  test('JSON log lines with the deployment id, and never the token (URL parameter, header, bearer)', async () => {
    const log = memory();
    const metrics = createHookMetrics({ defaultMetrics: false });
    const app = await buildHookServer({
      config: config(),
      token: HOOK_TOKEN,
      client,
      log: pinoHookLog(log.stream),
      metrics,
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const server = { url };
      expect((await lifeTimeGet(server, 'build', {})).status).toBe(200);
      expect(
        (await lifeTimeGet(server, 'build', {}, { token: null, headers: { 'x-cutover-hook-token': HOOK_TOKEN } }))
          .status,
      ).toBe(200);
      expect(
        (await lifeTimeGet(server, 'run', {}, { token: null, headers: { authorization: `Bearer ${HOOK_TOKEN}` } }))
          .status,
      ).toBe(200);
      expect((await lifeTimeGet(server, 'run', {}, { token: `${HOOK_TOKEN}x` })).status).toBe(403);
      const operationId = '0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d';
      const start = await lifeTimeGet(
        server,
        'build',
        lifeTimeParams(dirs, { applicationKey: KEY, operationId, modules: ['Catalog'] }),
      );
      expect(start.status).toBe(202);
      started.push(start.body.workflowId);

      const text = log.text();
      expect(text).not.toContain(HOOK_TOKEN);
      const lines = text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines).toHaveLength(5);
      expect(lines.every((l) => l.name === 'cutover-hooks' && typeof l.time === 'string')).toBe(true);
      expect(lines[3]).toMatchObject({ level: 'warn', hook: 'run', status: 403, error: 'the token is not valid' });
      expect(lines[4]).toMatchObject({
        level: 'info',
        hook: 'build',
        status: 202,
        deploymentId: start.body.workflowId,
      });
      expect(String(lines[0]?.url)).toContain('token=***');

      // The calls are counted by stage and status, and /metrics needs no token.
      const res = await fetch(`${url}/metrics`);
      expect(res.status).toBe(200);
      const exposition = await res.text();
      expect(exposition).toContain('cutover_hook_requests_total{stage="build",status="200"} 2');
      expect(exposition).toContain('cutover_hook_requests_total{stage="run",status="403"} 1');
      expect(exposition).toContain('cutover_hook_requests_total{stage="build",status="202"} 1');
      expect(exposition).toContain('cutover_hook_request_duration_seconds_count{stage="build"} 3');
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  test('server.probes false: no /metrics, /healthz or /readyz', async () => {
    const base = config();
    const app = await buildHookServer({
      config: { ...base, server: { ...base.server, probes: false } },
      token: HOOK_TOKEN,
      client,
      log: () => undefined,
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      for (const probe of ['/metrics', '/healthz', '/readyz']) expect((await fetch(`${url}${probe}`)).status).toBe(404);
    } finally {
      await app.close();
    }
  });

  test('`cutover hooks serve` stops on SIGTERM and exits 0', async () => {
    const file = path.join(dirs.base, 'hooks.json');
    // The configuration as written (hookConfig's input, see test/support/hooks.ts), on any free port.
    const written = {
      auth: { tokenEnv: 'CUTOVER_HOOK_TOKEN' },
      roots: {
        target: [path.join(dirs.base, 'deploy')],
        result: [path.join(dirs.base, 'deploy')],
        config: [dirs.config],
      },
      buildsRoot: dirs.builds,
      profiles: {},
      applications: [],
      server: { host: '127.0.0.1', port: 0 },
    };
    fs.writeFileSync(file, JSON.stringify(written));
    const child = spawn(
      process.execPath,
      [path.join(projectRoot(), 'bin', 'cutover.js'), 'hooks', 'serve', '--config', file],
      {
        env: {
          ...process.env,
          CUTOVER_HOOK_TOKEN: HOOK_TOKEN,
          TEMPORAL_ADDRESS: temporalAddress(),
          TEMPORAL_TASK_QUEUE: taskQueue,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
        const m = /serving on (http:\/\/\S+);/.exec(stderr);
        if (m?.[1]) resolve(m[1]);
      });
      void exited.then(() => reject(new Error(`hooks serve exited early:\n${stderr}`)));
    });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
