/**
 * The local router's rule set: backends (named target lists), each module's
 * weighted backends, and each module's preview backend. Kept in memory for
 * the proxy (read on every request) and persisted atomically on every change,
 * before the change is acknowledged, so a restarted router keeps its rules.
 */
import { z } from 'zod';
import type { WeightedBackend } from '../../ports';
import { readJsonFile, writeJsonAtomic } from '../../fs/atomic-file';

export interface RouterState {
  backends: ReadonlyMap<string, readonly string[]>;
  rules: ReadonlyMap<string, readonly WeightedBackend[]>;
  previews: ReadonlyMap<string, string>;
}

export interface MutableRouterState {
  backends: Map<string, string[]>;
  rules: Map<string, WeightedBackend[]>;
  previews: Map<string, string>;
}

/** An admin request the router refuses (4xx), with a message naming the offending field. */
export class AdminError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

/** A target is an origin: scheme://host:port, nothing more. Returns its canonical form. */
export function normalizeTarget(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`"${raw}" is not an absolute URL such as http://127.0.0.1:8080`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`"${raw}" must use http or https`);
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    throw new Error(`"${raw}" must be an origin (scheme://host:port) without path, query or credentials`);
  }
  return url.origin;
}

/** Targets in one request: a replica set's worth (the spec allows 10,000 replicas). */
export const MAX_TARGETS = 10_000;

