/**
 * `{{args.<name>}}` in a provider's strings (queries, URLs, JSONPaths, header values, dimension values, metric math)
 * replaced by the argument's value. An argument the workflow does not pass is an AnalysisArgUnknownError (the spec
 * cannot work), naming it and the arguments there are.
 */
import { CutoverError, ErrorType } from '../errors';

const PLACEHOLDER = /\{\{\s*args\.([^\s}]*)\s*\}\}/g;

/** Every string inside `value` (objects and arrays walked) with its placeholders replaced. */
export function substituteArgs<T>(value: T, args: Record<string, string>, where: string): T {
  return walk(value, args, where) as T;
}

function walk(value: unknown, args: Record<string, string>, where: string): unknown {
  if (typeof value === 'string') return substitute(value, args, where);
  if (Array.isArray(value)) return value.map((v, i) => walk(v, args, `${where}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, args, `${where}.${k}`)]));
  }
  return value;
}

function substitute(text: string, args: Record<string, string>, where: string): string {
  return text.replace(PLACEHOLDER, (_match, name: string) => {
    const value = Object.hasOwn(args, name) ? args[name] : undefined;
    if (value === undefined) {
      const known = Object.keys(args).sort().join(', ') || 'none';
      throw new CutoverError(
        ErrorType.AnalysisArgUnknown,
        `${where} uses {{args.${name}}}, but there is no argument "${name}" (the arguments are: ${known})`,
      );
    }
    return value;
  });
}
