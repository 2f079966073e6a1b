/**
 * Cookie stickiness in the local router (router-main --sticky), on a real router process in front of tiny
 * backends: a request without the cookie gets a weighted pick and a cookie naming the backend that answered; a
 * cookie naming a live backend of the rule at a weight above 0 is honoured; any other cookie gets a fresh pick and a
 * new cookie. Without --sticky the cookie means nothing.
 */
import * as path from 'node:path';
import { newLocalRouterDriver } from '../../../activities/drivers/local';
import type { Router } from '../../../activities/ports';
import type { RunningRouter } from './local-support';
import { startRouterProcess, tally, tempDir } from './local-support';
import { startNamedServer } from './named-servers';
import type { NamedServer } from './named-servers';

jest.setTimeout(60_000);

const dir = tempDir('router-sticky');
let platformServer: NamedServer;
let a: NamedServer;
let b: NamedServer;
let c: NamedServer;
let sticky: RunningRouter;
let plain: RunningRouter;
let driver: Router;
let plainDriver: Router;

const cookieFor = (module: string, backend: string) =>
  `cutover-backend=${backend}; Path=/${module}/; HttpOnly; SameSite=Lax`;

interface Answer {
  body: string;
  /** Every Set-Cookie of the answer. */
  cookies: string[];
}