const targetSchema = z
  .string({ error: 'expected a target URL such as http://127.0.0.1:8080' })
  .transform((value, ctx) => {
    try {
      return normalizeTarget(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

export const backendNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'must be 1-100 letters, digits, ".", "_" or "-"')
  .refine((name) => name !== 'default', '"default" is reserved for the default rule');

export const moduleNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/, 'must be 1-100 letters, digits, "_", "-" or "."');

export const targetsBodySchema = z
  .object({
    targets: z
      .array(targetSchema, { error: 'expected an array of target URLs' })
      .max(MAX_TARGETS, `at most ${MAX_TARGETS} targets per request`),
  })
  .strict();

const weightedBackendSchema = z
  .object({ backend: backendNameSchema, weight: z.number().int().min(0).max(100) })
  .strict();

export const ruleBodySchema = z
  .object({
    backends: z
      .array(weightedBackendSchema, { error: 'expected an array of {backend, weight}' })
      .min(1, 'at least one backend is needed')
      .max(10, 'at most 10 backends per rule'),
  })
  .strict()
  .superRefine((body, ctx) => {
    const seen = new Set<string>();
    body.backends.forEach((b, i) => {
      if (seen.has(b.backend))
        ctx.addIssue({ code: 'custom', path: ['backends', i, 'backend'], message: `"${b.backend}" is listed twice` });
      seen.add(b.backend);
    });
    if (!body.backends.some((b) => b.weight > 0)) {
      ctx.addIssue({ code: 'custom', path: ['backends'], message: 'at least one backend needs a weight above 0' });
    }
  });

/** Modules in one PUT /rules: every module of a switch (a spec has at most 250). */
export const MAX_BATCH_MODULES = 1_000;

/** PUT /rules: many modules' rules at once, each as PUT /rules/:module takes it. */
export const rulesBodySchema = z
  .object({
    modules: z.record(z.string(), ruleBodySchema, { error: 'expected an object {"<module>": {"backends": [...]}}' }),
  })
  .strict()
  .superRefine((body, ctx) => {
    const names = Object.keys(body.modules);
    if (names.length > MAX_BATCH_MODULES) {
      ctx.addIssue({ code: 'custom', path: ['modules'], message: `at most ${MAX_BATCH_MODULES} modules per request` });
    }
    for (const name of names) {
      const checked = moduleNameSchema.safeParse(name);
      if (!checked.success) {
        const message = checked.error.issues[0]?.message ?? 'invalid module name';
        ctx.addIssue({ code: 'custom', path: ['modules', name], message: `module name ${message}` });
      }
    }
  });

export const previewBodySchema = z.object({ backend: backendNameSchema }).strict();

const persistedSchema = z.object({
  version: z.literal(1),
  backends: z.record(z.string(), z.object({ targets: z.array(z.string()) })),
  rules: z.record(z.string(), z.object({ backends: z.array(z.object({ backend: z.string(), weight: z.number() })) })),
  previews: z.record(z.string(), z.string()),
});

/** "backends[0].weight" style field path for messages. */
export function formatZodError(error: z.ZodError, root = 'body'): string {
  return error.issues
    .map((issue) => {
      let field = '';
      for (const part of issue.path)
        field += typeof part === 'number' ? `[${part}]` : `${field ? '.' : ''}${String(part)}`;
      return `${field || root}: ${issue.message}`;
    })
    .join('; ');
}

/** Parses `value` with `schema` or throws a 400 naming the offending field. */
export function parseOr400<T extends z.ZodType>(schema: T, value: unknown, root?: string): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new AdminError(400, formatZodError(result.error, root));
  return result.data;
}

function toJson(state: RouterState): z.infer<typeof persistedSchema> {
  return {
    version: 1,
    backends: Object.fromEntries([...state.backends].map(([name, targets]) => [name, { targets: [...targets] }])),
    rules: Object.fromEntries([...state.rules].map(([module, backends]) => [module, { backends: [...backends] }])),
    previews: Object.fromEntries(state.previews),
  };
}

function fromJson(json: z.infer<typeof persistedSchema>): MutableRouterState {
  return {
    backends: new Map(Object.entries(json.backends).map(([name, b]) => [name, b.targets])),
    rules: new Map(Object.entries(json.rules).map(([module, r]) => [module, r.backends])),
    previews: new Map(Object.entries(json.previews)),
  };
}

function clone(state: RouterState): MutableRouterState {
  return {
    backends: new Map([...state.backends].map(([k, v]) => [k, [...v]])),
    rules: new Map([...state.rules].map(([k, v]) => [k, v.map((w) => ({ ...w }))])),
    previews: new Map(state.previews),
  };
}

/** The rule set plus its file. Mutations run one at a time and are persisted before they become visible. */
export class RuleTable {
  private state: RouterState;
  private writeCount = 0;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly file: string,
    initial: RouterState,
  ) {
    this.state = initial;
  }

  /** Loads `file` (a missing file is an empty rule set; a corrupt one is an error, never silently dropped). */
  static async load(file: string): Promise<RuleTable> {
    const raw = await readJsonFile(file);
    if (raw === undefined) return new RuleTable(file, { backends: new Map(), rules: new Map(), previews: new Map() });
    const parsed = persistedSchema.safeParse(raw);
    if (!parsed.success)
      throw new Error(`router state file ${file} is invalid: ${formatZodError(parsed.error, '(root)')}`);
    return new RuleTable(file, fromJson(parsed.data));
  }

  /** The rules in force now (an immutable snapshot: replaced, never modified, by mutations). */
  get current(): RouterState {
    return this.state;
  }

  /** Writes of the file since the router started (one per mutation that succeeded; GET /stats "ruleWrites"). */
  get writes(): number {
    return this.writeCount;
  }

  toJson(): ReturnType<typeof toJson> {
    return toJson(this.state);
  }

  /** Applies `change` to a copy, persists the copy, then makes it current. `change` may throw AdminError. */
  mutate<T>(change: (draft: MutableRouterState) => T): Promise<T> {
    const run = async (): Promise<T> => {
      const draft = clone(this.state);
      const result = change(draft);
      await writeJsonAtomic(this.file, toJson(draft));
      this.writeCount++;
      this.state = draft;
      return result;
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** Refuses (400) a rule naming a backend that does not exist; `field` is where the rule's backends are in the body. */
function requireBackends(draft: MutableRouterState, backends: readonly WeightedBackend[], field: string): void {
  const unknown = backends.findIndex((b) => !draft.backends.has(b.backend));
  if (unknown >= 0) {
    throw new AdminError(400, `${field}[${unknown}].backend: unknown backend "${backends[unknown]?.backend}"`);
  }
}

/** The mutations behind the admin API (pure functions of the draft). */
export const mutations = {
  putBackend(name: string, targets: string[]) {
    return (draft: MutableRouterState): string[] => {
      const unique = [...new Set(targets)];
      draft.backends.set(name, unique);
      return unique;
    };
  },

  deleteBackend(name: string) {
    return (draft: MutableRouterState): boolean => {
      const users = [...draft.rules]
        .filter(([, bs]) => bs.some((b) => b.backend === name))
        .map(([m]) => `rule of ${m}`);
      users.push(...[...draft.previews].filter(([, b]) => b === name).map(([m]) => `preview of ${m}`));
      if (users.length) throw new AdminError(409, `backend "${name}" is still used by: ${users.join(', ')}`);
      return draft.backends.delete(name);
    };
  },

  register(name: string, targets: string[]) {
    return (draft: MutableRouterState): string[] => {
      const current = draft.backends.get(name);
      if (!current) throw new AdminError(404, `backend "${name}" does not exist (PUT /backends/${name} creates it)`);
      const next = [...current, ...targets.filter((t) => !current.includes(t))];
      draft.backends.set(name, [...new Set(next)]);
      return draft.backends.get(name) ?? [];
    };
  },

  deregister(name: string, targets: string[]) {
    return (draft: MutableRouterState): string[] => {
      const current = draft.backends.get(name);
      if (!current) return []; // nothing to deregister: idempotent
      const next = current.filter((t) => !targets.includes(t));
      draft.backends.set(name, next);
      return next;
    };
  },

  putRule(module: string, backends: WeightedBackend[]) {
    return (draft: MutableRouterState): WeightedBackend[] => {
      requireBackends(draft, backends, 'backends');
      draft.rules.set(module, backends);
      return backends;
    };
  },

  /** Every module's rule, or none of them: all are checked before any is set. */
  putRules(rules: [module: string, backends: WeightedBackend[]][]) {
    return (draft: MutableRouterState): void => {
      for (const [module, backends] of rules) requireBackends(draft, backends, `modules.${module}.backends`);
      for (const [module, backends] of rules) draft.rules.set(module, backends);
    };
  },

  deleteRule(module: string) {
    return (draft: MutableRouterState): boolean => draft.rules.delete(module);
  },

  putPreview(module: string, backend: string) {
    return (draft: MutableRouterState): void => {
      if (!draft.backends.has(backend)) throw new AdminError(400, `backend: unknown backend "${backend}"`);
      draft.previews.set(module, backend);
    };
  },

  deletePreview(module: string) {
    return (draft: MutableRouterState): boolean => draft.previews.delete(module);
  },
};
