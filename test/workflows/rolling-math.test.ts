/**
 * The rolling update's arithmetic, table-driven against Kubernetes' documented
 * rounding (intstr.GetScaledValueFromIntOrPercent, deployment util
 * ResolveFenceposts), plus the batch plan's bounds checked over every small case.
 */
import {
  applyBatch,
  batchMoments,
  configRevisionOf,
  nextBatch,
  planBatches,
  replicaIndexIn,
  resolveFenceposts,
  rollingReplicaSetName,
  scaledValue,
} from '../../workflows/rolling-math';
import { validateSpec } from '../../workflows/spec';
import { rollingSpec } from '../support/specs';

describe('resolveFenceposts (Kubernetes rounding: surge up, unavailable down, never both 0)', () => {
  test.each([
    // maxSurge, maxUnavailable, replicas -> surge, unavailable
    ['25%', '25%', 4, 1, 1], // the defaults
    ['25%', '25%', 10, 3, 2], // 2.5 -> surge 3 (up), unavailable 2 (down)
    ['25%', '25%', 3, 1, 0], // 0.75 -> 1 and 0
    ['25%', '25%', 1, 1, 0],
    ['25%', '25%', 100, 25, 25],
    ['25%', '25%', 1000, 250, 250],
    ['30%', '30%', 10, 3, 3], // the Deployment docs' example: 130% total at most, 70% available at least
    ['10%', '10%', 15, 2, 1], // 1.5
    ['0%', '1%', 2, 0, 1], // ResolveFenceposts: 2 desired, unavailable 1%, surge 0% -> both 0, unavailable becomes 1
    ['0%', '1%', 1, 0, 1], // 1 desired, unavailable 1%, surge 0%
    ['1%', '25%', 2, 1, 0], // 2 desired, unavailable 25%, surge 1%
    ['1%', '25%', 1, 1, 0], // 1 desired, unavailable 25%, surge 1%
    ['1%', '0%', 2, 1, 0], // 2 desired, unavailable 0%, surge 1%
    ['1%', '0%', 1, 1, 0], // 1 desired, unavailable 0%, surge 1%
    [0, 1, 5, 0, 1], // absolute numbers are taken as they are
    [2, 0, 5, 2, 0],
    [3, 7, 5, 3, 7], // an absolute maxUnavailable above replicas is kept here (the plan caps it)
    ['100%', '0%', 7, 7, 0],
    ['150%', '100%', 4, 6, 4],
    ['1%', '1%', 1000, 10, 10],
  ])('maxSurge %p, maxUnavailable %p of %p replicas -> surge %p, unavailable %p', (s, u, n, surge, unavailable) => {
    expect(resolveFenceposts(s, u, n)).toEqual({ surge, unavailable });
  });

  test('GetScaledValueFromIntOrPercent refuses what is neither an int nor a percentage', () => {
    expect(() => scaledValue('25', 4, true)).toThrow(/percentage/);
    expect(() => scaledValue('x%', 4, true)).toThrow(/percentage/);
    expect(() => scaledValue(-1, 4, true)).toThrow(/non-negative/);
  });
});

describe('the spec refuses what Kubernetes refuses', () => {
  const issues = (strategy: Record<string, unknown>) => {
    const r = validateSpec(rollingSpec({ strategy }));
    return r.ok ? [] : r.issues.map((i) => `${i.field}: ${i.message}`);
  };

  test.each([
    [{ maxSurge: 0, maxUnavailable: 0 }, /maxUnavailable: may not be 0 when maxSurge is 0/],
    [{ maxSurge: '0%', maxUnavailable: 0 }, /may not be 0 when maxSurge is 0/],
    [{ maxUnavailable: '101%' }, /maxUnavailable: must not be greater than 100%/],
    [{ maxSurge: '25' }, /maxSurge: .*percentage/],
    [{ maxSurge: -1 }, /maxSurge/],
    [
      {
        steps: [
          { afterBatch: 1, pause: { approval: true } },
          { afterBatch: 1, pause: { duration: '1m' } },
        ],
      },
      /already has a pause/,
    ],
    [{ steps: [{ afterBatch: 0, pause: { approval: true } }] }, /afterBatch/],
    [{ steps: [{ afterBatch: 1, pause: { approval: false } }] }, /pause/],
    [{ minReadySeconds: '10s' }, /minReadySeconds/],
  ])('%j is refused', (strategy, message) => {
    expect(issues(strategy).join('\n')).toMatch(message);
  });

  test('a rounding to 0 and 0 is allowed (it resolves to unavailable 1), and the defaults are Kubernetes ones', () => {
    const r = validateSpec(rollingSpec({ replicas: 2, strategy: { maxSurge: '0%', maxUnavailable: '1%' } }));
    expect(r.ok).toBe(true);
    const d = validateSpec({ ...rollingSpec({}), strategy: { type: 'rolling' } });
    expect(d.ok && d.spec.strategy).toMatchObject({
      type: 'rolling',
      maxSurge: '25%',
      maxUnavailable: '25%',
      minReadySeconds: 0,
      drainTimeout: 30_000,
      progressDeadline: 600_000,
      onProgressDeadline: 'rollback',
      steps: [],
      approval: { mode: 'required', timeout: 86_400_000, onTimeout: 'rollback' },
    });
  });
});

