/**
 * CloudWatch: one GetMetricData call over the last `window` (default 5 min) with the metric's queries (metric stats
 * and metric math), newest datapoints first.
 *
 * The value the conditions see is the newest datapoint of the queries that return data (AWS's `ReturnData`, true
 * unless a query says false), leaving out the samples query: one such query gives a number, several a map of query
 * id to number. The window reported is the period that datapoint covers. The samples query's datapoint of the same
 * period is the sample count (none: 0 samples, CloudWatch writes no datapoint for a period without requests). No
 * datapoint in the window is no data.
 *
 * Credentials come from the standard AWS chain (environment, profile, instance role), never from the spec. AWS
 * refusing the request (validation, access) is an AnalysisQueryRejectedError; throttling and 5xx, already retried by
 * the SDK, stay retryable.
 */
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { MetricDataQuery, MetricDataResult } from '@aws-sdk/client-cloudwatch';
import { CutoverError, ErrorType } from '../../errors';
import type { CloudWatchProviderConfig, CloudWatchQuery } from '../metric';
import type { ProviderContext, Reading } from './reading';

const DEFAULT_PERIOD_S = 60;
const DEFAULT_WINDOW_MS = 5 * 60_000;
/** Bounds the pages read (a page holds 100,800 datapoints): far beyond any analysis window. */
const MAX_PAGES = 10;

/** The one SDK call used, so tests and other clients can stand in (Argo's narrow AWS interfaces). */
export interface CloudWatchApi {
  getMetricData(
    input: { queries: MetricDataQuery[]; start: Date; end: Date; nextToken?: string },
    signal: AbortSignal,
  ): Promise<{ results: MetricDataResult[]; nextToken?: string }>;
}

export function newSdkCloudWatchApi(config: { region: string; endpoint?: string }): CloudWatchApi & { close(): void } {
  const client = new CloudWatchClient({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
  });
  return {
    close: () => client.destroy(),
    async getMetricData({ queries, start, end, nextToken }, signal) {
      const out = await client.send(
        new GetMetricDataCommand({
          MetricDataQueries: queries,
          StartTime: start,
          EndTime: end,
          ScanBy: 'TimestampDescending',
          ...(nextToken ? { NextToken: nextToken } : {}),
        }),
        { abortSignal: signal },
      );
      return { results: out.MetricDataResults ?? [], ...(out.NextToken ? { nextToken: out.NextToken } : {}) };
    },
  };
}

export async function measureCloudWatch(
  config: CloudWatchProviderConfig,
  ctx: ProviderContext,
  api: CloudWatchApi,
): Promise<Reading> {
  const ids = config.queries.map((q) => q.id);
  if (config.samples !== undefined && !ids.includes(config.samples)) {
    throw new CutoverError(
      ErrorType.SpecInvalid,
      `provider.cloudwatch.samples names query ${config.samples}, which is not one of the queries (${ids.join(', ')})`,
    );
  }
  const resultIds = config.queries.filter((q) => q.returnData !== false && q.id !== config.samples).map((q) => q.id);
  if (resultIds.length === 0) {
    throw new CutoverError(
      ErrorType.SpecInvalid,
      `provider.cloudwatch.queries: none returns data besides the samples query ${config.samples ?? ''}; ` +
        'expected at least one query without returnData: false',
    );
  }
  const period = config.period ?? DEFAULT_PERIOD_S;
  const end = ctx.now();
  const start = new Date(end.getTime() - (config.window ?? DEFAULT_WINDOW_MS));
  const query = describeQueries(config, period);
  const where = `CloudWatch GetMetricData in ${config.region}${config.endpoint ? ` at ${config.endpoint}` : ''}`;

  const series = new Map<string, Array<{ at: number; value: number }>>();
  let nextToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    let out;
    try {
      out = await api.getMetricData(
        { queries: toMetricDataQueries(config, period), start, end, nextToken },
        ctx.signal,
      );
    } catch (err) {
      throw classifyCloudWatchError(err, where);
    }
    for (const result of out.results) {
      if (result.StatusCode === 'InternalError' || result.StatusCode === 'Forbidden') {
        const detail = (result.Messages ?? []).map((m) => `${m.Code}: ${m.Value}`).join('; ') || 'no message';
        const message = `${where}: query ${result.Id} answered ${result.StatusCode} (${detail})`;
        if (result.StatusCode === 'Forbidden') throw new CutoverError(ErrorType.AnalysisQueryRejected, message);
        throw new Error(message);
      }
      const points = series.get(result.Id ?? '') ?? [];
      (result.Timestamps ?? []).forEach((t, i) => {
        const value = result.Values?.[i];
        if (value !== undefined) points.push({ at: new Date(t).getTime(), value });
      });
      series.set(result.Id ?? '', points);
    }
    nextToken = out.nextToken;
    if (!nextToken) break;
  }

  const newest = new Map<string, { at: number; value: number }>();
  for (const id of resultIds) {
    const point = latest(series.get(id) ?? []);
    if (point) newest.set(id, point);
  }
  const missing = resultIds.filter((id) => !newest.has(id));
  const reading: Reading = { query };
  // The period of the newest datapoint among the returned queries; the samples are that period's.
  const at = latest([...newest.values()])?.at;
  if (at !== undefined) {
    reading.window = { from: new Date(at).toISOString(), to: new Date(at + period * 1000).toISOString() };
  }
  if (config.samples !== undefined) {
    const samples = at === undefined ? undefined : (series.get(config.samples) ?? []).find((p) => p.at === at);
    reading.samples = samples?.value ?? 0;
  }
  if (missing.length > 0) {
    return {
      ...reading,
      noData: `no datapoint for ${missing.join(', ')} between ${start.toISOString()} and ${end.toISOString()}`,
    };
  }
  const first = resultIds[0] ?? '';
  const value =
    resultIds.length === 1
      ? newest.get(first)?.value
      : Object.fromEntries(resultIds.map((id) => [id, newest.get(id)?.value]));
  return { ...reading, value };
}

