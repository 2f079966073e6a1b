/**
 * fast-check arbitraries shared by the property tests of Cutover's input edges: hostile values (wrong types, odd
 * numbers, control characters, path tricks, prototype keys, huge texts), valid specs to mutate, and the mutations.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { blueGreenSpec, rollingSpec } from '../support/specs';

/** Cases per property: the issue asks for at least 10,000 per edge. */
export const RUNS = Number(process.env.PROPERTY_RUNS ?? 10_000);

/** Strings an attacker or a typo produces. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\0',
    'a\0b',
    '\n',
    '\r\n',
    '\u001b[31m',
    '..',
    '../..',
    '/..',
    '/etc/passwd',
    '//',
    '\\',
    '%00',
    '%2e%2e',
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'default',
    'null',
    'true',
    '1e309',
    '-1',
    '0x10',
    '∞',
    '\ud800',
    '\u202e',
    'é',
    '😀',
    '${HOME}',
    '$(rm -rf /)',
    '`id`',
    "'; DROP TABLE x; --",
    '<script>',
    'javascript:alert(1)',
    'file:///etc/passwd',
    'http://',
    'http://127.0.0.1:1',
    '30s',
    '25%',
    '{module}',
  ),
  fc.integer({ min: 1, max: 5 }).map((k) => 'x'.repeat(10 ** k)),
);

/** Numbers at the edges. */
export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(
    0,
    -0,
    -1,
    1,
    0.5,
    NaN,
    Infinity,
    -Infinity,
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 2,
    Number.MIN_VALUE,
    1e308,
    65_536,
    10_001,
    2 ** 31,
  ),
);

/** Any value a JSON or YAML document (or a careless caller) can hold. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  hostileNumber,
  fc.constantFrom(null, undefined, true, false, [], {}, [[]], { __proto__: null }),
  fc.anything({ maxDepth: 3, maxKeys: 5 }),
  fc.array(hostileString, { maxLength: 5 }),
  fc.dictionary(hostileString, hostileString, { maxKeys: 5 }),
);

/** Valid specs as people write them: the examples, the test builders. */
export function exampleSpecs(): unknown[] {
  const dir = path.join(__dirname, '..', '..', 'examples', 'specs');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  return [
    ...files.map((f) => parseYaml(fs.readFileSync(path.join(dir, f), 'utf8')) as unknown),
    blueGreenSpec(),
    rollingSpec({
      strategy: { maxSurge: 1, maxUnavailable: 0, steps: [{ afterBatch: 1, pause: { approval: true } }] },
    }),
  ];
}

const dnsLabel = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/);
const moduleName = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/);
const durationText = fc.oneof(
  fc.integer({ min: 0, max: 1_000_000 }),
  fc.tuple(fc.integer({ min: 0, max: 999 }), fc.constantFrom('ms', 's', 'm', 'h')).map(([n, u]) => `${n}${u}`),
);

