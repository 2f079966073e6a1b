/**
 * One measurement of one analysis metric: ask its provider (args substituted, within the provider's timeout), then
 * judge the value as Argo Rollouts does:
 *
 * 1. minSamples set and fewer samples: insufficient (the conditions are not evaluated);
 * 2. no data (no series, no datapoint, nothing at the JSONPath): inconclusive, never successful (Argo Rollouts #1466);
 * 3. failureCondition true: failed;
 * 4. successCondition given: true is successful; false is failed without a failureCondition, else inconclusive;
 * 5. only a failureCondition, false: successful.
 *
 * A provider that cannot be reached or answers garbage throws (retryable); a metric that cannot work (no provider,
 * an unknown arg, a condition that fails on the value's type, a rejected query) throws a CutoverError of a stable
 * name, which the activity boundary makes non-retryable.
 */
import type { Measurement, MeasureMetricInput, MeasurementPhase } from '../../workflows/analysis/types';
import { CutoverError, ErrorType } from '../errors';
import { substituteArgs } from './args';
import { evaluateCondition } from './conditions';
import type { AnalysisMetric, AnalysisProvider } from './metric';
import type { CloudWatchApi } from './providers/cloudwatch';
import { measureCloudWatch, newSdkCloudWatchApi } from './providers/cloudwatch';
import { measurePrometheus } from './providers/prometheus';
import type { ProviderContext, Reading } from './providers/reading';
import { measureWeb } from './providers/web';

export const DEFAULT_PROVIDER_TIMEOUT_MS = 10_000;
/** Lists (and maps) in a Measurement's value keep this many items: payloads stay small. */
export const MAX_VALUE_ITEMS = 20;

type ProviderName = Measurement['provider'];
const PROVIDERS: readonly ProviderName[] = ['prometheus', 'web', 'cloudwatch'];

export interface AnalysisDeps {
  /** The clock (tests pin it). */
  now?: () => Date;
  /** The CloudWatch client for a region and endpoint; default the AWS SDK's, closed after each measurement. */
  cloudWatch?: (config: { region: string; endpoint?: string }) => CloudWatchApi & { close?(): void };
}

export async function measure(
  input: MeasureMetricInput,
  signal: AbortSignal,
  deps: AnalysisDeps = {},
): Promise<Measurement> {
  const { metric } = input;
  const kind = providerOf(metric);
  checkMetric(metric, kind);
  const where = `analysis metric ${metric.name}: provider.${kind}`;
  const provider = substituteArgs(metric.provider, input.args, `analysis metric ${metric.name}: provider`);

  const measuredAt = (deps.now ?? (() => new Date()))();
  const timeoutMs = provider[kind]?.timeout ?? DEFAULT_PROVIDER_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const ctx: ProviderContext = { signal: AbortSignal.any([signal, timeout]), now: () => measuredAt };
  let reading: Reading;
  try {
    reading = await read(kind, provider, ctx, deps);
  } catch (err) {
    if (timeout.aborted && !signal.aborted) {
      throw new Error(`${where}: no answer within ${timeoutMs} ms (the provider's timeout)`);
    }
    throw err;
  }

  const { phase, message } = judge(metric, reading);
  return {
    metric: metric.name,
    provider: kind,
    query: reading.query,
    ...(reading.window ? { window: reading.window } : {}),
    value: small(reading.value ?? null),
    ...(reading.samples !== undefined ? { samples: reading.samples } : {}),
    phase,
    message,
    measuredAt: measuredAt.toISOString(),
  };
}

async function read(
  kind: ProviderName,
  provider: AnalysisProvider,
  ctx: ProviderContext,
  deps: AnalysisDeps,
): Promise<Reading> {
  if (kind === 'prometheus' && provider.prometheus) return measurePrometheus(provider.prometheus, ctx);
  if (kind === 'web' && provider.web) return measureWeb(provider.web, ctx);
  const config = provider.cloudwatch;
  if (!config) throw new Error(`no ${kind} provider`); // providerOf() has checked: unreachable
  const api = (deps.cloudWatch ?? newSdkCloudWatchApi)({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
  });
  try {
    return await measureCloudWatch(config, ctx, api);
  } finally {
    api.close?.();
  }
}