function latest(points: Array<{ at: number; value: number }>): { at: number; value: number } | undefined {
  return points.reduce<{ at: number; value: number } | undefined>(
    (best, p) => (!best || p.at > best.at ? p : best),
    undefined,
  );
}

/** A query without an expression has a metricStat (the schema gives each query exactly one of the two). */
function statOf(q: CloudWatchQuery): NonNullable<CloudWatchQuery['metricStat']> {
  if (!q.metricStat) throw new Error(`query ${q.id} has neither expression nor metricStat`);
  return q.metricStat;
}

/** The spec's queries as SDK shapes (translated here, at the edge). */
export function toMetricDataQueries(config: CloudWatchProviderConfig, period: number): MetricDataQuery[] {
  return config.queries.map((q): MetricDataQuery => {
    // The samples query's values are needed whatever the spec says about returning them.
    const returnData = q.id === config.samples ? true : q.returnData;
    const shared = { Id: q.id, ...(returnData === undefined ? {} : { ReturnData: returnData }) };
    if (q.expression !== undefined) {
      // Period belongs to Metrics Insights (SELECT ...) only; metric math takes its operands' periods.
      const insights = /^\s*SELECT\b/i.test(q.expression);
      return { ...shared, Expression: q.expression, ...(insights ? { Period: period } : {}) };
    }
    const stat = statOf(q);
    return {
      ...shared,
      MetricStat: {
        Metric: {
          Namespace: stat.namespace,
          MetricName: stat.metricName,
          Dimensions: (stat.dimensions ?? []).map((d) => ({ Name: d.name, Value: d.value })),
        },
        Period: period,
        Stat: stat.stat,
        ...(stat.unit ? { Unit: stat.unit as NonNullable<MetricDataQuery['MetricStat']>['Unit'] } : {}),
      },
    };
  });
}

/** "m1=AWS/ApplicationELB RequestCount Sum {TargetGroup=tg}; e1=m1/m2; period 60 s over 300 s" */
function describeQueries(config: CloudWatchProviderConfig, period: number): string {
  const one = (q: CloudWatchQuery): string => {
    if (q.expression !== undefined) return `${q.id}=${q.expression}`;
    const s = statOf(q);
    const dims = (s.dimensions ?? []).map((d) => `${d.name}=${d.value}`).join(',');
    return `${q.id}=${s.namespace} ${s.metricName} ${s.stat}${dims ? ` {${dims}}` : ''}`;
  };
  const window = (config.window ?? DEFAULT_WINDOW_MS) / 1000;
  return `${config.queries.map(one).join('; ')}; period ${period} s over ${window} s`;
}

const REJECTED = new Set([
  'InvalidParameterValue',
  'InvalidParameterCombination',
  'MissingParameter',
  'MissingRequiredParameter',
  'ValidationError',
  'AccessDenied',
  'InvalidClientTokenId',
  'UnrecognizedClient',
  'SignatureDoesNotMatch',
]);

function classifyCloudWatchError(err: unknown, where: string): Error {
  const e = (err ?? {}) as { name?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  if (e.name === 'AbortError') return err as Error; // a timeout or a cancellation: the caller names it
  const code = String(e.Code ?? e.name ?? 'Error').replace(/Exception$/, '');
  const status = e.$metadata?.httpStatusCode;
  const reason = code === 'Error' ? (e.message ?? String(err)) : `${code}: ${e.message ?? String(err)}`;
  const detail = `${where} failed: ${reason}${status ? ` (HTTP ${status})` : ''}`;
  if (REJECTED.has(code)) return new CutoverError(ErrorType.AnalysisQueryRejected, detail);
  return new Error(detail);
}
