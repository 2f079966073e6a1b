/**
 * The local router's admin API, property-based, in process (Fastify's inject) over a real rule table persisted in
 * a temp file: fuzzed methods, names and bodies (wrong shapes, hostile values, not JSON, other content types, too
 * many targets). A refusal is a 4xx whose message names the field, and leaves the rules and their file unchanged;
 * an accepted change leaves them consistent (every rule and preview on a backend that exists) and on disk.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { createAdminServer } from '../../activities/drivers/local/router-admin';
import { ProxyStats } from '../../activities/drivers/local/router-proxy';
import { MAX_TARGETS, RuleTable } from '../../activities/drivers/local/router-state';
import { hostileString, hostileValue, RUNS } from './arbitraries';

let dir: string;
let file: string;
let table: RuleTable;
let app: FastifyInstance;

beforeAll(async () => {
  // On tmpfs when there is one: each accepted change is fsynced, and the property makes thousands.
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  dir = fs.mkdtempSync(path.join(base, 'cutover-admin-property-'));
  file = path.join(dir, 'rules.json');
  table = await RuleTable.load(file);
  app = createAdminServer({ table, stats: new ProxyStats(), defaultTarget: 'http://127.0.0.1:1' });
  await app.ready();
});

afterAll(async () => {
  await app.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** encodeURIComponent, with a lone surrogate sent as raw bytes (as a careless client would). */
function encodeLoosely(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ED%A0%80';
  }
}

const names = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('shop-blue', 'shop-green', 'shop-rolling', 'Catalog', 'Cart') },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,12}$/) },
  { weight: 2, arbitrary: hostileString.map(encodeLoosely) },
  { weight: 1, arbitrary: fc.constantFrom('default', '%00', '..', '.', 'a%2Fb', 'x'.repeat(101), 'x'.repeat(2000)) },
);

const target = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 65_535 }).map((p) => `http://127.0.0.1:${p}`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'http://127.0.0.1:1/path',
      'ftp://x',
      'http://user:pw@127.0.0.1:1',
      'http://127.0.0.1:1?q',
      'HTTP://127.0.0.1:80',
      'https://[::1]:443',
      'not a url',
    ),
  },
  { weight: 1, arbitrary: hostileValue },
);

const rule = fc.record({
  backends: fc.array(fc.record({ backend: names, weight: fc.oneof(fc.integer({ min: 0, max: 100 }), hostileValue) }), {
    maxLength: 4,
  }),
});

const body = fc.oneof(
  { weight: 3, arbitrary: fc.record({ targets: fc.array(target, { maxLength: 5 }) }) },
  { weight: 3, arbitrary: rule },
  { weight: 2, arbitrary: fc.record({ backend: names }) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: MAX_TARGETS + 1, max: MAX_TARGETS + 10 })
      .map((n) => ({ targets: Array.from({ length: n }, (_, i) => `http://127.0.0.1:${(i % 60_000) + 1}`) })),
  },
  { weight: 2, arbitrary: hostileValue },
  { weight: 1, arbitrary: fc.dictionary(hostileString, hostileValue, { maxKeys: 4 }) },
);

/** PUT /rules: many modules' rules (or anything else). */
const batchBody = fc.oneof(
  { weight: 3, arbitrary: fc.record({ modules: fc.dictionary(names, rule, { maxKeys: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ modules: fc.dictionary(names, hostileValue, { maxKeys: 3 }) }) },
  { weight: 1, arbitrary: body },
);

const routes = fc.constantFrom(
  ['PUT', '/backends/:n'],
  ['GET', '/backends/:n'],
  ['DELETE', '/backends/:n'],
  ['POST', '/backends/:n/register'],
  ['POST', '/backends/:n/deregister'],
  ['PUT', '/rules/:n'],
  ['DELETE', '/rules/:n'],
  ['PUT', '/rules/:n/preview'],
  ['DELETE', '/rules/:n/preview'],
  ['PATCH', '/rules/:n'],
  ['POST', '/rules'],
  ['PUT', '/rules'],
) as fc.Arbitrary<[string, string]>;

/** How the body travels: JSON (as the driver sends it), raw text claiming to be JSON, another type, nothing. */
const encoding = fc.constantFrom('json', 'json', 'json', 'raw', 'text', 'none');

type Method = 'GET' | 'PUT' | 'POST' | 'DELETE' | 'PATCH';

/** Every rule and preview uses a backend that exists, and the file holds exactly what is served. */
function expectConsistent(): void {
  const json = table.toJson();
  for (const rule of Object.values(json.rules)) {
    for (const b of rule.backends) expect(json.backends[b.backend]).toBeDefined();
  }
  for (const backend of Object.values(json.previews)) expect(json.backends[backend]).toBeDefined();
  if (fs.existsSync(file)) expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(json);
}

describe('router admin API (property-based)', () => {
  test(`${RUNS} fuzzed requests: a 4xx names the field and changes nothing; an accepted change stays consistent`, async () => {
    const counts = { accepted: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(routes, names, body, batchBody, encoding, hostileString, async (...args) => {
        const [[method, route], name, single, batch, how, raw] = args;
        const value = route === '/rules' ? batch : single;
        const before = JSON.stringify(table.toJson());
        const writesBefore = table.writes;
        const fileBefore = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
        const url = route.replace(':n', name);
        const payload =
          how === 'json'
            ? { payload: JSON.stringify(value) ?? 'null', headers: { 'content-type': 'application/json' } }
            : how === 'raw'
              ? { payload: raw, headers: { 'content-type': 'application/json' } }
              : how === 'text'
                ? { payload: raw, headers: { 'content-type': 'text/plain' } }
                : {};
        const res = await app.inject({ method: method as Method, url, ...(method === 'GET' ? {} : payload) });
        expect(res.statusCode).toBeLessThan(500);
        const answer = res.json<{ message?: string }>();
        if (res.statusCode >= 400) {
          counts.refused++;
          expect(JSON.stringify(table.toJson())).toBe(before);
          expect(table.writes).toBe(writesBefore);
          expect(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined).toBe(fileBefore);
          expect(answer.message?.length).toBeGreaterThan(4);
          if (res.statusCode === 400) {
            // "targets[0]: ...", "backends[1].weight: ...", "body: ...", "path: ...", "name: ...", "module: ...",
            // "modules.Cart.backends[0].backend: ..."
            expect(answer.message).toMatch(/^(body|path|name|module|modules|targets|backends|backend)(\[\d+\])?[.:[ ]/);
          }
          return;
        }
        counts.accepted++;
        expectConsistent();
      }),
      { numRuns: RUNS },
    );
    process.stdout.write(`router admin: ${counts.accepted} accepted, ${counts.refused} refused\n`);
    expect(counts.accepted).toBeGreaterThan(0);
    expect(counts.refused).toBeGreaterThan(0);
  }, 300_000);
});
