/** The canary strategy and the analysis section of the spec: normalisation, presets, and errors that name the field. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import {
  conditionEnvironment,
  isBlueGreenSpec,
  isCanarySpec,
  presetSteps,
  validateSpec,
} from '../../../workflows/spec';
import type { CanarySpec, SpecResult } from '../../../workflows/spec';
import { blueGreenSpec } from '../../support/specs';

const PROMETHEUS = 'http://127.0.0.1:9090';
const errorRateQuery = 'sum(rate(cutover_router_requests_total{backend="{{args.canary}}",code_class="5xx"}[1m]))';
const samplesQuery = 'sum(increase(cutover_router_requests_total{backend="{{args.canary}}"}[1m]))';

/** A metric of the error-rate template, with overrides. */
function metric(o: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'error-rate',
    provider: { prometheus: { address: PROMETHEUS, query: errorRateQuery, samples: samplesQuery } },
    successCondition: 'result < 0.05',
    ...o,
  };
}

/** A valid canary spec: the blue-green test spec with a canary strategy and an analysis section. */
function canarySpec(strategy: Record<string, unknown> = {}, metrics: Record<string, unknown>[] = [metric()]) {
  return {
    ...blueGreenSpec({ replicas: 4 }),
    analysis: { templates: { 'error-rate': { metrics } } },
    strategy: {
      type: 'canary',
      steps: [{ setWeight: 10 }, { analysis: { templates: ['error-rate'] } }, { setWeight: 100 }],
      ...strategy,
    },
  };
}

function valid(raw: unknown): CanarySpec {
  const result = validateSpec(raw);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  if (!isCanarySpec(result.spec)) throw new Error(`not a canary: ${result.spec.strategy.type}`);
  return result.spec;
}

/** "field: message" of every issue. */
function problems(raw: unknown): string[] {
  const result: SpecResult = validateSpec(raw);
  return result.ok ? [] : result.issues.map((i) => `${i.field}: ${i.message}`);
}