/** The verdict on one reading (Argo Rollouts' semantics; see the top of this file). */
export function judge(metric: AnalysisMetric, reading: Reading): { phase: MeasurementPhase; message: string } {
  if (metric.minSamples !== undefined) {
    const samples = reading.samples ?? 0;
    if (samples < metric.minSamples) {
      return { phase: 'insufficient', message: `${samples} samples < minSamples ${metric.minSamples}` };
    }
  }
  if (reading.value === undefined) {
    return { phase: 'inconclusive', message: `no data: ${reading.noData ?? 'the provider returned nothing'}` };
  }
  const result = `result ${render(reading.value)}`;
  const said: string[] = [];
  const verdict = (phase: MeasurementPhase) => ({ phase, message: `${result}: ${said.join(', ')}: ${phase}` });

  if (metric.failureCondition !== undefined) {
    const failed = evaluateCondition('failureCondition', metric.failureCondition, reading.value);
    said.push(`failureCondition \`${metric.failureCondition}\` ${failed}`);
    if (failed) return verdict('failed');
  }
  if (metric.successCondition !== undefined) {
    const succeeded = evaluateCondition('successCondition', metric.successCondition, reading.value);
    said.unshift(`successCondition \`${metric.successCondition}\` ${succeeded}`);
    if (succeeded) return verdict('successful');
    return verdict(metric.failureCondition === undefined ? 'failed' : 'inconclusive');
  }
  return verdict('successful');
}

function providerOf(metric: AnalysisMetric): ProviderName {
  const given = PROVIDERS.filter((name) => metric.provider?.[name] !== undefined);
  const [only] = given;
  if (given.length !== 1 || only === undefined) {
    throw new CutoverError(
      ErrorType.SpecInvalid,
      `analysis metric ${metric.name}: provider has ${given.length === 0 ? 'none' : given.join(' and ')}; ` +
        `expected exactly one of ${PROVIDERS.join(', ')}`,
    );
  }
  return only;
}

function checkMetric(metric: AnalysisMetric, kind: ProviderName): void {
  const invalid = (message: string) =>
    new CutoverError(ErrorType.SpecInvalid, `analysis metric ${metric.name}: ${message}`);
  if (metric.successCondition === undefined && metric.failureCondition === undefined) {
    throw invalid('neither successCondition nor failureCondition is given; expected at least one');
  }
  if (metric.minSamples === undefined) return;
  const samplesField = { prometheus: 'samples', web: 'samplesJsonPath', cloudwatch: 'samples' }[kind];
  const config = metric.provider[kind] as Record<string, unknown> | undefined;
  if (config?.[samplesField] === undefined) {
    throw invalid(
      `minSamples is set but provider.${kind}.${samplesField} is not; expected the query of the sample count`,
    );
  }
}

/** A value as a message shows it: compact JSON, cut at 60 characters. */
function render(value: unknown): string {
  if (typeof value === 'number') return String(value);
  const json = JSON.stringify(small(value)) ?? String(value);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

/** The value as a Measurement carries it: lists and maps cut to MAX_VALUE_ITEMS, non-finite numbers as strings. */
export function small(value: unknown, depth = 0): unknown {
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string') return value.length > 200 ? `${value.slice(0, 197)}...` : value;
  if (depth > 4) return Array.isArray(value) ? '[...]' : value !== null && typeof value === 'object' ? '{...}' : value;
  if (Array.isArray(value)) return value.slice(0, MAX_VALUE_ITEMS).map((v) => small(v, depth + 1));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .slice(0, MAX_VALUE_ITEMS)
        .map(([k, v]) => [k, small(v, depth + 1)]),
    );
  }
  return value;
}
