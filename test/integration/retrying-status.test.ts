/**
 * A step being retried is visible: with the router's admin API down (nothing listens on its port: ECONNREFUSED, as
 * on a fresh machine where nothing started the router), `cutover status` shows "retrying ...: attempt N of 10, last
 * error: ...ECONNREFUSED..., next attempt at ..." and `status --watch` prints each attempt once; once
 * `cutover router` starts on that port the deployment proceeds and succeeds, and the retry line is gone.
 *
 * Real parts: the jest global setup's Temporal dev server, an in-process worker, the local platform (sample-app
 * processes), the platform server (the sample app) and the router started by the compiled `cutover router`.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { createFixtureCore } from '../support/fixture-core';
import type { FixtureCore, RouterPart } from '../support/fixture-core';
import { freePort } from '../support/temporal';

const root = path.join(__dirname, '..', '..');
const bin = path.join(root, 'bin', 'cutover.js');

function cutover(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: process.env }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

interface Part extends RouterPart {
  platformServerUrl: string;
  routerPort: number;
  adminPort: number;
}

let f: FixtureCore<Part>;
let platformServer: ChildProcess | undefined;
let router: ChildProcess | undefined;
let watcher: ChildProcess | undefined;

beforeAll(async () => {
  f = await createFixtureCore<Part>({ name: 'retrying', modules: ['Catalog', 'Cart'] }, async (ctx) => {
    // The platform server (the sample app as version "platform-server"), as examples/local-stack.ts starts it; the
    // router is not started: its ports are chosen and left empty.
    const readyFile = path.join(ctx.stateDir, 'platform-server.ready');
    platformServer = spawn(process.execPath, [path.join(root, 'dist', 'examples', 'sample-app', 'server.js')], {
      env: {
        ...process.env,
        PORT: '0',
        CUTOVER_APP: ctx.application,
        CUTOVER_VERSION: 'platform-server',
        CUTOVER_MODULES: ctx.modules.join(','),
        CUTOVER_REPLICA_ID: 'platform-server',
        CUTOVER_READY_FILE: readyFile,
        ...ctx.appEnv,
      },
      stdio: 'ignore',
    });
    while (!fs.existsSync(readyFile)) await sleep(50);
    const { port } = JSON.parse(fs.readFileSync(readyFile, 'utf8')) as { port: number };
    const routerPort = await freePort();
    const adminPort = await freePort();
    return {
      platformServerUrl: `http://127.0.0.1:${port}`,
      routerPort,
      adminPort,
      specDefaults: { adminUrl: `http://127.0.0.1:${adminPort}`, publicUrl: `http://127.0.0.1:${routerPort}` },
      stop: async () => {
        await stop(router);
        await stop(platformServer);
      },
    };
  });
  await f.startInProcessWorker();
});

afterAll(async () => {
  await stop(watcher);
  await f?.close();
});

test('Given the router is down, cutover status shows the retried step; once the router starts the deployment succeeds', async () => {
  // When a deployment starts while nothing listens on the router's admin port
  const id = await f.deploy('2.0.0', { replicas: 1 });
  const watched: string[] = [];
  watcher = spawn(process.execPath, [bin, 'status', id, '--watch'], {
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  readline.createInterface({ input: watcher.stdout! }).on('line', (l) => watched.push(l));
  const watcherExit = new Promise<number | null>((resolve) => watcher!.once('exit', (code) => resolve(code)));

  // Then `cutover status` shows the step retrying: attempt N of 10, the connection refused, the next attempt's time
  const retryLine = /⟳ retrying (\w+): attempt (\d+) of 10, last error: .*ECONNREFUSED.*, next attempt at (\S+)$/m;
  let shown: RegExpExecArray | null = null;
  let text = '';
  for (let i = 0; i < 150 && !shown; i++) {
    const out = await cutover('status', id);
    expect(out.code).toBe(0);
    text = out.stdout;
    shown = retryLine.exec(text);
    if (!shown) await sleep(200);
  }
  expect(shown).not.toBeNull();
  const [, activity, attempt, nextAt] = shown!;
  expect(Number(attempt)).toBeGreaterThanOrEqual(2);
  expect(Number(attempt)).toBeLessThanOrEqual(10);
  expect(Number.isNaN(Date.parse(nextAt!))).toBe(false);
  expect(text).toContain('phase        Discovering');
  expect(text).toMatch(/… discover live version\n {4}⟳ retrying/);
  // and the JSON form carries the same, for scripts
  const json = JSON.parse((await cutover('status', id, '--json')).stdout) as { retrying?: { activity: string }[] };
  expect(json.retrying?.[0]?.activity).toBe(activity);

  // When the router starts on the port the spec names
  router = spawn(
    process.execPath,
    [
      bin,
      'router',
      '--port',
      String(f.router.routerPort),
      '--admin-port',
      String(f.router.adminPort),
      '--state-file',
      path.join(f.stateDir, 'router-rules.json'),
      '--default-target',
      f.router.platformServerUrl,
    ],
    { env: process.env, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const ready = await new Promise<string>((resolve) =>
    readline.createInterface({ input: router!.stdout! }).once('line', resolve),
  );
  expect(JSON.parse(ready)).toEqual({ port: f.router.routerPort, adminPort: f.router.adminPort });

  // Then the deployment proceeds at its next attempt and succeeds
  const result = await f.result(id);
  expect(result.outcome).toBe('succeeded');
  const after = await cutover('status', id);
  expect(after.stdout).not.toContain('⟳ retrying');
  expect(after.stdout).toContain('✓ discover live version');

  // and --watch printed every attempt it saw once, in order, then exited 0 with the deployment
  expect(await watcherExit).toBe(0);
  const attempts = watched
    .map((l) => /⟳ retrying \w+: attempt (\d+) of 10/.exec(l)?.[1])
    .filter((a): a is string => a !== undefined)
    .map(Number);
  expect(attempts.length).toBeGreaterThanOrEqual(1);
  expect(new Set(attempts).size).toBe(attempts.length);
  expect([...attempts].sort((a, b) => a - b)).toEqual(attempts);
  expect(watched.some((l) => l.includes('SUCCEEDED'))).toBe(true);
});