describe('canary strategy', () => {
  test('normalises every step, fills in the defaults and turns durations into milliseconds', () => {
    const spec = valid(
      canarySpec({
        steps: [
          { setCanaryScale: { replicas: 1 } },
          { setHeaderRoute: {} },
          { setWeight: 25 },
          { pause: { duration: '5m' } },
          { setCanaryScale: { weight: 50 } },
          { analysis: { templates: ['error-rate'], args: { region: 'eu' } } },
          { setCanaryScale: { matchTrafficWeight: true } },
          { setHeaderRoute: { remove: true } },
          { setWeight: 100 },
        ],
      }),
    );
    expect(spec.strategy.steps).toEqual([
      { setCanaryScale: { replicas: 1 } },
      { setHeaderRoute: { remove: false } },
      { setWeight: 25 },
      { pause: { duration: 300_000 } },
      { setCanaryScale: { weight: 50 } },
      { analysis: { templates: ['error-rate'], args: { region: 'eu' } } },
      { setCanaryScale: { matchTrafficWeight: true } },
      { setHeaderRoute: { remove: true } },
      { setWeight: 100 },
    ]);
    expect(spec.strategy).toMatchObject({
      approval: { mode: 'required', timeout: 86_400_000, onTimeout: 'rollback' },
      inconclusive: { timeout: 3_600_000, onTimeout: 'rollback' },
      abortScaleDownDelay: 30_000,
    });
    expect(spec.analysis?.insufficientSamples).toEqual({ deadline: 600_000, policy: 'pause' });
    expect(spec.analysis?.templates['error-rate']?.metrics[0]).toEqual({
      name: 'error-rate',
      provider: { prometheus: { address: PROMETHEUS, query: errorRateQuery, samples: samplesQuery, timeout: 10_000 } },
      interval: 60_000,
      count: 1,
      initialDelay: 0,
      successCondition: 'result < 0.05',
      failureLimit: 0,
      inconclusiveLimit: 0,
      consecutiveErrorLimit: 4,
      dryRun: false,
    });
  });

  test.each([
    ['canary10Percent5Minutes', [{ setWeight: 10 }, { pause: { duration: 300_000 } }, { setWeight: 100 }]],
    [
      'linear10PercentEvery1Minute',
      [10, 20, 30, 40, 50, 60, 70, 80, 90]
        .flatMap((w) => [{ setWeight: w }, { pause: { duration: 60_000 } }])
        .concat([{ setWeight: 100 }]),
    ],
  ])('preset %s expands into steps, and the normalised spec holds no preset', (preset, steps) => {
    const spec = valid(canarySpec({ steps: undefined, preset }));
    expect(spec.strategy.steps).toEqual(steps);
    expect(presetSteps(preset as 'canary10Percent5Minutes')).toEqual(steps);
    expect(spec.strategy).not.toHaveProperty('preset');
  });

  test('a normalised spec validates again to itself (a client may validate what it recorded)', () => {
    const once = valid(canarySpec({ steps: undefined, preset: 'canary10Percent5Minutes' }));
    expect(valid(JSON.parse(JSON.stringify(once)))).toEqual(once);
  });

  test('ends with pause {} instead of setWeight 100: a person promotes', () => {
    const spec = valid(canarySpec({ steps: [{ setWeight: 20 }, { pause: {} }] }));
    expect(spec.strategy.steps).toEqual([{ setWeight: 20 }, { pause: {} }]);
  });

  test.each([
    [{ steps: [{ setWeight: 101 }] }, 'strategy.steps.0.setWeight: must be at most 100'],
    [{ steps: [{ setWeight: -1 }] }, 'strategy.steps.0.setWeight: must be at least 0'],
    [{ steps: [{ setWeight: 12.5 }] }, 'strategy.steps.0.setWeight: expected a percentage of traffic'],
    [{ steps: [{ setCanaryScale: { weight: 150 } }, { setWeight: 100 }] }, 'strategy.steps.0.setCanaryScale.weight'],
    [
      { steps: [{ setCanaryScale: { replicas: 5 } }, { setWeight: 100 }] },
      'strategy.steps.0.setCanaryScale.replicas: must be at most replicas (4)',
    ],
    [
      { steps: [{ setCanaryScale: { replicas: 1, weight: 10 } }, { setWeight: 100 }] },
      'strategy.steps.0.setCanaryScale: setCanaryScale is exactly one of replicas, weight, matchTrafficWeight (got replicas and weight)',
    ],
    [
      { steps: [{ setWeight: 10, pause: {} }] },
      'strategy.steps.0: a step is exactly one of setWeight, pause, analysis, setCanaryScale, setHeaderRoute (got setWeight and pause)',
    ],
    [{ steps: [{}] }, 'strategy.steps.0: a step is exactly one of'],
    [{ steps: [{ setWieght: 10 }] }, 'strategy.steps.0: Unrecognized key: "setWieght"'],
    [{ steps: [{ pause: { duration: 'soon' } }] }, 'strategy.steps.0.pause.duration: expected a duration'],
    [{ steps: [] }, 'strategy.steps: must have at least one step (or use a preset)'],
    [
      { steps: undefined },
      'strategy.steps: set steps, or a preset (canary10Percent5Minutes, linear10PercentEvery1Minute)',
    ],
    [{ preset: 'canary10Percent5Minutes' }, 'strategy.preset: set either steps or preset, not both'],
    [{ steps: undefined, preset: 'slowly' }, 'strategy.preset: expected a preset: canary10Percent5Minutes or'],
    [
      { steps: [{ setWeight: 10 }, { pause: { duration: '5m' } }] },
      'strategy.steps: the last setWeight is 10, and the canary is promoted to 100 after the last step: end with setWeight: 100, or with pause: {} (a person promotes)',
    ],
    [
      { steps: [{ setWeight: 100 }, { setWeight: 50 }] },
      'strategy.steps: the last setWeight is 50, and the canary is promoted to 100',
    ],
    [
      { backgroundAnalysis: { templates: ['error-rate'], startingStep: 3 } },
      'strategy.backgroundAnalysis.startingStep: must be the index of a step: 0 to 2 (the strategy has 3 steps)',
    ],
    [
      { steps: [{ analysis: { templates: ['latency'] } }, { setWeight: 100 }] },
      'strategy.steps.0.analysis.templates.0: no template "latency" in analysis.templates (it has error-rate)',
    ],
    [
      { backgroundAnalysis: { templates: ['latency'] } },
      'strategy.backgroundAnalysis.templates.0: no template "latency" in analysis.templates',
    ],
    [
      // Not Object.prototype's: the spec property test's mutation that made validateSpec throw.
      { steps: [{ analysis: { templates: ['constructor'] } }, { setWeight: 100 }] },
      'strategy.steps.0.analysis.templates.0: no template "constructor" in analysis.templates (it has error-rate)',
    ],
    [
      { steps: [{ analysis: { templates: ['error-rate'], args: { canary: 'mine' } } }, { setWeight: 100 }] },
      'strategy.steps.0.analysis.args.canary: "canary" is filled in by the workflow',
    ],
    [
      { steps: [{ analysis: { templates: ['error-rate', 'error-rate'] } }, { setWeight: 100 }] },
      'strategy.steps.0.analysis.templates: template names must be unique',
    ],
    [{ approval: { mode: 'automatic' } }, "strategy.approval.mode: a canary's pause: {} always waits for a person"],
    [{ inconclusive: { onTimeout: 'wait' } }, 'strategy.inconclusive.onTimeout'],
    [{ abortScaleDownDelay: 'later' }, 'strategy.abortScaleDownDelay: expected a duration'],
  ])('rejects strategy %j naming the field', (strategy, expected) => {
    expect(problems(canarySpec(strategy)).join('\n')).toContain(expected);
  });

  test('a count 0 metric (until ended) runs in background analysis only', () => {
    const metrics = [metric({ count: 0 })];
    expect(
      problems(canarySpec({ steps: [{ setWeight: 100 }], backgroundAnalysis: { templates: ['error-rate'] } }, metrics)),
    ).toEqual([]);
    expect(problems(canarySpec({}, metrics))).toEqual([
      'strategy.steps.1.analysis.templates.0: template "error-rate" has metric "error-rate" with count 0 (measured ' +
        'until the analysis is ended): only a backgroundAnalysis may run it, an analysis step would never end',
    ]);
  });

  test('every {{args.<name>}} of a template is a built-in arg or one the analysis gives', () => {
    const metrics = [metric({ provider: { prometheus: { address: PROMETHEUS, query: 'up{job="{{ args.job }}"}' } } })];
    expect(problems(canarySpec({}, metrics))).toEqual([
      'strategy.steps.1.analysis.args: template "error-rate" metric "error-rate" uses {{args.job}}: give it in args ' +
        '(built in: application, version, stableVersion, canary, stable, modules)',
    ]);
    const given = { steps: [{ analysis: { templates: ['error-rate'], args: { job: 'shop' } } }, { setWeight: 100 }] };
    expect(problems(canarySpec(given, metrics))).toEqual([]);
  });

  test('the metrics one analysis runs have distinct names (a measurement names its metric only)', () => {
    const spec = canarySpec({
      steps: [{ analysis: { templates: ['error-rate', 'again'] } }, { setWeight: 100 }],
    });
    const analysis = { templates: { 'error-rate': { metrics: [metric()] }, again: { metrics: [metric()] } } };
    expect(problems({ ...spec, analysis })).toEqual([
      'strategy.steps.0.analysis.templates.1: templates "error-rate" and "again" both have a metric "error-rate": ' +
        'one analysis runs metrics of distinct names',
    ]);
  });

  test('a broken analysis section is reported once, without cross-checks on what did not parse', () => {
    const spec = { ...canarySpec(), replicas: 0, analysis: { templates: { 'error-rate': { metrics: 'many' } } } };
    expect(problems(spec)).toEqual([
      'replicas: Too small: expected number to be >=1',
      'analysis.templates.error-rate.metrics: Invalid input: expected array, received string',
    ]);
  });

  test('a spec without analysis (blue-green) normalises as before: no analysis key is added', () => {
    const result = validateSpec(blueGreenSpec());
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(isBlueGreenSpec(result.spec)).toBe(true);
    expect(result.spec).not.toHaveProperty('analysis');
  });

  test('examples/specs/canary.yaml is valid', () => {
    const raw: unknown = parse(fs.readFileSync(path.join(__dirname, '../../../examples/specs/canary.yaml'), 'utf8'));
    const spec = valid(raw);
    expect(spec.strategy.backgroundAnalysis).toEqual({
      templates: ['server-errors'],
      args: { window: '5m' },
      startingStep: 4,
    });
    expect(spec.strategy.steps[spec.strategy.steps.length - 1]).toEqual({ setWeight: 100 });
  });
});

