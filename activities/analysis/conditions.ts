/**
 * A metric's success and failure conditions: CEL (Common Expression Language, github.com/google/cel-spec) over one
 * variable, `result`, evaluated with @marcbachmann/cel-js.
 *
 * Values reach CEL as JSON does: numbers are doubles (`result < 0.05`, `result + 1.0`; `result + 1` mixes double and
 * int and is refused, as CEL's spec says), lists and maps as lists and maps (`result.all(x, x < 0.05)`,
 * `result.errors < 5`), strings as strings (`double(result) < 0.05`).
 *
 * A condition that cannot work — it does not parse, it fails on the value's type (`result < 1` on a string), it reads
 * a key the value lacks, it is not a bool — is an AnalysisConditionError: non-retryable, since measuring again gives
 * a value of the same shape.
 */
import { Environment } from '@marcbachmann/cel-js';
import { CutoverError, ErrorType } from '../errors';

const env = new Environment({ homogeneousAggregateLiterals: false }).registerVariable('result', 'dyn');

export type ConditionName = 'successCondition' | 'failureCondition';

/** Evaluates one condition on `result`; true or false, or throws an AnalysisConditionError naming the field. */
export function evaluateCondition(field: ConditionName, expression: string, result: unknown): boolean {
  let outcome: unknown;
  try {
    outcome = env.evaluate(expression, { result: toCel(result) });
  } catch (err) {
    const reason = err instanceof Error ? firstLine(err.message) : String(err);
    throw new CutoverError(
      ErrorType.AnalysisCondition,
      `${field} \`${expression}\` cannot be evaluated on result ${describe(result)}: ${reason}`,
    );
  }
  if (typeof outcome !== 'boolean') {
    throw new CutoverError(
      ErrorType.AnalysisCondition,
      `${field} \`${expression}\` gave ${describe(outcome)} on result ${describe(result)}; expected a bool (true or false)`,
    );
  }
  return outcome;
}

/** JSON's values for CEL: undefined (a key JSON lacks) becomes null; everything else is taken as it is. */
function toCel(value: unknown): unknown {
  if (value === undefined) return null;
  if (Array.isArray(value)) return value.map(toCel);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toCel(v)]));
  }
  return value;
}

/** A short rendering of a value for a message (its type, and its JSON cut at 80 characters). */
export function describe(value: unknown): string {
  const type = Array.isArray(value)
    ? 'list'
    : value === null
      ? 'null'
      : typeof value === 'object'
        ? 'map'
        : typeof value;
  let json: string;
  try {
    json = typeof value === 'bigint' ? `${value}` : (JSON.stringify(value) ?? String(value));
  } catch {
    json = String(value);
  }
  if (typeof value === 'number' && !Number.isFinite(value)) json = String(value);
  return `${json.length > 80 ? `${json.slice(0, 77)}...` : json} (${type})`;
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0] ?? message;
}
