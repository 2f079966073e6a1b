/**
 * The local router's batch (a real router-main process, tiny named backends): PUT /rules sets many modules' rules in
 * one admin call and one write of the rule file (GET /stats "ruleWrites"), or refuses the whole batch naming the
 * field and changes nothing; the driver's `batch` capability uses it, and falls back to one call per module when the
 * router is older and answers 404 to PUT /rules.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { newLocalRouterDriver } from '../../../activities/drivers/local';
import type { Router } from '../../../activities/ports';
import type { RunningRouter } from './local-support';
import { adminCall, get, startRouterProcess, tempDir } from './local-support';
import { startNamedServer } from './named-servers';
import type { NamedServer } from './named-servers';

jest.setTimeout(60_000);

const MODULES = Array.from({ length: 20 }, (_, i) => `M${String(i + 1).padStart(2, '0')}`);
const dir = tempDir('router-batch');
const stateFile = path.join(dir, 'rules.json');
let platformServer: NamedServer;
let blue: NamedServer;
let green: NamedServer;
let router: RunningRouter;
let driver: Router;

const ruleWrites = async (): Promise<number> =>
  ((await adminCall(router.adminUrl, 'GET', '/stats')).json as { ruleWrites: number }).ruleWrites;

/** Which backend serves each module: the rules the router reads back, and the server that answers through it. */
async function served(modules: string[]): Promise<{ rules: Record<string, string>; answers: Record<string, string> }> {
  const read = await driver.readRules(modules);
  const rules = Object.fromEntries(modules.map((m) => [m, read[m]?.backends.map((b) => b.backend).join(',') ?? '-']));
  const answers: Record<string, string> = {};
  for (const m of modules) answers[m] = (await get(`${router.publicUrl}/${m}/`)).body;
  return { rules, answers };
}

const every = (modules: string[], value: string): Record<string, string> =>
  Object.fromEntries(modules.map((m) => [m, value]));

beforeAll(async () => {
  [platformServer, blue, green] = await Promise.all([
    startNamedServer('platform'),
    startNamedServer('blue'),
    startNamedServer('green'),
  ]);
  router = await startRouterProcess({
    stateFile,
    defaultTarget: platformServer.url,
    logFile: path.join(dir, 'router.log'),
  });
  driver = newLocalRouterDriver({ adminUrl: router.adminUrl, publicUrl: router.publicUrl });
  await driver.ensureBackend('shop-blue', [blue.url]);
  await driver.ensureBackend('shop-green', [green.url]);
});

