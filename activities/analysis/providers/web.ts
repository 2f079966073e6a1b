/**
 * Web: GET a JSON document and take the value at a JSONPath (jsonpath-plus, filter expressions in its safe
 * evaluator, never `eval`).
 *
 * The value the conditions see: one match gives that value (a number, a list, a map...), several matches
 * (`$.rates[*]`) the list of them; no match, or a single null, is no data. samplesJsonPath must match one number.
 *
 * A non-2xx answer or a body that is not JSON is retryable (the endpoint may be starting or overloaded); a JSONPath
 * that does not parse is an AnalysisQueryRejectedError. Header values may carry tokens: they are sent, never
 * written into a message or the reading.
 */
import { JSONPath } from 'jsonpath-plus';
import { CutoverError, ErrorType } from '../../errors';
import type { WebProviderConfig } from '../metric';
import type { ProviderContext, Reading } from './reading';
import { getJson } from './reading';

export async function measureWeb(config: WebProviderConfig, ctx: ProviderContext): Promise<Reading> {
  const what = 'web provider';
  const query = `GET ${config.url} jsonPath ${config.jsonPath}`;
  const { status, body } = await getJson(config.url, config.headers ?? {}, ctx, what);
  if (status < 200 || status > 299) throw new Error(`${what}: GET ${config.url} answered HTTP ${status}`);

  const reading: Reading = { query };
  if (config.samplesJsonPath !== undefined) {
    const matches = select(config.samplesJsonPath, body, 'samplesJsonPath');
    const samples = matches.length === 1 ? matches[0] : undefined;
    if (typeof samples !== 'number' || !Number.isFinite(samples)) {
      throw new Error(
        `${what}: samplesJsonPath ${config.samplesJsonPath} matched ${matches.length === 0 ? 'nothing' : JSON.stringify(matches).slice(0, 80)} ` +
          `in the answer of GET ${config.url}; expected one number (the requests in the window)`,
      );
    }
    reading.samples = samples;
  }

  const matches = select(config.jsonPath, body, 'jsonPath');
  if (matches.length === 0) return { ...reading, noData: `jsonPath ${config.jsonPath} matched nothing` };
  if (matches.length === 1) {
    if (matches[0] === null) return { ...reading, noData: `jsonPath ${config.jsonPath} is null` };
    return { ...reading, value: matches[0] };
  }
  return { ...reading, value: matches };
}

function select(path: string, json: unknown, field: 'jsonPath' | 'samplesJsonPath'): unknown[] {
  try {
    const found: unknown = JSONPath({ path, json: json as object, wrap: true, eval: 'safe' });
    return Array.isArray(found) ? (found as unknown[]) : found === undefined ? [] : [found];
  } catch (err) {
    throw new CutoverError(
      ErrorType.AnalysisQueryRejected,
      `${field} ${path} cannot be evaluated: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
