/**
 * The deployment spec edge, property-based: validateSpec (every edge's schema) on generated specs, on valid specs
 * with one hostile mutation, and the CLI's spec-file reader on YAML and JSON texts, generated and mutated. It never
 * throws, every rejection names a field related to what was wrong and says what was expected, and every accepted
 * spec is small and survives JSON (what Temporal stores).
 */
import fc from 'fast-check';
import { stringify as yamlStringify } from 'yaml';
import { parseSpecText } from '../../client/cli';
import { SPEC_LIMITS, validateSpec } from '../../workflows/spec';
import type { SpecIssue } from '../../workflows/spec';
import { applyMutation, exampleSpecs, generatedSpec, hostileString, mutationOf, RUNS } from './arbitraries';
import type { Path } from './arbitraries';

/** A field path of an issue as segments ("(root)" is the empty path). */
const segments = (field: string): string[] => (field === '(root)' ? [] : field.split('.'));

/** Each issue names a field and says what was expected, briefly. */
function expectClear(issues: SpecIssue[]): void {
  expect(issues.length).toBeGreaterThan(0);
  expect(issues.length).toBeLessThanOrEqual(SPEC_LIMITS.issues + 1);
  for (const { field, message } of issues) {
    expect(field.length).toBeGreaterThan(0);
    expect(message).not.toMatch(/^Invalid input$/);
    expect(message.length).toBeGreaterThanOrEqual(8);
    expect(message.length).toBeLessThanOrEqual(400);
    // eslint-disable-next-line no-control-regex
    expect(`${field} ${message}`).not.toMatch(/[\u0000-\u001f\u007f]/);
    if (field === '(root)') expect(message).toMatch(/expected object|Unrecognized key|more problem/);
  }
}

/** Plain JSON data: finite numbers, strings, booleans, null, arrays and plain objects (undefined is dropped). */
function jsonSafe(value: unknown): boolean {
  if (value === null || value === undefined || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(jsonSafe);
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as unknown;
    return (proto === Object.prototype || proto === null) && Object.values(value).every(jsonSafe);
  }
  return false;
}

/** An accepted spec is what a workflow may take as input: JSON-safe and within the size limit. */
function expectStorable(spec: unknown): void {
  expect(jsonSafe(spec)).toBe(true);
  const json = JSON.stringify(spec);
  expect(Buffer.byteLength(json)).toBeLessThanOrEqual(SPEC_LIMITS.specBytes);
  // Validating the stored (JSON) spec again gives the same spec: the client starts runs with it, and a run started
  // from the UI with it is validated in the workflow.
  const again = validateSpec(JSON.parse(json));
  expect(again.ok && JSON.stringify(again.spec)).toBe(json);
}

/**
 * Whether an issue at `field` is about a change at `at`: the same field, an ancestor (the object that now has an
 * unknown key, the list now too long) or a descendant, a sibling inside the strategy (maxSurge and maxUnavailable
 * are checked together), replicas and strategy.previewReplicas or a canary's setCanaryScale.replicas, the analysis
 * section and the canary steps that name its templates, two fields of one analysis metric (checked together), or
 * platform.namespace and a kubernetes-service router's namespace (which must be the platform's: the issue is at
 * router.namespace and names the platform's).
 */
function related(at: Path, field: string): boolean {
  const a = at.map(String);
  const b = segments(field);
  const n = Math.min(a.length, b.length);
  if (a.slice(0, n).join('.') === b.slice(0, n).join('.')) return true;
  if (a[0] === 'strategy' && b[0] === 'strategy') return true;
  const sections = new Set([a[0], b[0]]);
  if (sections.has('analysis') && sections.has('strategy')) return true;
  if (a[0] === 'analysis' && b[0] === 'analysis' && a.slice(0, 5).join('.') === b.slice(0, 5).join('.')) return true;
  const pair = new Set([a.join('.'), b.join('.')]);
  const scale = [...pair].some((p) => /^strategy\.steps\.\d+\.setCanaryScale\.replicas$/.test(p));
  if (pair.has('platform.namespace') && pair.has('router.namespace')) return true;
  return pair.has('replicas') && (pair.has('strategy.previewReplicas') || scale);
}

const validBases = fc.oneof(
  fc.constantFrom(...exampleSpecs()),
  generatedSpec.filter((s) => validateSpec(s).ok),
);