describe('analysis section', () => {
  const fieldOf = (metrics: Record<string, unknown>[]) => problems(canarySpec({}, metrics)).join('\n');
  const at = 'analysis.templates.error-rate.metrics.0';

  test.each([
    ['result <', `${at}.successCondition: not a valid CEL expression: Unexpected token: EOF (at character 9)`],
    ['reslt < 0.05', `${at}.successCondition: not a valid CEL expression: Unknown variable: reslt (at character 1)`],
    [
      'result + 1',
      `${at}.successCondition: must be a condition (a bool) on result, such as "result < 0.05"; this expression is a int`,
    ],
    ['"yes"', `${at}.successCondition: must be a condition (a bool) on result`],
    ['1 < "a"', `${at}.successCondition: not a valid CEL expression: no such overload: int < string`],
  ])('successCondition %p is refused: %s', (condition, expected) => {
    expect(fieldOf([metric({ successCondition: condition })])).toContain(expected);
  });

  test.each(['result < 0.05', 'result.errorRate < 0.1 && result.requests > 10', 'size(result) > 0 && result[0] < 1'])(
    'condition %p is accepted (result is dynamic: a number, or a list/map for web)',
    (condition) => {
      expect(problems(canarySpec({}, [metric({ successCondition: undefined, failureCondition: condition })]))).toEqual(
        [],
      );
    },
  );

  test('what validation accepts evaluates with the same environment: a number, or a map for web', () => {
    expect(conditionEnvironment.evaluate('result < 0.05', { result: 0.01 })).toBe(true);
    expect(conditionEnvironment.evaluate('result < 0.05', { result: 0.31 })).toBe(false);
    expect(
      conditionEnvironment.evaluate('result.errorRate < 0.1 && result.requests > 10', {
        result: { errorRate: 0.2, requests: 50 },
      }),
    ).toBe(false);
  });

  test.each([
    [{ successCondition: undefined }, `${at}.successCondition: set successCondition or failureCondition (or both)`],
    [
      { provider: { prometheus: { address: PROMETHEUS, query: 'up' } }, minSamples: 100 },
      `${at}.minSamples: needs a samples source in the provider (prometheus.samples, web.samplesJsonPath or cloudwatch.samples)`,
    ],
    [{ provider: {} }, `${at}.provider: a provider is exactly one of prometheus, web, cloudwatch (got none)`],
    [
      { provider: { prometheus: { address: PROMETHEUS, query: 'up' }, web: { url: PROMETHEUS, jsonPath: '$.a' } } },
      `${at}.provider: a provider is exactly one of prometheus, web, cloudwatch (got prometheus and web)`,
    ],
    [{ provider: { graphite: {} } }, `${at}.provider: Unrecognized key: "graphite"`],
    [
      { provider: { prometheus: { address: 'ftp://x', query: 'up' } } },
      `${at}.provider.prometheus.address: expected an http(s) URL`,
    ],
    [
      { provider: { prometheus: { address: PROMETHEUS, query: '' } } },
      `${at}.provider.prometheus.query: may not be empty`,
    ],
    [
      { provider: { prometheus: { address: PROMETHEUS, query: 'up', timeout: '1h' } } },
      `${at}.provider.prometheus.timeout: must be at most 5m`,
    ],
    [
      { provider: { web: { url: PROMETHEUS, jsonPath: 'errorRate' } } },
      `${at}.provider.web.jsonPath: expected a JSONPath starting with "$"`,
    ],
    [{ interval: '10ms' }, `${at}.interval: must be at least 1s`],
    [{ count: -1 }, `${at}.count`],
    [{ failureLimit: 1.5 }, `${at}.failureLimit`],
    [{ name: 'Error_Rate' }, `${at}.name: metric names must be lower-case letters, digits and dashes`],
    [
      { provider: { cloudwatch: { region: 'us-east-1', queries: [{ id: 'm1', expression: 'm2' }], samples: 'm9' } } },
      `${at}.provider.cloudwatch.samples: must be the id of one of the queries (m1)`,
    ],
    [
      { provider: { cloudwatch: { region: 'us-east-1', queries: [{ id: 'm1' }] } } },
      `${at}.provider.cloudwatch.queries.0: a query has exactly one of metricStat and expression`,
    ],
  ])('rejects metric %j naming the field', (overrides, expected) => {
    expect(fieldOf([metric(overrides)])).toContain(expected);
  });

  test('metric names are unique in a template, and template names are DNS labels', () => {
    expect(fieldOf([metric(), metric()])).toContain(
      'analysis.templates.error-rate.metrics.1.name: metric "error-rate" is defined twice in this template',
    );
    const spec = { ...canarySpec(), analysis: { templates: { Error_Rate: { metrics: [metric()] } } } };
    expect(problems(spec)).toContain(
      'analysis.templates.Error_Rate: template names must be lower-case letters, digits and dashes (DNS label)',
    );
  });

  test('web and cloudwatch providers normalise with their defaults', () => {
    const web = {
      web: {
        url: 'http://127.0.0.1:8080/{{args.canary}}/stats',
        jsonPath: '$.errorRate',
        samplesJsonPath: '$.requests',
      },
    };
    const cloudwatch = {
      cloudwatch: {
        region: 'us-east-1',
        endpoint: 'http://127.0.0.1:5000',
        queries: [
          {
            id: 'errors',
            metricStat: {
              namespace: 'AWS/ApplicationELB',
              metricName: 'HTTPCode_Target_5XX_Count',
              dimensions: [{ name: 'TargetGroup', value: '{{args.canary}}' }],
              stat: 'Sum',
            },
            returnData: false,
          },
          { id: 'requests', metricStat: { namespace: 'AWS/ApplicationELB', metricName: 'RequestCount', stat: 'Sum' } },
          { id: 'rate', expression: 'errors / requests' },
        ],
        samples: 'requests',
      },
    };
    const spec = valid(
      canarySpec({}, [
        metric({ name: 'web-rate', provider: web, minSamples: 50, interval: '30s', count: 3 }),
        metric({ name: 'cw-rate', provider: cloudwatch, minSamples: 50 }),
      ]),
    );
    const [w, c] = spec.analysis?.templates['error-rate']?.metrics ?? [];
    expect(w?.provider).toEqual({ web: { ...web.web, headers: {}, timeout: 10_000 } });
    expect(w).toMatchObject({ interval: 30_000, count: 3, minSamples: 50 });
    expect(c?.provider.cloudwatch).toMatchObject({ period: 60, window: 300_000, timeout: 10_000, samples: 'requests' });
    expect(c?.provider.cloudwatch?.queries[1]?.metricStat?.dimensions).toEqual([]);
  });
});

