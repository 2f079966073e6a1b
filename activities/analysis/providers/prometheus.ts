/**
 * Prometheus: the metric's query (and its samples query) as instant queries through the HTTP API
 * (`GET /api/v1/query`), evaluated at the same moment.
 *
 * The value the conditions see: a scalar or a one-series vector gives its number, a vector of several series the
 * list of their numbers; a vector with no series, or NaN (0/0: nothing was measured), is no data. A range vector
 * (matrix) cannot be judged and is refused. The samples query's series are summed; no series is 0 samples.
 *
 * Prometheus rejecting the query (HTTP 400 bad_data, 422 execution) is an AnalysisQueryRejectedError: the same
 * query fails the same way every time. Anything else that goes wrong is retryable.
 */
import { CutoverError, ErrorType } from '../../errors';
import type { PrometheusProviderConfig } from '../metric';
import type { ProviderContext, Reading } from './reading';
import { getJson } from './reading';

type PromSample = [number, string];
interface PromSeries {
  metric: Record<string, string>;
  value?: PromSample;
  values?: PromSample[];
}
type PromResult =
  | { resultType: 'vector'; result: PromSeries[] }
  | { resultType: 'scalar' | 'string'; result: PromSample }
  | { resultType: 'matrix'; result: PromSeries[] };

interface Evaluated {
  /** undefined: no series */
  value: number | number[] | string | undefined;
  time: number;
}

export async function measurePrometheus(config: PrometheusProviderConfig, ctx: ProviderContext): Promise<Reading> {
  const time = ctx.now().getTime() / 1000;
  const [main, samples] = await Promise.all([
    instantQuery(config.address, config.query, time, ctx, 'query'),
    config.samples === undefined ? undefined : instantQuery(config.address, config.samples, time, ctx, 'samples'),
  ]);
  const at = new Date(main.time * 1000).toISOString();
  const reading: Reading = { query: config.query, window: { from: at, to: at } };
  if (samples) reading.samples = sampleCount(samples, config);
  if (main.value === undefined) return { ...reading, noData: 'the query returned no series' };
  if (typeof main.value === 'number' && Number.isNaN(main.value)) {
    return { ...reading, noData: 'the query returned NaN (nothing measured: 0/0)' };
  }
  return { ...reading, value: main.value };
}

async function instantQuery(
  address: string,
  query: string,
  time: number,
  ctx: ProviderContext,
  field: 'query' | 'samples',
): Promise<Evaluated> {
  const base = address.replace(/\/+$/, '');
  const url = `${base}/api/v1/query?${new URLSearchParams({ query, time: String(time) }).toString()}`;
  const what = `Prometheus at ${base}`;
  const { status, body } = await getJson(url, {}, ctx, what, `${base}/api/v1/query (${field})`);
  const answer = body as { status?: string; errorType?: string; error?: string; data?: PromResult };
  if (answer.status === 'error' || status < 200 || status > 299) {
    const reason = `HTTP ${status}${answer.errorType ? ` ${answer.errorType}` : ''}: ${answer.error ?? 'no error message'}`;
    if (status === 400 || status === 422) {
      throw new CutoverError(ErrorType.AnalysisQueryRejected, `${what} rejected the ${field} \`${query}\`: ${reason}`);
    }
    throw new Error(`${what} failed the ${field} \`${query}\`: ${reason}`);
  }
  const data = answer.data;
  if (answer.status !== 'success' || !data || typeof data !== 'object') {
    throw new Error(`${what} answered the ${field} with no data section (status ${String(answer.status)})`);
  }
  switch (data.resultType) {
    case 'scalar':
    case 'string':
      return {
        value: data.resultType === 'scalar' ? sampleValue(data.result, what) : String(data.result[1]),
        time: typeof data.result[0] === 'number' ? data.result[0] : time,
      };
    case 'vector': {
      if (!Array.isArray(data.result)) throw new Error(`${what} answered a vector without a result list`);
      const values = data.result.map((s) => sampleValue(s.value, what));
      const evaluatedAt = data.result[0]?.value?.[0] ?? time;
      return { value: values.length === 0 ? undefined : values.length === 1 ? values[0] : values, time: evaluatedAt };
    }
    case 'matrix':
      throw new CutoverError(
        ErrorType.AnalysisQueryRejected,
        `${what}: the ${field} \`${query}\` returns a range vector (matrix), which a condition cannot judge; ` +
          'expected an instant vector or a scalar (wrap the range in a function such as rate() or avg_over_time())',
      );
    default:
      throw new Error(
        `${what} answered an unknown resultType ${JSON.stringify((data as { resultType?: unknown }).resultType)}`,
      );
  }
}

/** Prometheus writes sample values as strings, with NaN, +Inf and -Inf spelled out. */
function sampleValue(sample: PromSample | undefined, what: string): number {
  const text = sample?.[1];
  if (text === 'NaN') return NaN;
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  const value = typeof text === 'string' && text.trim() !== '' ? Number(text) : NaN;
  if (Number.isNaN(value)) throw new Error(`${what} answered a sample that is not a number: ${JSON.stringify(sample)}`);
  return value;
}

function sampleCount(samples: Evaluated, config: PrometheusProviderConfig): number {
  const { value } = samples;
  const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
  if (values.some((v) => typeof v !== 'number')) {
    throw new CutoverError(
      ErrorType.AnalysisQueryRejected,
      `the samples query \`${config.samples ?? ''}\` returned a string; expected a number of requests`,
    );
  }
  return (values as number[]).filter((v) => Number.isFinite(v)).reduce((sum, v) => sum + v, 0);
}