async function send(routerUrl: string, urlPath: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${routerUrl}${urlPath}`, { headers, signal: AbortSignal.timeout(10_000) });
  return { body: await response.text(), cookies: response.headers.getSetCookie() };
}

async function many(n: number, urlPath: string, headers?: Record<string, string>, url = sticky.publicUrl) {
  return Promise.all(Array.from({ length: n }, () => send(url, urlPath, headers)));
}

/** Set-Cookie headers of the router's own cookie only. */
const routerCookies = (answer: Answer) => answer.cookies.filter((cookie) => cookie.startsWith('cutover-backend='));

async function setUp(router: Router): Promise<void> {
  await router.ensureBackend('a', [a.url]);
  await router.ensureBackend('b', [b.url]);
  await router.ensureBackend('c', [c.url]);
}

beforeAll(async () => {
  [platformServer, a, b, c] = await Promise.all([
    startNamedServer('platform'),
    startNamedServer('a', { headers: { 'set-cookie': 'app-session=1; Path=/' } }),
    startNamedServer('b'),
    startNamedServer('c'),
  ]);
  const start = (name: string, args: string[]) =>
    startRouterProcess({
      stateFile: path.join(dir, `rules-${name}.json`),
      defaultTarget: platformServer.url,
      logFile: path.join(dir, `router-${name}.log`),
      args,
    });
  [sticky, plain] = await Promise.all([start('sticky', ['--sticky']), start('plain', [])]);
  driver = newLocalRouterDriver({ adminUrl: sticky.adminUrl, publicUrl: sticky.publicUrl });
  plainDriver = newLocalRouterDriver({ adminUrl: plain.adminUrl, publicUrl: plain.publicUrl });
  await Promise.all([setUp(driver), setUp(plainDriver)]);
});

afterAll(async () => {
  await Promise.all([sticky?.stop(), plain?.stop()]);
  await Promise.all([platformServer, a, b, c].map((server) => server?.stop()));
});

describe('with --sticky', () => {
  test('a request without the cookie gets a weighted pick and a cookie naming that backend, scoped to the module', async () => {
    await driver.setModuleRule('Shop', [
      { backend: 'a', weight: 50 },
      { backend: 'b', weight: 50 },
    ]);
    const answers = await many(100, '/Shop/page');
    for (const answer of answers) expect(routerCookies(answer)).toEqual([cookieFor('Shop', answer.body)]);
    const split = tally(answers.map((answer) => answer.body));
    // 100 draws at p = 0.5: both backends answer (the chance that one never does is 2^-99).
    expect([...split.keys()].sort()).toEqual(['a', 'b']);
  });

  test('a cookie naming a live backend of the rule sends every request there, and sets no new cookie', async () => {
    await driver.setModuleRule('Shop', [
      { backend: 'a', weight: 90 },
      { backend: 'b', weight: 10 },
    ]);
    const answers = [
      ...(await many(40, '/Shop/page', { cookie: 'theme=dark; cutover-backend=b; lang=en' })),
      ...(await many(10, '/Shop/page', { cookie: 'cutover-backend="b"' })), // a quoted value (RFC 6265)
    ];
    expect(tally(answers.map((answer) => answer.body))).toEqual(new Map([['b', 50]]));
    expect(answers.flatMap(routerCookies)).toEqual([]);
  });

  test('a cookie naming a backend at weight 0 gets a fresh pick and a new cookie', async () => {
    await driver.setModuleRule('Shop', [
      { backend: 'a', weight: 100 },
      { backend: 'b', weight: 0 },
    ]);
    const answers = await many(20, '/Shop/page', { cookie: 'cutover-backend=b' });
    expect(tally(answers.map((answer) => answer.body))).toEqual(new Map([['a', 20]]));
    for (const answer of answers) expect(routerCookies(answer)).toEqual([cookieFor('Shop', 'a')]);
  });

  test('a cookie naming a backend gone from the rule, unknown, or without targets, or another cookie, gets a fresh pick', async () => {
    await driver.setModuleRule('Shop', [
      { backend: 'a', weight: 50 },
      { backend: 'b', weight: 50 },
    ]);
    // "c" exists but is not in the rule: a client cannot pick its backend by forging the cookie.
    for (const cookie of ['cutover-backend=c', 'cutover-backend=no-such-backend', 'x-cutover-backend=b']) {
      const answers = await many(20, '/Shop/page', { cookie });
      for (const answer of answers) {
        expect(['a', 'b']).toContain(answer.body);
        expect(routerCookies(answer)).toEqual([cookieFor('Shop', answer.body)]);
      }
    }
    await driver.deregisterTargets('b', [b.url]);
    try {
      const answers = await many(20, '/Shop/page', { cookie: 'cutover-backend=b' });
      expect(tally(answers.map((answer) => answer.body))).toEqual(new Map([['a', 20]]));
      for (const answer of answers) expect(routerCookies(answer)).toEqual([cookieFor('Shop', 'a')]);
    } finally {
      await driver.registerTargets('b', [b.url]);
    }
  });

  test("the backend's own Set-Cookie is kept beside the router's", async () => {
    await driver.setModuleRule('Shop', [
      { backend: 'a', weight: 100 },
      { backend: 'b', weight: 0 },
    ]);
    const answer = await send(sticky.publicUrl, '/Shop/page');
    expect(answer).toEqual({ body: 'a', cookies: ['app-session=1; Path=/', cookieFor('Shop', 'a')] });
  });

  test('a rule with a single backend, the default rule and preview requests set no cookie', async () => {
    await driver.setModuleRule('Solo', [{ backend: 'b', weight: 100 }]);
    await driver.preview?.setRule('Shop', 'c');
    const answers = [
      ...(await many(5, '/Solo/page')),
      ...(await many(5, '/Unruled/page')),
      ...(await many(5, '/Shop/page', { 'x-cutover-preview': '1', cookie: 'cutover-backend=a' })),
    ];
    expect(answers.map((answer) => answer.body)).toEqual([
      ...Array(5).fill('b'),
      ...Array(5).fill('platform'),
      ...Array(5).fill('c'),
    ]);
    expect(answers.flatMap(routerCookies)).toEqual([]);
  });
});

test('without --sticky the cookie is ignored and none is set', async () => {
  await plainDriver.setModuleRule('Shop', [
    { backend: 'a', weight: 50 },
    { backend: 'b', weight: 50 },
  ]);
  const answers = await many(100, '/Shop/page', { cookie: 'cutover-backend=b' }, plain.publicUrl);
  expect([...tally(answers.map((answer) => answer.body)).keys()].sort()).toEqual(['a', 'b']);
  expect(answers.flatMap(routerCookies)).toEqual([]);
});