/** Specs built from valid parts: most are valid; a few cross-field rules (previewReplicas > replicas...) are not. */
export const generatedSpec: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    application: dnsLabel,
    environment: dnsLabel,
    version: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/),
    modules: fc.uniqueArray(moduleName, { minLength: 1, maxLength: 12 }),
    replicas: fc.integer({ min: 1, max: 10_000 }),
    platform: fc.oneof(
      fc.record(
        {
          kind: fc.constant('local'),
          stateDir: fc.constant('/tmp/cutover-state'),
          env: fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,10}$/), fc.string({ maxLength: 20 }), {
            maxKeys: 5,
          }),
        },
        { requiredKeys: ['kind'] },
      ),
      fc.record({
        kind: fc.constant('kubernetes'),
        namespace: dnsLabel,
        image: fc.constant('registry.example.com/shop:{version}'),
        port: fc.integer({ min: 1, max: 65_535 }),
      }),
    ),
    router: fc.oneof(
      fc.constant({ kind: 'local', adminUrl: 'http://127.0.0.1:9901', publicUrl: 'http://127.0.0.1:9900' }),
      fc.constant({
        kind: 'nginx',
        confDir: '/etc/nginx/cutover',
        nginxConf: '/etc/nginx/nginx.conf',
        pidFile: '/run/nginx.pid',
        publicUrl: 'http://127.0.0.1:8080',
      }),
    ),
    strategy: fc.oneof(
      fc.record(
        {
          type: fc.constant('blue-green'),
          previewReplicas: fc.integer({ min: 1, max: 20 }),
          rollbackWindow: durationText,
          switchMode: fc.constantFrom('all-at-once', 'module-by-module'),
          approval: fc.record({ mode: fc.constantFrom('required', 'automatic'), timeout: durationText }),
        },
        { requiredKeys: ['type'] },
      ),
      fc.record(
        {
          type: fc.constant('rolling'),
          maxSurge: fc.oneof(
            fc.integer({ min: 0, max: 20 }),
            fc.integer({ min: 0, max: 100 }).map((n) => `${n}%`),
          ),
          maxUnavailable: fc.oneof(
            fc.integer({ min: 0, max: 20 }),
            fc.integer({ min: 0, max: 100 }).map((n) => `${n}%`),
          ),
          drainTimeout: durationText,
          steps: fc.array(
            fc.record({
              afterBatch: fc.integer({ min: 1, max: 50 }),
              pause: fc.oneof(
                fc.constant({ approval: true }),
                durationText.map((d) => ({ duration: d })),
              ),
            }),
            { maxLength: 4 },
          ),
        },
        { requiredKeys: ['type'] },
      ),
    ),
    health: fc.record(
      {
        path: fc.constant('/{module}/_ping.html'),
        interval: durationText,
        successThreshold: fc.integer({ min: 1, max: 5 }),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ['application', 'version', 'modules', 'platform', 'router', 'strategy'] },
);

export type Path = (string | number)[];

/** Every path into a JSON-like value (the root is []). */
export function pathsOf(value: unknown, prefix: Path = []): Path[] {
  const out: Path[] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...prefix, i])));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...prefix, k]));
  }
  return out;
}

export type Mutation =
  | { op: 'replace'; at: Path; value: unknown }
  | { op: 'delete'; at: Path }
  | { op: 'add-key'; at: Path; key: string; value: unknown }
  | { op: 'grow'; at: Path; times: number };

/** A mutation of a value at one of its paths. */
export function mutationOf(value: unknown): fc.Arbitrary<Mutation> {
  const paths = pathsOf(value);
  const at = fc.constantFrom(...paths);
  return fc.oneof(
    fc.record({ op: fc.constant('replace' as const), at, value: hostileValue }),
    fc.record({ op: fc.constant('delete' as const), at: fc.constantFrom(...paths.filter((p) => p.length > 0)) }),
    fc.record({ op: fc.constant('add-key' as const), at, key: hostileString, value: hostileValue }),
    fc.record({ op: fc.constant('grow' as const), at, times: fc.integer({ min: 2, max: 20_000 }) }),
  );
}

/** Applies a mutation to a deep copy. "grow" repeats a string or an array's elements (oversized input). */
export function applyMutation(value: unknown, m: Mutation): unknown {
  const root = { v: structuredClone(value) } as Record<string, unknown>;
  const full: Path = ['v', ...m.at];
  const parent = full
    .slice(0, -1)
    .reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], root) as Record<string | number, unknown>;
  const key = full[full.length - 1] as string | number;
  switch (m.op) {
    case 'replace':
      parent[key] = m.value;
      break;
    case 'delete':
      if (Array.isArray(parent) && typeof key === 'number') parent.splice(key, 1);
      else delete parent[key];
      break;
    case 'add-key': {
      const target = parent[key];
      if (target && typeof target === 'object' && !Array.isArray(target)) {
        Object.defineProperty(target, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
      } else parent[key] = m.value;
      break;
    }
    case 'grow': {
      const target = parent[key];
      if (typeof target === 'string')
        parent[key] = target.repeat(Math.min(m.times, Math.ceil(300_000 / (target.length || 1))));
      else if (Array.isArray(target) && target.length) {
        parent[key] = Array.from({ length: Math.min(m.times, 20_000) }, (_, i) => {
          const item = target[i % target.length];
          return typeof item === 'string' ? `${item}${i}` : item;
        });
      }
      break;
    }
  }
  return root.v;
}
