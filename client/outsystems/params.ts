/**
 * Decoding and validating one hook call as LifeTime sends it: an HTTP GET
 * whose protocol parameters are each Base64-encoded (`Address`,
 * `ApplicationName`, `ApplicationKey`, `OperationId`, `TargetPath`,
 * `ResultPath`, `ConfigPath`, and `ModuleNames`, a JSON array). Any other
 * parameter (the token) passes through untouched. A call without `Address`
 * is a connection test.
 *
 * Every problem names the parameter: bad Base64, text that is not UTF-8, a
 * ModuleNames value that is not a JSON array of module names, a missing
 * parameter the stage needs.
 */
import { z } from 'zod';
import type { HookCall, HookStage } from '../../workflows/outsystems/types';
import { HOOK_STAGES } from '../../workflows/outsystems/types';
import { SPEC_LIMITS } from '../../workflows/spec';

export const PROTOCOL_PARAMETERS = [
  'Address',
  'ApplicationName',
  'ApplicationKey',
  'OperationId',
  'TargetPath',
  'ResultPath',
  'ConfigPath',
  'ModuleNames',
] as const;
export type ProtocolParameter = (typeof PROTOCOL_PARAMETERS)[number];

export interface ParamIssue {
  parameter: string;
  message: string;
}

/** The call is malformed: answered with 400 and nothing starts. */
export class HookParamError extends Error {
  override readonly name = 'HookParamError';
  constructor(readonly issues: ParamIssue[]) {
    super(issues.map((i) => `${i.parameter}: ${i.message}`).join('; '));
  }
}

export type HookRequest =
  | { kind: 'connection-test' }
  | {
      kind: 'operation';
      call: HookCall;
      /** Raw (decoded, not yet confined) paths. */
      paths: { target?: string; result: string; config?: string };
    };

const BASE64_ALPHABET = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * Strict Base64 (standard or URL-safe alphabet, padding optional) to UTF-8
 * text. A "+" that reached us as a space (an unescaped "+" in a query string)
 * is taken back as "+".
 */
export function decodeBase64(parameter: string, raw: string): string {
  const value = raw.replace(/ /g, '+');
  const unpadded = value.replace(/=+$/, '');
  const badLength = unpadded.length % 4 === 1 || (value.length !== unpadded.length && value.length % 4 !== 0);
  if (!BASE64_ALPHABET.test(value) || badLength) {
    throw new HookParamError([{ parameter, message: 'is not valid Base64' }]);
  }
  const bytes = Buffer.from(unpadded.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  // Reject encodings with stray bits in the last character (not produced by any encoder).
  if (bytes.toString('base64').replace(/=+$/, '') !== unpadded.replace(/-/g, '+').replace(/_/g, '/')) {
    throw new HookParamError([{ parameter, message: 'is not valid Base64' }]);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new HookParamError([{ parameter, message: 'decodes to bytes that are not UTF-8 text' }]);
  }
}

const missingOr = (what: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? 'is missing' : `must be ${what}`;

/** GUID-like: used in file names and workflow ids, so no separators of any kind. */
const identifier = z
  .string({ error: missingOr('text') })
  .min(1, 'is empty')
  .max(100, 'is longer than 100 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9-]*$/, 'must be letters, digits and "-" (a GUID)');

const text = z
  .string({ error: missingOr('text') })
  .min(1, 'is empty')
  .max(1000, 'is longer than 1000 characters');

const moduleName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'module names are letters, digits, "_", "-" and "."');

const moduleNames = z
  .string({ error: missingOr('text') })
  .transform((value, ctx): unknown => {
    try {
      return JSON.parse(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `is not JSON (${(err as Error).message})` });
      return z.NEVER;
    }
  })
  .pipe(
    z
      .array(moduleName, { error: 'must be a JSON array of module names' })
      .max(SPEC_LIMITS.modules, `names more than ${SPEC_LIMITS.modules} modules (the most a deployment may have)`)
      .refine((m) => new Set(m).size === m.length, 'names a module twice'),
  );

const callSchema = z.object({
  Address: text,
  ApplicationName: text,
  ApplicationKey: identifier,
  OperationId: identifier,
  ResultPath: text,
  TargetPath: text.optional(),
  ConfigPath: text.optional(),
  ModuleNames: moduleNames.optional(),
});

/** Which optional parameters each stage cannot do without. */
const REQUIRED_BY_STAGE: Record<HookStage, ProtocolParameter[]> = {
  build: ['TargetPath'],
  run: ['ModuleNames'],
  configs: ['ModuleNames', 'ConfigPath'],
  remove: [],
};

type Query = Record<string, string | string[] | undefined>;

/** Decodes and validates one hook call; throws HookParamError naming every bad parameter. */
export function parseHookRequest(stage: HookStage, query: Query): HookRequest {
  const decoded: Partial<Record<ProtocolParameter, string>> = {};
  const issues: ParamIssue[] = [];
  for (const parameter of PROTOCOL_PARAMETERS) {
    const raw = query[parameter];
    if (raw === undefined) continue;
    if (Array.isArray(raw)) {
      issues.push({ parameter, message: 'is given more than once' });
      continue;
    }
    try {
      decoded[parameter] = decodeBase64(parameter, raw);
    } catch (err) {
      if (err instanceof HookParamError) issues.push(...err.issues);
      else throw err;
    }
  }
  if (issues.length) throw new HookParamError(issues);
  if (query.Address === undefined) return { kind: 'connection-test' };

  const result = callSchema.safeParse(decoded);
  if (!result.success) {
    throw new HookParamError(
      result.error.issues.map((issue) => ({ parameter: String(issue.path[0] ?? '(query)'), message: issue.message })),
    );
  }
  const p = result.data;
  const missing = REQUIRED_BY_STAGE[stage].filter((name) => p[name] === undefined);
  if (missing.length) {
    throw new HookParamError(
      missing.map((parameter) => ({
        parameter,
        message: `is missing (the ${HOOK_STAGES[stage].title} hook needs it)`,
      })),
    );
  }
  if ((stage === 'run' || stage === 'configs') && p.ModuleNames?.length === 0) {
    throw new HookParamError([{ parameter: 'ModuleNames', message: 'is an empty list (nothing to deploy)' }]);
  }
  return {
    kind: 'operation',
    call: {
      address: p.Address,
      applicationName: p.ApplicationName,
      applicationKey: p.ApplicationKey,
      operationId: p.OperationId,
      modules: p.ModuleNames ?? [],
    },
    paths: { target: p.TargetPath, result: p.ResultPath, config: p.ConfigPath },
  };
}

/** Base64 of UTF-8 text, as LifeTime encodes each parameter (for tests, docs and tooling). */
export function encodeParam(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64');
}

/** The query string LifeTime would send for these parameters, plus pass-through extras (the token). */
export function hookQuery(
  params: Partial<Record<ProtocolParameter, string>>,
  extra: Record<string, string> = {},
): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) search.set(name, encodeParam(value));
  for (const [name, value] of Object.entries(extra)) search.set(name, value);
  return search.toString();
}