describe('batch plans', () => {
  test.each([
    // replicas, maxSurge, maxUnavailable -> batches as [retireFirst, launch, retireAfter]
    [
      4,
      '25%',
      '25%',
      [
        [1, 2, 1],
        [1, 2, 1],
      ],
    ],
    [
      4,
      1,
      0,
      [
        [0, 1, 1],
        [0, 1, 1],
        [0, 1, 1],
        [0, 1, 1],
      ],
    ], // the issue's per-replica order
    [
      4,
      0,
      1,
      [
        [1, 1, 0],
        [1, 1, 0],
        [1, 1, 0],
        [1, 1, 0],
      ],
    ], // no surge: take one out first
    [
      2,
      '0%',
      '1%',
      [
        [1, 1, 0],
        [1, 1, 0],
      ],
    ], // ResolveFenceposts: old(-1), new(+1), old(-1), new(+1)
    [
      2,
      '1%',
      '25%',
      [
        [0, 1, 1],
        [0, 1, 1],
      ],
    ], // new(+1), old(-1), new(+1), old(-1)
    [
      10,
      '25%',
      '25%',
      [
        [2, 5, 3],
        [2, 5, 3],
      ],
    ],
    [3, '100%', 0, [[0, 3, 3]]], // all at once: blue-green-like
    [
      1000,
      '25%',
      '25%',
      [
        [250, 500, 250],
        [250, 500, 250],
      ],
    ],
  ])('%p replicas, maxSurge %p, maxUnavailable %p', (n, s, u, expected) => {
    const plan = planBatches({ desired: n, from: n, to: 0 }, resolveFenceposts(s, u, n));
    expect(plan.map((b) => [b.retireFirst, b.launch, b.retireAfter])).toEqual(expected);
  });

  test('every small case ends with desired new replicas and none old, within the bounds at every moment', () => {
    let cases = 0;
    for (let desired = 1; desired <= 9; desired++) {
      for (let from = 0; from <= 12; from++) {
        for (let surge = 0; surge <= desired + 1; surge++) {
          for (let unavailable = 0; unavailable <= desired + 1; unavailable++) {
            if (surge === 0 && unavailable === 0) continue;
            const fp = { surge, unavailable };
            let counts = { desired, from, to: 0 };
            const start = counts.from;
            const minServing = Math.min(start, desired - Math.min(unavailable, desired));
            const maxTotal = Math.max(start, desired + surge);
            const plan = planBatches(counts, fp);
            for (const batch of plan) {
              expect(batch.launch + batch.retireFirst + batch.retireAfter).toBeGreaterThan(0);
              for (const moment of batchMoments(counts, batch)) {
                expect(moment.serving).toBeGreaterThanOrEqual(minServing);
                expect(moment.total).toBeLessThanOrEqual(maxTotal);
              }
              counts = applyBatch(counts, batch);
            }
            expect(counts).toEqual({ desired, from: 0, to: desired });
            expect(nextBatch(counts, fp)).toBeUndefined();
            cases++;
          }
        }
      }
    }
    expect(cases).toBeGreaterThan(1000);
  });

  test('a rollback from the middle of an update (fewer serving than the minimum) only adds until it may take out', () => {
    // 4 replicas, surge 1 / unavailable 1: interrupted with 2 new serving and 1 old serving.
    const plan = planBatches({ desired: 4, from: 2, to: 1 }, { surge: 1, unavailable: 1 });
    let counts = { desired: 4, from: 2, to: 1 };
    for (const batch of plan) {
      for (const m of batchMoments(counts, batch)) {
        expect(m.serving).toBeGreaterThanOrEqual(3);
        expect(m.total).toBeLessThanOrEqual(5);
      }
      counts = applyBatch(counts, batch);
    }
    expect(counts).toEqual({ desired: 4, from: 0, to: 4 });
  });
});

describe('replica-set names', () => {
  test('a configuration change gives a new set name; key order does not matter', () => {
    const a = configRevisionOf({ A: '1', B: '2' });
    expect(configRevisionOf({ B: '2', A: '1' })).toBe(a);
    expect(configRevisionOf({ A: '1', B: '3' })).not.toBe(a);
    expect(configRevisionOf({})).toMatch(/^[0-9a-z]{7}$/);
    expect(configRevisionOf({ A: '1' }, 'Blue Sky!')).toBe('blue-sky');
    expect(rollingReplicaSetName('shop', '2.0.0', a)).toBe(`shop-2-0-0-rolling-${a}`);
  });

  test('names stay DNS labels of at most 63 characters and keep the whole revision', () => {
    const name = rollingReplicaSetName('a'.repeat(40), `${'9.'.repeat(30)}1`, 'abcdefg');
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name.endsWith('-abcdefg')).toBe(true);
    expect(name).toMatch(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
  });

  test('replica ids are <set>-<index>', () => {
    expect(replicaIndexIn('shop-2-rolling-x', 'shop-2-rolling-x-12')).toBe(12);
    expect(replicaIndexIn('shop-2-rolling-x', 'shop-2-rolling-xy-1')).toBeUndefined();
  });
});
