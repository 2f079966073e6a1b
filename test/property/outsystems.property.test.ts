/**
 * The OutSystems hook edge, property-based: the Base64 parameter decoder, path confinement, and the hook server
 * itself under fuzzed LifeTime calls (in process, through Fastify's inject, with a spy in place of the Temporal
 * client). A malformed call is refused naming the parameter; nothing starts unless every check passed; whatever
 * the call, no file appears outside the result root, and what does start is small and confined.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import type { CutoverClient } from '../../client/client';
import { decodeBase64, HookParamError, parseHookRequest, PROTOCOL_PARAMETERS } from '../../client/outsystems/params';
import { confinePath, isInside, PathRejectedError, realRoots } from '../../shared/outsystems/paths';
import { buildHookServer, hookPath } from '../../client/outsystems/server';
import { HOOK_STAGE_NAMES } from '../../workflows/outsystems/types';
import type { HookOperationInput, HookStage } from '../../workflows/outsystems/types';
import { SPEC_LIMITS } from '../../workflows/spec';
import { PAYLOAD_WARN_BYTES } from '../support/payloads';
import { HOOK_TOKEN, hookConfig, makeHookDirs } from '../support/hooks';
import type { HookDirs } from '../support/hooks';
import { hostileString, RUNS } from './arbitraries';

const KEY = '5d1c0a6e-7f2b-4c3d-9e8f-0a1b2c3d4e5f';
const ISSUE_PARAMETERS = new Set<string>([...PROTOCOL_PARAMETERS, '(query)']);

let dirs: HookDirs;
/** Places a hook path may name: good ones, outside ones, tricks. */
let pathPool: string[];

beforeAll(() => {
  dirs = makeHookDirs('property');
  fs.symlinkSync(dirs.outside, path.join(dirs.base, 'deploy', 'link-out'));
  fs.symlinkSync(dirs.result, path.join(dirs.outside, 'link-in'));
  fs.writeFileSync(path.join(dirs.base, 'deploy', 'file.txt'), 'not a directory');
  const d = path.join(dirs.base, 'deploy');
  pathPool = [
    dirs.target,
    dirs.result,
    dirs.config,
    d,
    dirs.outside,
    dirs.builds,
    dirs.base,
    path.join(d, 'link-out'),
    path.join(dirs.outside, 'link-in'),
    path.join(d, 'file.txt'),
    path.join(d, 'missing'),
    `${dirs.result}/../result`,
    `${dirs.result}/./`,
    `${dirs.result}//`,
    `${d}-evil`,
    `${dirs.result}\0`,
    'deploy/result',
    './result',
    '',
    '/',
    '/etc',
    '/proc/self/cwd',
    `${dirs.result}/${'x'.repeat(300)}`,
    'C:\\deploy\\result',
    '\\\\server\\share',
  ];
});

afterAll(() => fs.rmSync(dirs.base, { recursive: true, force: true }));

/** Every file and directory under `dir` (symlinks not followed). */
function tree(dir: string): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(dir)) {
    const full = path.join(dir, name);
    out.push(full);
    if (fs.lstatSync(full).isDirectory()) out.push(...tree(full));
  }
  return out.sort();
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** One parameter as LifeTime might send it, or not: absent, Base64 of a good or hostile value, raw junk, twice. */
function param(good: fc.Arbitrary<string>): fc.Arbitrary<string | string[] | undefined> {
  return fc.oneof(
    { weight: 6, arbitrary: good.map(b64) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: hostileString.map(b64) },
    { weight: 1, arbitrary: hostileString },
    { weight: 1, arbitrary: fc.tuple(good, good).map(([a, b]) => [b64(a), b64(b)]) },
    {
      weight: 1,
      arbitrary: good.map((v) => b64(v).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')),
    },
  );
}

const moduleNamesJson = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .uniqueArray(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,15}$/), { maxLength: 6 })
      .map((m) => JSON.stringify(m)),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 251, max: 400 })
      .map((n) => JSON.stringify(Array.from({ length: n }, (_, i) => `M${i}`))),
  },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 4 }).map((m) => JSON.stringify(m)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '[',
      '{}',
      'null',
      '"Catalog"',
      '[["a"]]',
      '["a","a"]',
      '[1]',
      '[]',
      `${'['.repeat(3000)}`,
    ),
  },
);

const queries = () =>
  fc.record({
    Address: param(fc.constantFrom('lifetime.example.internal', 'x')),
    ApplicationName: param(fc.constantFrom('Customer Portal', 'Ünïcödé App', '---', 'a'.repeat(1001))),
    ApplicationKey: param(fc.oneof(fc.constant(KEY), fc.uuid(), fc.constantFrom('../x', 'a_b', ''))),
    OperationId: param(fc.oneof(fc.uuid(), fc.constantFrom('op/1', '..', 'a'.repeat(101)))),
    TargetPath: param(fc.constantFrom(...pathPool)),
    ResultPath: param(fc.constantFrom(...pathPool)),
    ConfigPath: param(fc.constantFrom(...pathPool)),
    ModuleNames: param(moduleNamesJson),
  });

type Query = Record<string, string | string[] | undefined>;

