/**
 * The CloudWatch provider against moto's CloudWatch API (a real server process, started here): datapoints put with
 * PutMetricData, read back through the provider's GetMetricData — a metric stat with the sample count from another
 * query, metric math, several returned queries as a map, too few samples, no datapoints, an unreachable endpoint.
 *
 * moto evaluates a metric-math expression only when it names one query (`e1 = m1`); arithmetic (`m1 / m2`) comes
 * back empty from moto, so the ratio is taken in CEL over the map of both queries here.
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { CloudWatchProviderConfig, CloudWatchQuery } from '../../../activities/analysis/metric';
import type { Moto } from '../../support/moto';
import { REGION, startMoto } from '../../support/moto';
import { freePort } from '../../support/temporal';
import { ARGS, measureOnce, metricOf, rejection } from './metrics';

jest.setTimeout(120_000);

const NAMESPACE = 'AWS/ApplicationELB';
let moto: Moto;
/** When the datapoints were put: 90 s before the test's measurements. */
let putAt: Date;

beforeAll(async () => {
  moto = await startMoto();
  putAt = new Date(Date.now() - 90_000);
  const client = new CloudWatchClient({ region: REGION, endpoint: moto.endpoint });
  const point = (metricName: string, targetGroup: string, value: number) => ({
    MetricName: metricName,
    Dimensions: [{ Name: 'TargetGroup', Value: targetGroup }],
    Timestamp: putAt,
    Value: value,
    Unit: 'Count' as const,
  });
  await client.send(
    new PutMetricDataCommand({
      Namespace: NAMESPACE,
      MetricData: [
        point('RequestCount', ARGS.canary ?? '', 200),
        point('HTTPCode_Target_5XX_Count', ARGS.canary ?? '', 2),
        point('RequestCount', 'shop-quiet', 20),
        point('HTTPCode_Target_5XX_Count', 'shop-quiet', 0),
      ],
    }),
  );
  client.destroy();
});

afterAll(async () => {
  await moto?.stop();
});

const stat = (id: string, metricName: string, extra: Partial<CloudWatchQuery> = {}): CloudWatchQuery => ({
  id,
  metricStat: {
    namespace: NAMESPACE,
    metricName,
    dimensions: [{ name: 'TargetGroup', value: '{{args.canary}}' }],
    stat: 'Sum',
  },
  ...extra,
});
const ERRORS = stat('m1', 'HTTPCode_Target_5XX_Count');
const REQUESTS = stat('m2', 'RequestCount');

function cloudwatch(overrides: Partial<CloudWatchProviderConfig> = {}): { cloudwatch: CloudWatchProviderConfig } {
  return {
    cloudwatch: {
      region: REGION,
      endpoint: moto.endpoint,
      period: 60,
      window: 5 * 60_000,
      queries: [ERRORS, REQUESTS],
      samples: 'm2',
      timeout: 10_000,
      ...overrides,
    },
  };
}

const errorsUnder = { successCondition: 'result < 5.0', failureCondition: 'result > 20.0' };

test('a metric stat read back with GetMetricData, the samples from another query, the period it covers', async () => {
  const m = await measureOnce(metricOf(cloudwatch(), { ...errorsUnder, minSamples: 100 }));

  expect(m).toMatchObject({ provider: 'cloudwatch', phase: 'successful', value: 2, samples: 200 });
  expect(m.query).toBe(
    `m1=${NAMESPACE} HTTPCode_Target_5XX_Count Sum {TargetGroup=${ARGS.canary}}; ` +
      `m2=${NAMESPACE} RequestCount Sum {TargetGroup=${ARGS.canary}}; period 60 s over 300 s`,
  );
  const from = Date.parse(m.window?.from ?? '');
  const to = Date.parse(m.window?.to ?? '');
  expect(to - from).toBe(60_000);
  expect(from).toBeLessThanOrEqual(putAt.getTime());
  expect(to).toBeGreaterThan(putAt.getTime());
});

test('a metric-math expression is the value, its operand left out with returnData: false', async () => {
  const queries = [{ ...ERRORS, returnData: false }, REQUESTS, { id: 'e1', expression: 'm1' }];
  const m = await measureOnce(metricOf(cloudwatch({ queries }), errorsUnder));

  expect(m).toMatchObject({ phase: 'successful', value: 2, samples: 200 });
  expect(m.query).toContain('; e1=m1; ');
});

test('several returned queries give the conditions a map of query id to value', async () => {
  const metric = metricOf(cloudwatch({ samples: undefined }), {
    successCondition: 'result.m1 / result.m2 < 0.05',
    failureCondition: 'result.m1 / result.m2 > 0.2',
  });
  const m = await measureOnce(metric);

  expect(m).toMatchObject({ phase: 'successful', value: { m1: 2, m2: 200 } });
  expect(m.samples).toBeUndefined();
});

test('fewer requests than minSamples in the period is insufficient', async () => {
  const m = await measureOnce(metricOf(cloudwatch(), { ...errorsUnder, minSamples: 100 }), {
    ...ARGS,
    canary: 'shop-quiet',
  });

  expect(m).toMatchObject({ phase: 'insufficient', samples: 20, message: '20 samples < minSamples 100' });
});

test('no datapoint in the window is inconclusive "no data"', async () => {
  const m = await measureOnce(metricOf(cloudwatch(), { failureCondition: undefined }), {
    ...ARGS,
    canary: 'shop-absent',
  });

  expect(m).toMatchObject({ phase: 'inconclusive', value: null, samples: 0 });
  expect(m.message).toMatch(/^no data: no datapoint for m1 between /);
});

test('samples naming no query is a non-retryable SpecInvalidError naming it', async () => {
  const failure = await rejection(measureOnce(metricOf(cloudwatch({ samples: 'requests' }), { minSamples: 1 })));

  expect(failure).toMatchObject({ retryable: false, type: 'SpecInvalidError' });
  expect(failure.message).toBe(
    'provider.cloudwatch.samples names query requests, which is not one of the queries (m1, m2)',
  );
});

test('an unreachable endpoint throws a retryable error naming it', async () => {
  const endpoint = `http://127.0.0.1:${await freePort()}`;
  const failure = await rejection(measureOnce(metricOf(cloudwatch({ endpoint }), errorsUnder)));

  expect(failure.retryable).toBe(true);
  expect(failure.message).toContain(`CloudWatch GetMetricData in ${REGION} at ${endpoint} failed`);
});
