/**
 * CEL conditions over the values providers give (numbers, lists, maps, strings), and the verdict rules over them
 * (Argo Rollouts' semantics). No server: the conditions are pure.
 */
import { evaluateCondition } from '../../../activities/analysis/conditions';
import { judge } from '../../../activities/analysis/measure';
import type { Reading } from '../../../activities/analysis/providers/reading';
import { metricOf } from './metrics';

const provider = { web: { url: 'http://unused', jsonPath: '$', headers: {}, timeout: 10_000 } };
const reading = (value: unknown, extra: Partial<Reading> = {}): Reading => ({ query: 'q', value, ...extra });

function conditionError(run: () => unknown): { name: string; message: string } {
  try {
    run();
  } catch (err) {
    return { name: (err as Error).name, message: (err as Error).message };
  }
  throw new Error('expected the condition to throw');
}

describe('CEL over the measured value', () => {
  test('numbers are doubles: comparisons with int and double literals, arithmetic with doubles', () => {
    expect(evaluateCondition('successCondition', 'result < 0.05', 0.013)).toBe(true);
    expect(evaluateCondition('successCondition', 'result < 1', 3)).toBe(false);
    expect(evaluateCondition('successCondition', 'result * 100.0 <= 1.3', 0.013)).toBe(true);
  });

  test('lists: macros over every item, size, indexing', () => {
    expect(evaluateCondition('successCondition', 'result.all(x, x < 0.05)', [0.01, 0.02])).toBe(true);
    expect(evaluateCondition('successCondition', 'result.all(x, x < 0.05)', [0.01, 0.2])).toBe(false);
    expect(evaluateCondition('failureCondition', 'result.exists(x, x > 0.1)', [0.01, 0.2])).toBe(true);
    expect(evaluateCondition('successCondition', 'size(result) == 2 && result[1] > result[0]', [1, 2])).toBe(true);
  });

  test('maps: fields, has(), nested values', () => {
    const value = { errors: 3, requests: 200, modules: { Cart: { p99: 0.4 } } };
    expect(evaluateCondition('successCondition', 'result.errors / result.requests < 0.05', value)).toBe(true);
    expect(evaluateCondition('successCondition', 'has(result.latency) || result.modules.Cart.p99 < 0.5', value)).toBe(
      true,
    );
  });

  test('strings: converted explicitly', () => {
    expect(evaluateCondition('successCondition', 'double(result) < 0.05', '0.013')).toBe(true);
  });

  test('an expression that fails on the value type is a non-retryable AnalysisConditionError naming the field', () => {
    const failure = conditionError(() => evaluateCondition('successCondition', 'result < 1', 'abc'));

    expect(failure.name).toBe('AnalysisConditionError');
    expect(failure.message).toBe(
      'successCondition `result < 1` cannot be evaluated on result "abc" (string): no such overload: dyn<string> < int',
    );
  });

  test('a macro over a number, a key the map lacks, a syntax error, and a non-bool result are errors too', () => {
    const cases: Array<[string, unknown]> = [
      ['result.all(x, x < 0.05)', 0.01],
      ['result.latency < 1.0', { errors: 1 }],
      ['result <', 1],
      ['result + 1.0', 1],
    ];
    for (const [expression, value] of cases) {
      const failure = conditionError(() => evaluateCondition('failureCondition', expression, value));
      expect(failure.name).toBe('AnalysisConditionError');
      expect(failure.message).toContain(`failureCondition \`${expression}\``);
    }
    expect(conditionError(() => evaluateCondition('failureCondition', 'result + 1.0', 1)).message).toMatch(
      /gave 2 \(number\) on result 1 \(number\); expected a bool/,
    );
  });
});

describe('the verdict on one measurement', () => {
  const both = metricOf(provider, { successCondition: 'result < 0.05', failureCondition: 'result > 0.2' });
  const successOnly = metricOf(provider, { successCondition: 'result < 0.05', failureCondition: undefined });
  const failureOnly = metricOf(provider, { successCondition: undefined, failureCondition: 'result > 0.2' });

  test.each([
    ['both conditions, success true', both, 0.01, 'successful'],
    ['both conditions, failure true', both, 0.3, 'failed'],
    ['both conditions, neither true', both, 0.1, 'inconclusive'],
    ['success only, true', successOnly, 0.01, 'successful'],
    ['success only, false', successOnly, 0.1, 'failed'],
    ['failure only, true', failureOnly, 0.3, 'failed'],
    ['failure only, false', failureOnly, 0.1, 'successful'],
  ])('%s: %s', (_name, metric, value, phase) => {
    expect(judge(metric, reading(value)).phase).toBe(phase);
  });

  test('a failure condition that holds wins even when the success condition holds too', () => {
    const overlapping = metricOf(provider, { successCondition: 'result < 0.5', failureCondition: 'result > 0.2' });
    expect(judge(overlapping, reading(0.3))).toEqual({
      phase: 'failed',
      message: 'result 0.3: failureCondition `result > 0.2` true: failed',
    });
  });

  test('no data is inconclusive whatever the conditions, never successful', () => {
    expect(judge(failureOnly, { query: 'q', noData: 'the query returned no series' })).toEqual({
      phase: 'inconclusive',
      message: 'no data: the query returned no series',
    });
  });

  test('too few samples is insufficient before anything else, the conditions unevaluated', () => {
    const metric = metricOf(provider, {
      minSamples: 100,
      successCondition: 'result.nope',
      failureCondition: undefined,
    });
    expect(judge(metric, reading(0.01, { samples: 42 }))).toEqual({
      phase: 'insufficient',
      message: '42 samples < minSamples 100',
    });
    expect(judge(metric, { query: 'q', noData: 'nothing', samples: 0 }).phase).toBe('insufficient');
    expect(judge({ ...successOnly, minSamples: 100 }, reading(0.01, { samples: 100 })).phase).toBe('successful');
  });
});