/** A call as LifeTime makes it for the mapped application (or an unmapped one), with at most one parameter damaged. */
const lifeTimeCall = (): fc.Arbitrary<Query> =>
  fc
    .record({
      key: fc.oneof({ weight: 4, arbitrary: fc.constant(KEY) }, { weight: 1, arbitrary: fc.uuid() }),
      op: fc.uuid(),
      modules: fc.uniqueArray(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,15}$/), { minLength: 1, maxLength: 6 }),
      damaged: fc.option(fc.constantFrom(...PROTOCOL_PARAMETERS), { nil: undefined }),
      damage: queries(),
    })
    .map(({ key, op, modules, damaged, damage }) => {
      const query: Query = {
        Address: b64('lifetime.example.internal'),
        ApplicationName: b64('Customer Portal'),
        ApplicationKey: b64(key),
        OperationId: b64(op),
        TargetPath: b64(dirs.target),
        ResultPath: b64(dirs.result),
        ConfigPath: b64(dirs.config),
        ModuleNames: b64(JSON.stringify(modules)),
      };
      if (damaged) query[damaged] = damage[damaged];
      return query;
    });

describe('hook parameters (property-based)', () => {
  test(`decodeBase64 (${RUNS} cases): round-trips UTF-8 text in both alphabets, refuses anything else naming the parameter`, () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' })),
        hostileString,
        (text, junk) => {
          const standard = Buffer.from(text, 'utf8').toString('base64');
          expect(decodeBase64('Address', standard)).toBe(text);
          expect(decodeBase64('Address', standard.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_'))).toBe(
            text,
          );
          try {
            const decoded = decodeBase64('ResultPath', junk);
            expect(Buffer.from(decoded, 'utf8').toString('base64').replace(/=+$/, '')).toBe(
              junk.replace(/ /g, '+').replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, ''),
            );
          } catch (err) {
            expect(err).toBeInstanceOf(HookParamError);
            expect((err as HookParamError).issues).toEqual([{ parameter: 'ResultPath', message: expect.any(String) }]);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  test(`parseHookRequest (${RUNS} cases): a call is an operation, a connection test, or refused naming each parameter`, () => {
    const stage = fc.constantFrom(...HOOK_STAGE_NAMES);
    fc.assert(
      fc.property(stage, fc.oneof(lifeTimeCall(), queries()), (s, query) => {
        try {
          const parsed = parseHookRequest(s, query);
          if (parsed.kind === 'connection-test') {
            expect(query.Address).toBeUndefined();
            return;
          }
          expect(parsed.call.applicationKey).toMatch(/^[A-Za-z0-9][A-Za-z0-9-]{0,99}$/);
          expect(parsed.call.operationId).toMatch(/^[A-Za-z0-9][A-Za-z0-9-]{0,99}$/);
          expect(parsed.call.modules.length).toBeLessThanOrEqual(SPEC_LIMITS.modules);
          expect(new Set(parsed.call.modules).size).toBe(parsed.call.modules.length);
        } catch (err) {
          expect(err).toBeInstanceOf(HookParamError);
          const { issues } = err as HookParamError;
          expect(issues.length).toBeGreaterThan(0);
          for (const issue of issues) {
            expect(ISSUE_PARAMETERS.has(issue.parameter)).toBe(true);
            expect(issue.message.length).toBeGreaterThan(4);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  test(`confinePath (${RUNS} cases): a path is refused naming the parameter, or it is really inside a root`, async () => {
    const roots = await realRoots([path.join(dirs.base, 'deploy')], 'result');
    const segment = fc.constantFrom(
      '..',
      '.',
      '',
      'result',
      'target',
      'link-out',
      'link-in',
      'file.txt',
      'x',
      '\0',
      ' ',
    );
    const raw = fc.oneof(
      fc.constantFrom(...pathPool),
      fc.tuple(fc.constantFrom(...pathPool), fc.array(segment, { maxLength: 4 })).map(([p, s]) => [p, ...s].join('/')),
      hostileString,
    );
    await fc.assert(
      fc.asyncProperty(raw, fc.constantFrom('directory' as const, 'file' as const), async (p, kind) => {
        try {
          const real = await confinePath('TargetPath', p, roots, kind);
          expect(fs.realpathSync(real)).toBe(real);
          expect(roots.some((root) => isInside(root, real))).toBe(true);
          expect(p.split(/[\\/]/)).not.toContain('..');
        } catch (err) {
          expect(err).toBeInstanceOf(PathRejectedError);
          expect((err as PathRejectedError).parameter).toBe('TargetPath');
          expect((err as Error).message).toMatch(/^TargetPath: /);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('hook server under fuzzed calls (property-based)', () => {
  let app: FastifyInstance;
  const started: HookOperationInput[] = [];
  const spy = {
    async startHookOperation(input: HookOperationInput) {
      started.push(input);
      return { workflowId: `hook-${input.call.operationId}`, runId: 'run', closed: false };
    },
    async hookResult() {
      throw new Error('not expected: no operation is ever closed here');
    },
  };

  beforeAll(async () => {
    const profile = {
      platform: { kind: 'local' },
      router: { kind: 'local', adminUrl: 'http://127.0.0.1:1', publicUrl: 'http://127.0.0.1:2' },
      strategy: { type: 'blue-green' },
    };
    app = await buildHookServer({
      config: hookConfig(dirs, {
        profiles: { p: profile },
        applications: [{ key: KEY, application: 'portal', profile: 'p' }],
      }),
      token: HOOK_TOKEN,
      client: spy as unknown as CutoverClient,
      log: () => undefined,
    });
  });

  afterAll(async () => {
    await app.close();
  });

  const token = fc.oneof(
    { weight: 8, arbitrary: fc.constant<string | string[] | undefined>(HOOK_TOKEN) },
    { weight: 1, arbitrary: fc.constant<string | string[] | undefined>(undefined) },
    { weight: 1, arbitrary: fc.oneof(hostileString, fc.constant<string[]>([HOOK_TOKEN, HOOK_TOKEN])) },
  );
  // "/hooks/../hooks/container-run" is the Run hook once the URL is resolved (as inject and every client do).
  const dotted = { stage: 'run' as HookStage | undefined, url: '/hooks/../hooks/container-run' };
  const route = fc.oneof(
    { weight: 1, arbitrary: fc.constant(dotted) },
    {
      weight: 9,
      arbitrary: fc.constantFrom(...HOOK_STAGE_NAMES).map((s) => ({ stage: s, url: hookPath(s) })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('/hooks/', '/hooks/container-run/', '/', '/hooks/container-RUN')
        .map((url) => ({ stage: undefined, url })),
    },
  );
  const method = fc.oneof(
    { weight: 9, arbitrary: fc.constant('GET' as const) },
    { weight: 1, arbitrary: fc.constantFrom('POST' as const, 'PUT' as const, 'DELETE' as const, 'HEAD' as const) },
  );

  test(`${RUNS} fuzzed calls: never a 5xx; a refusal names the parameter and starts nothing; no file outside the result root`, async () => {
    const outsideBefore = tree(dirs.outside);
    const configBefore = tree(dirs.config);
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(route, method, fc.oneof(lifeTimeCall(), queries()), token, async (r, m, query, t) => {
        const search = new URLSearchParams();
        for (const [k, v] of Object.entries<string | string[] | undefined>({ ...query, token: t })) {
          for (const value of v === undefined ? [] : Array.isArray(v) ? v : [v]) search.append(k, value);
        }
        const before = started.length;
        const res = await app.inject({ method: m, url: `${r.url}?${search.toString()}` });
        expect(res.statusCode).toBeLessThan(500);
        const startedNow = started.slice(before);
        if (res.statusCode === 202) {
          accepted++;
          expect(m).toBe('GET');
          expect(startedNow).toHaveLength(1);
          const input = startedNow[0] as HookOperationInput;
          expect(input.stage).toBe(r.stage);
          expect(
            isInside(dirs.result, input.paths.result) || isInside(path.join(dirs.base, 'deploy'), input.paths.result),
          ).toBe(true);
          for (const p of [input.paths.target, input.paths.config]) {
            if (p) expect(isInside(path.join(dirs.base, 'deploy'), p) || isInside(dirs.config, p)).toBe(true);
          }
          expect(Buffer.byteLength(JSON.stringify(input))).toBeLessThan(PAYLOAD_WARN_BYTES);
          return;
        }
        expect(startedNow).toEqual([]);
        if (m !== 'GET') expect(res.statusCode).toBe(404);
        if (res.statusCode >= 400) {
          refused++;
          if (m === 'HEAD') return; // no body
          const body = res.json<{ message: string; issues?: { parameter: string; message: string }[] }>();
          expect(body.message.length).toBeGreaterThan(4);
          if (res.statusCode === 400) {
            expect(body.issues?.length).toBeGreaterThan(0);
            for (const issue of body.issues ?? []) expect(ISSUE_PARAMETERS.has(issue.parameter)).toBe(true);
          }
        }
      }),
      { numRuns: RUNS },
    );
    expect(tree(dirs.outside)).toEqual(outsideBefore);
    expect(tree(dirs.config)).toEqual(configBefore);
    // Result files (an unmapped application's error) are the only files written, and only into the result root
    // (base/deploy here, which holds the target directory too).
    const written = tree(path.join(dirs.base, 'deploy')).filter((f) =>
      /\.(preparedone|deploydone|configsdone|undeploydone)$/.test(f),
    );
    for (const file of written) expect(isInside(path.join(dirs.base, 'deploy'), fs.realpathSync(file))).toBe(true);
    expect(fs.readdirSync(dirs.builds)).toEqual([]);
    process.stdout.write(`hook server: ${accepted} started, ${refused} refused, ${written.length} result files\n`);
    expect(accepted).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  }, 300_000);

  test('a call of 100 KB over real HTTP is refused by the server (431), nothing starts', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const before = started.length;
    const res = await fetch(
      `http://127.0.0.1:${port}${hookPath('run')}?token=${HOOK_TOKEN}&ModuleNames=${'A'.repeat(100_000)}`,
    );
    expect(res.status).toBe(431);
    expect(started.length).toBe(before);
  });
});