describe('deployment spec (property-based)', () => {
  test(`generated specs (${RUNS} cases): never throws; accepted ones are storable, rejected ones name the field`, () => {
    fc.assert(
      fc.property(generatedSpec, (raw) => {
        const result = validateSpec(raw);
        if (result.ok) expectStorable(result.spec);
        else expectClear(result.issues);
      }),
      { numRuns: RUNS },
    );
  });

  test(`valid specs with one hostile mutation (${RUNS} cases): a rejection names the mutated field`, () => {
    const mutated = validBases.chain((base) => mutationOf(base).map((m) => ({ base, m })));
    fc.assert(
      fc.property(mutated, ({ base, m }) => {
        const result = validateSpec(applyMutation(base, m));
        if (result.ok) {
          expectStorable(result.spec);
          return;
        }
        expectClear(result.issues);
        expect(result.issues.some((i) => related(m.at, i.field))).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  /** Text-level damage: a character inserted, deleted or replaced, a cut, a line duplicated. */
  const damaged = (text: string) =>
    fc.oneof(
      fc.tuple(fc.nat(text.length), hostileString).map(([i, s]) => text.slice(0, i) + s + text.slice(i)),
      fc.tuple(fc.nat(text.length), fc.nat(20)).map(([i, n]) => text.slice(0, i) + text.slice(i + n)),
      fc.nat(text.length).map((i) => text.slice(0, i)),
      fc
        .tuple(fc.nat(text.length), fc.constantFrom(':', '-', '[', '{', '&a', '*a', '!!binary', '? ', '\t', '"', '#'))
        .map(([i, s]) => text.slice(0, i) + s + text.slice(i + 1)),
      fc.nat(200).map((n) => {
        const lines = text.split('\n');
        const i = n % lines.length;
        return [...lines.slice(0, i + 1), ...lines.slice(i)].join('\n');
      }),
    );

  /** YAML that attacks the parser rather than the schema. */
  const hostileYaml = fc.oneof(
    fc.constantFrom(
      'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n',
      '%YAML 1.1\n---\napplication: !!binary aGVsbG8=\nmodules: !!set {a, b}\nreplicas: !!timestamp 2001-12-14\n',
      'application: !!js/function "function(){}"\n',
      'application: shop\napplication: shop\n',
      '<<: {application: shop}\n',
      '---\napplication: a\n---\napplication: b\n',
      `${'['.repeat(5000)}${']'.repeat(5000)}`,
      `${'- '.repeat(2000)}x`,
      '{"application": "shop", "__proto__": {"polluted": true}}',
      '? [a, b]\n: c\n',
      'replicas: .inf\n',
      'replicas: 0x10\n',
      'version: 1.10\n',
      '\ufeffapplication: shop\n',
      '',
      '~',
    ),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc
      .array(
        fc.constantFrom('a:', ' b', '- ', '[', ']', '{', '}', '&x ', '*x', '!!str ', '|', '>', '\n', '  ', '"', "'"),
        {
          maxLength: 40,
        },
      )
      .map((parts) => parts.join('')),
  );

  const texts = fc.oneof(
    validBases.chain((spec) => damaged(yamlStringify(spec))),
    validBases.chain((spec) => damaged(JSON.stringify(spec, null, 2))),
    hostileYaml,
  );

  test(`spec file texts, YAML and JSON, damaged or hostile (${RUNS} cases): refused naming the file, or validated`, () => {
    fc.assert(
      fc.property(texts, (text) => {
        let raw: unknown;
        try {
          raw = parseSpecText(text, 'spec.yaml');
        } catch (err) {
          expect((err as { exitCode?: number }).exitCode).toBe(2);
          expect((err as Error).message).toMatch(/^spec\.yaml is (not valid YAML|\d)/);
          return;
        }
        const result = validateSpec(raw);
        if (result.ok) expectStorable(result.spec);
        else expectClear(result.issues);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('oversized specs', () => {
  test('a 10 MB spec text is refused before it is parsed, naming the file and the limit', () => {
    const text = `application: shop\nmodules:\n${'  - Module\n'.repeat(1_000_000)}`;
    expect(Buffer.byteLength(text)).toBeGreaterThan(10_000_000);
    expect(() => parseSpecText(text, 'big.yaml')).toThrow(
      /^big\.yaml is 10\.\d MiB; a spec file may be at most 1\.0 MiB/,
    );
  });

  test('100,000 modules are refused with one issue naming modules and the limit', () => {
    const modules = Array.from({ length: 100_000 }, (_, i) => `Module${i}`);
    const result = validateSpec({ ...(exampleSpecs()[0] as object), modules });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.issues).toEqual([{ field: 'modules', message: expect.stringMatching(/at most 250 modules/) }]);
    }
  });

  test('100,000 bad module names report the first 20 problems and count the rest', () => {
    const modules = Array.from({ length: 100_000 }, (_, i) => `../${i}`);
    const result = validateSpec({ ...(exampleSpecs()[0] as object), modules: modules.slice(0, 250) });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.issues).toHaveLength(21);
      expect(result.issues[20]).toEqual({
        field: '(root)',
        message: 'and 230 more problem(s) (the first 20 are shown)',
      });
    }
  });

  test('a 10,000-replica rolling update is accepted; 10,001 replicas are refused naming replicas', () => {
    const base = exampleSpecs().find(
      (s) => (s as { strategy: { type: string } }).strategy.type === 'rolling',
    ) as object;
    expect(validateSpec({ ...base, replicas: 10_000 }).ok).toBe(true);
    const over = validateSpec({ ...base, replicas: 10_001 });
    expect(over.ok || over.issues).toEqual([{ field: 'replicas', message: 'must be at most 10000' }]);
  });

  test('a megabyte-long unknown key is named, cut short, without control characters', () => {
    const key = `\u001b[2J${'k'.repeat(1_000_000)}`;
    const result = validateSpec({ ...(exampleSpecs()[0] as object), [key]: 1 });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.issues).toHaveLength(1);
      expect(result.issues[0]?.message).toMatch(/^Unrecognized key: "\\u001b\[2Jkkk.*… \(1000\d+ characters\)$/);
    }
  });
});