describe('rolling steps with analysis', () => {
  const rolling = (steps: unknown[]) => ({
    ...blueGreenSpec({ replicas: 4 }),
    analysis: { templates: { 'error-rate': { metrics: [metric()] } } },
    strategy: { type: 'rolling', steps },
  });

  test('a step may analyse, pause, or both; the analysis normalises with default args', () => {
    const result = validateSpec(
      rolling([
        { afterBatch: 1, analysis: { templates: ['error-rate'] } },
        { afterBatch: 2, analysis: { templates: ['error-rate'], args: { region: 'eu' } }, pause: { approval: true } },
      ]),
    );
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    if (result.spec.strategy.type !== 'rolling') throw new Error('not rolling');
    expect(result.spec.strategy.steps).toEqual([
      { afterBatch: 1, analysis: { templates: ['error-rate'], args: {} } },
      { afterBatch: 2, analysis: { templates: ['error-rate'], args: { region: 'eu' } }, pause: { approval: true } },
    ]);
  });

  test('a step with neither, an unknown template, or a count-0 metric is refused naming the step', () => {
    expect(problems(rolling([{ afterBatch: 1 }]))).toEqual([
      'strategy.steps.0: a step needs a pause, an analysis or both',
    ]);
    expect(problems(rolling([{ afterBatch: 1, analysis: { templates: ['latency'] } }]))).toEqual([
      'strategy.steps.0.analysis.templates.0: no template "latency" in analysis.templates (it has error-rate)',
    ]);
    const forever = { ...rolling([{ afterBatch: 1, analysis: { templates: ['error-rate'] } }]) };
    forever.analysis.templates['error-rate'].metrics = [metric({ count: 0 })];
    expect(problems(forever)).toEqual([
      expect.stringMatching(/^strategy\.steps\.0\.analysis\.templates\.0: .*count 0/),
    ]);
  });
});