afterAll(async () => {
  try {
    await router?.stop();
    await Promise.all([platformServer?.stop(), blue?.stop(), green?.stop()]);
  } finally {
    if (router?.child.exitCode === null) router.child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('PUT /rules', () => {
  it('the driver’s batch switches 20 modules in one admin call and one write, read back and served', async () => {
    expect(driver.batch).toBeDefined();
    // Given: every module on blue (one batch), then switched to green (another).
    const start = await ruleWrites();
    await driver.batch?.setModuleRules(MODULES, [{ backend: 'shop-blue', weight: 100 }]);
    expect(await ruleWrites()).toBe(start + 1);
    expect(await served(MODULES)).toEqual({ rules: every(MODULES, 'shop-blue'), answers: every(MODULES, 'blue') });

    // When
    await driver.batch?.setModuleRules(MODULES, [{ backend: 'shop-green', weight: 100 }]);

    // Then: one more write, every rule reads back on green and green answers; the file holds them too.
    expect(await ruleWrites()).toBe(start + 2);
    expect(await served(MODULES)).toEqual({ rules: every(MODULES, 'shop-green'), answers: every(MODULES, 'green') });
    const file = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { rules: Record<string, unknown> };
    for (const m of MODULES) expect(file.rules[m]).toEqual({ backends: [{ backend: 'shop-green', weight: 100 }] });
  });

  it('sets a different rule per module, splits included, in one write; the answer echoes them', async () => {
    const start = await ruleWrites();
    const modules = {
      M01: { backends: [{ backend: 'shop-blue', weight: 100 }] },
      M02: {
        backends: [
          { backend: 'shop-blue', weight: 50 },
          { backend: 'shop-green', weight: 50 },
        ],
      },
    };
    const res = await adminCall(router.adminUrl, 'PUT', '/rules', { modules });
    expect(res).toEqual({ status: 200, json: { modules } });
    expect(await ruleWrites()).toBe(start + 1);
    const read = await driver.readRules(['M01', 'M02', 'M03']);
    expect([read.M01?.backends, read.M02?.backends, read.M03?.backends]).toEqual([
      modules.M01.backends,
      modules.M02.backends,
      [{ backend: 'shop-green', weight: 100 }],
    ]);
  });

  it.each([
    {
      what: 'an unknown backend in one module',
      modules: {
        M01: { backends: [{ backend: 'shop-blue', weight: 100 }] },
        M02: { backends: [{ backend: 'x', weight: 100 }] },
      },
      message: 'modules.M02.backends[0].backend: unknown backend "x"',
    },
    {
      what: 'a weight that is not a number',
      modules: { M01: { backends: [{ backend: 'shop-blue', weight: 'all' }] } },
      message: 'modules.M01.backends[0].weight: Invalid input: expected number, received string',
    },
    {
      what: 'a module name with a space',
      modules: {
        M01: { backends: [{ backend: 'shop-blue', weight: 100 }] },
        'a b': { backends: [{ backend: 'shop-blue', weight: 100 }] },
      },
      message: /^modules\.a b: module name must be 1-100 /,
    },
    {
      what: 'a rule without a backend above weight 0',
      modules: { M03: { backends: [{ backend: 'shop-blue', weight: 0 }] } },
      message: 'modules.M03.backends: at least one backend needs a weight above 0',
    },
    { what: 'modules that is a list', modules: ['M01'], message: /^modules: expected an object/ },
  ])('refuses the whole batch for $what (400 naming the field); nothing changes, nothing is written', async (c) => {
    const before = { rules: await driver.readRules(MODULES), writes: await ruleWrites() };
    const file = fs.readFileSync(stateFile, 'utf8');

    const res = await adminCall(router.adminUrl, 'PUT', '/rules', { modules: c.modules });

    expect(res.status).toBe(400);
    if (typeof c.message === 'string') expect(res.json.message).toBe(c.message);
    else expect(res.json.message).toMatch(c.message);
    expect({ rules: await driver.readRules(MODULES), writes: await ruleWrites() }).toEqual(before);
    expect(fs.readFileSync(stateFile, 'utf8')).toBe(file);
  });

  it('the driver turns the refusal into RouterRequestRejectedError naming the field', async () => {
    const before = await driver.readRules(MODULES);
    await expect(driver.batch?.setModuleRules(MODULES, [{ backend: 'shop-gone', weight: 100 }])).rejects.toMatchObject({
      name: 'RouterRequestRejectedError',
      message: expect.stringContaining(
        'PUT /rules answered 400: modules.M01.backends[0].backend: unknown backend "shop-gone"',
      ) as unknown,
    });
    expect(await driver.readRules(MODULES)).toEqual(before);
  });

  it('an empty batch changes nothing and writes nothing', async () => {
    const before = { rules: await driver.readRules(MODULES), writes: await ruleWrites() };
    expect(await adminCall(router.adminUrl, 'PUT', '/rules', { modules: {} })).toEqual({
      status: 200,
      json: { modules: {} },
    });
    await driver.batch?.setModuleRules([], [{ backend: 'shop-blue', weight: 100 }]);
    expect({ rules: await driver.readRules(MODULES), writes: await ruleWrites() }).toEqual(before);
  });
});

describe('a router without PUT /rules (an older process)', () => {
  let old: http.Server;
  let oldUrl: string;
  const calls: string[] = [];

  beforeAll(async () => {
    // In front of the real admin API: PUT /rules answers the 404 of a router that has no such route.
    old = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        calls.push(`${req.method} ${req.url}`);
        if (req.method === 'PUT' && req.url === '/rules') {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'Not Found', message: 'no admin route PUT /rules' }));
          return;
        }
        const body = chunks.length ? Buffer.concat(chunks) : undefined;
        const headers = body ? { 'content-type': 'application/json' } : undefined;
        fetch(`${router.adminUrl}${req.url ?? '/'}`, { method: req.method, headers, body })
          .then(async (answer) => {
            res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain' });
            res.end(Buffer.from(await answer.arrayBuffer()));
          })
          .catch(() => res.destroy());
      });
    });
    await new Promise<void>((resolve) => old.listen(0, '127.0.0.1', resolve));
    oldUrl = `http://127.0.0.1:${(old.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((resolve) => old.close(() => resolve())));

  it('the driver falls back to one PUT /rules/:module per module, and the rules read back', async () => {
    const oldDriver = newLocalRouterDriver({ adminUrl: oldUrl, publicUrl: router.publicUrl });
    const start = await ruleWrites();
    calls.length = 0;

    await oldDriver.batch?.setModuleRules(MODULES, [{ backend: 'shop-blue', weight: 100 }]);

    expect(calls).toEqual(['PUT /rules', ...MODULES.map((m) => `PUT /rules/${m}`)]);
    expect(await ruleWrites()).toBe(start + MODULES.length);
    expect(await served(MODULES)).toEqual({ rules: every(MODULES, 'shop-blue'), answers: every(MODULES, 'blue') });
  });
});
