/**
 * The analysis section (`analysis`): templates of metrics a canary step or a background analysis measures, each
 * through one provider (Prometheus, a web endpoint, CloudWatch) and judged by CEL conditions on `result`
 * (Argo Rollouts' AnalysisTemplate, with its limits: failureLimit, inconclusiveLimit, consecutiveErrorLimit).
 *
 * The conditions are parsed and type-checked here, so a bad expression is a spec error naming its field; the
 * measurement activity evaluates them. `{{args.<name>}}` in a provider's strings is replaced by the analysis' args.
 *
 * Part of the deployment spec (workflows/spec/index.ts): pure, zod and the CEL parser (pure JS, no dependencies),
 * no Node built-ins, so workflows import it.
 */
import { Environment } from '@marcbachmann/cel-js';
import { z } from 'zod';
import { durationUpTo } from './duration';
import { httpUrl, name, text } from './fields';
import { oneOf } from './one-of';
import { parsed } from './parsed';

/** What an analysis section may hold at most (it travels in the spec, the workflow's input). */
export const ANALYSIS_LIMITS = {
  templates: 20,
  metricsPerTemplate: 10,
  /** Measurements of one metric (count); 0 means "until the analysis is ended". */
  count: 1000,
  args: 20,
  headers: 20,
  cloudwatchQueries: 20,
  dimensions: 30,
  conditionChars: 1024,
  queryChars: 4096,
} as const;

/** The args every analysis gets from the workflow; a step's or a background analysis' args may not redefine them. */
export const BUILT_IN_ANALYSIS_ARGS = [
  'application',
  'version',
  'stableVersion',
  'canary',
  'stable',
  'modules',
] as const;

/** `{{args.<name>}}` in a provider's strings (spaces inside the braces allowed). */
export const ARG_PLACEHOLDER = /\{\{\s*args\.([A-Za-z0-9_-]+)\s*\}\}/g;

/** The arg names a provider section refers to, in order of first use. */
export function placeholdersIn(value: unknown): string[] {
  const found = new Set<string>();
  for (const match of JSON.stringify(value ?? null).matchAll(ARG_PLACEHOLDER)) found.add(match[1] as string);
  return [...found];
}

/**
 * CEL conditions see one variable, `result` (a number, or a list/map for web); anything else is a typo. The
 * measurement may evaluate with this same environment (`conditionEnvironment.evaluate(condition, { result })`), so
 * what validation accepted is what is evaluated.
 */
export const conditionEnvironment = new Environment({
  limits: { maxAstNodes: 500, maxDepth: 32, maxListElements: 100, maxMapEntries: 100, maxCallArguments: 8 },
}).registerVariable('result', 'dyn');

/** Why a condition is not a CEL boolean expression over `result`, or undefined when it is one. */
export function conditionProblem(expression: string): string | undefined {
  let checked: ReturnType<Environment['check']>;
  try {
    checked = conditionEnvironment.check(expression);
  } catch (error) {
    // check() reports parse and type errors in its result; a structural limit may still throw.
    return `not a valid CEL expression: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
  }
  if (!checked.valid) {
    const at = checked.error?.range ? ` (at character ${checked.error.range.start + 1})` : '';
    return `not a valid CEL expression: ${checked.error?.summary ?? 'rejected'}${at}`;
  }
  if (checked.type !== 'bool' && checked.type !== 'dyn') {
    return `must be a condition (a bool) on result, such as "result < 0.05"; this expression is a ${checked.type}`;
  }
  return undefined;
}

const condition = text(ANALYSIS_LIMITS.conditionChars)
  .min(1, 'may not be empty')
  .superRefine((expression, ctx) => {
    const problem = conditionProblem(expression);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** A provider's query (PromQL, a CloudWatch expression): non-empty, bounded. */
const query = text(ANALYSIS_LIMITS.queryChars).min(1, 'may not be empty');

/** An http(s) URL that may hold `{{args.<name>}}` placeholders (checked with each replaced by a plain word). */
const urlWithArgs = text(2048).superRefine((url, ctx) => {
  if (!httpUrl.safeParse(url.replace(ARG_PLACEHOLDER, 'arg')).success) {
    ctx.addIssue({ code: 'custom', message: 'expected an http(s) URL such as http://127.0.0.1:9090/metrics' });
  }
});

/** A provider call's timeout: at most 5 minutes (a measurement is one activity call). */
const providerTimeout = durationUpTo(300_000, '5m').default(10_000);

const jsonPath = text(256).startsWith('$', 'expected a JSONPath starting with "$", such as "$.errorRate"');

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;

export const prometheusProviderSchema = z
  .object({
    /** The Prometheus server (its HTTP API is at <address>/api/v1/query). */
    address: urlWithArgs,
    /** PromQL whose value is the measurement's `result` (a scalar or a single-sample vector). */
    query,
    /** PromQL whose value is the number of requests in the window (needed by minSamples). */
    samples: query.optional(),
    timeout: providerTimeout,
  })
  .strict();

export const webProviderSchema = z
  .object({
    /** GET this URL; the JSON answer is read with jsonPath. */
    url: urlWithArgs,
    jsonPath,
    /** Where the number of requests in the window is in the same answer (needed by minSamples). */
    samplesJsonPath: jsonPath.optional(),
    /** Request headers. Specs end up in workflow history: no secrets here. */
    headers: z
      .record(z.string(), text(1024))
      .superRefine((headers, ctx) => {
        const keys = Object.keys(headers);
        if (keys.length > ANALYSIS_LIMITS.headers) {
          ctx.addIssue({ code: 'custom', message: `must have at most ${ANALYSIS_LIMITS.headers} headers` });
          return;
        }
        for (const key of keys.filter((k) => !HEADER_NAME.test(k))) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: "header names are 1-100 letters, digits and -_.!#$%&'*+^`|~",
          });
        }
      })
      .default({}),
    timeout: providerTimeout,
  })
  .strict();

const CLOUDWATCH_ID = /^[a-z][A-Za-z0-9_]{0,254}$/;
const cloudwatchId = z
  .string()
  .regex(CLOUDWATCH_ID, 'a CloudWatch query id: a lower-case letter, then letters, digits and "_"');

const metricStatSchema = z
  .object({
    namespace: text(255).min(1, 'may not be empty'),
    metricName: text(255).min(1, 'may not be empty'),
    dimensions: z
      .array(z.object({ name: text(255).min(1, 'may not be empty'), value: text(1024) }).strict())
      .max(ANALYSIS_LIMITS.dimensions, `must have at most ${ANALYSIS_LIMITS.dimensions} dimensions`)
      .default([]),
    /** A statistic: Average, Sum, Minimum, Maximum, SampleCount, or a percentile such as p99. */
    stat: text(100).min(1, 'may not be empty'),
    unit: text(50).optional(),
  })
  .strict();

const cloudwatchQuerySchema = z
  .object({
    id: cloudwatchId,
    metricStat: metricStatSchema.optional(),
    /** A metric math expression over the other queries' ids, e.g. "m1 / m2". */
    expression: query.optional(),
    /** Whether this query's value is returned (CloudWatch's ReturnData); the one returned is `result`. */
    returnData: z.boolean().optional(),
  })
  .strict()
  .superRefine((q, ctx) => {
    if ((q.metricStat === undefined) === (q.expression === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a query has exactly one of metricStat and expression' });
    }
  });

export const cloudwatchProviderSchema = z
  .object({
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'expected an AWS region such as eu-west-1'),
    /** Another CloudWatch endpoint (moto in tests, a VPC endpoint); default: the region's. */
    endpoint: httpUrl.optional(),
    /** Seconds per data point (CloudWatch's Period: 1, 5, 10, 30 or a multiple of 60). */
    period: z
      .number()
      .int()
      .refine((p) => [1, 5, 10, 30].includes(p) || (p > 0 && p % 60 === 0), 'must be 1, 5, 10, 30 or a multiple of 60')
      .default(60),
    /** How far back from now each measurement looks. */
    window: durationUpTo(86_400_000, '1d').default(300_000),
    queries: z
      .array(cloudwatchQuerySchema)
      .min(1, 'must have at least one query')
      .max(ANALYSIS_LIMITS.cloudwatchQueries, `must have at most ${ANALYSIS_LIMITS.cloudwatchQueries} queries`),
    /** The id of the query whose value is the number of requests in the window (needed by minSamples). */
    samples: cloudwatchId.optional(),
    timeout: providerTimeout,
  })
  .strict()
  .superRefine((p, ctx) => {
    if (!parsed(ctx, 'queries', 'samples')) return;
    const ids = p.queries.map((q) => q.id);
    ids.forEach((id, i) => {
      if (ids.indexOf(id) !== i)
        ctx.addIssue({ code: 'custom', path: ['queries', i, 'id'], message: `id "${id}" is used twice` });
    });
    if (p.samples !== undefined && !ids.includes(p.samples)) {
      ctx.addIssue({
        code: 'custom',
        path: ['samples'],
        message: `must be the id of one of the queries (${ids.join(', ')})`,
      });
    }
  });

export const providerSchema = oneOf(
  { prometheus: prometheusProviderSchema, web: webProviderSchema, cloudwatch: cloudwatchProviderSchema },
  'a provider',
);

/** Whether the provider can say how many requests a measurement's window held (what minSamples compares). */
export function hasSamplesSource(provider: z.output<typeof providerSchema>): boolean {
  if (provider.prometheus) return provider.prometheus.samples !== undefined;
  if (provider.web) return provider.web.samplesJsonPath !== undefined;
  return provider.cloudwatch.samples !== undefined;
}

const limit = z.number().int().min(0).max(ANALYSIS_LIMITS.count);

export const analysisMetricSchema = z
  .object({
    name: name('metric names'),
    provider: providerSchema,
    /** Between measurements. */
    interval: durationUpTo(86_400_000, '1d')
      .refine((ms) => ms >= 1000, 'must be at least 1s')
      .default(60_000),
    /** Measurements to take; 0 = until the analysis is ended (background analysis only). */
    count: z.number().int().min(0).max(ANALYSIS_LIMITS.count).default(1),
    /** Before the first measurement. */
    initialDelay: durationUpTo(86_400_000, '1d').default(0),
    successCondition: condition.optional(),
    failureCondition: condition.optional(),
    failureLimit: limit.default(0),
    inconclusiveLimit: limit.default(0),
    consecutiveErrorLimit: limit.default(4),
    /** Measurements whose window held fewer requests are "insufficient" (not judged); needs the provider's samples. */
    minSamples: z.number().int().min(1).max(1_000_000_000).optional(),
    /** Measured and shown, never decides. */
    dryRun: z.boolean().default(false),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.successCondition === undefined && m.failureCondition === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['successCondition'],
        message: 'set successCondition or failureCondition (or both), e.g. successCondition: "result < 0.05"',
      });
    }
    if (m.minSamples !== undefined && parsed(ctx, 'provider') && !hasSamplesSource(m.provider)) {
      ctx.addIssue({
        code: 'custom',
        path: ['minSamples'],
        message:
          'needs a samples source in the provider (prometheus.samples, web.samplesJsonPath or cloudwatch.samples)',
      });
    }
  });

export const analysisTemplateSchema = z
  .object({
    metrics: z
      .array(analysisMetricSchema)
      .min(1, 'must have at least one metric')
      .max(ANALYSIS_LIMITS.metricsPerTemplate, `must have at most ${ANALYSIS_LIMITS.metricsPerTemplate} metrics`)
      .superRefine((metrics, ctx) => {
        if (ctx.issues.length) return; // some metric did not parse: its name may be anything
        const names = metrics.map((m) => m.name);
        names.forEach((n, i) => {
          if (names.indexOf(n) !== i) {
            ctx.addIssue({
              code: 'custom',
              path: [i, 'name'],
              message: `metric "${n}" is defined twice in this template`,
            });
          }
        });
      }),
  })
  .strict();

const templateName = name('template names');

export const insufficientSamplesSchema = z
  .object({
    /** A step keeps measuring (extends) up to this long past its planned end while too few requests arrive. */
    deadline: durationUpTo(86_400_000, '1d').default(600_000),
    /** Then: pause (a durable gate for a person), fail, or pass. */
    policy: z.enum(['pause', 'fail', 'pass']).default('pause'),
  })
  .strict();

export const analysisSchema = z
  .object({
    templates: z
      .record(z.string(), analysisTemplateSchema)
      .superRefine((templates, ctx) => {
        const keys = Object.keys(templates);
        if (keys.length > ANALYSIS_LIMITS.templates) {
          ctx.addIssue({ code: 'custom', message: `must have at most ${ANALYSIS_LIMITS.templates} templates` });
          return;
        }
        for (const key of keys) {
          const problem = templateName.safeParse(key).error?.issues[0]?.message;
          if (problem) ctx.addIssue({ code: 'custom', path: [key], message: problem });
        }
      })
      .default({}),
    insufficientSamples: insufficientSamplesSchema.default({ deadline: 600_000, policy: 'pause' }),
  })
  .strict();

/** Args a step or a background analysis adds to the built-in ones. */
export const analysisArgsSchema = z
  .record(z.string(), z.string({ error: 'arg values are strings (quote numbers and booleans)' }).pipe(text(1024)))
  .superRefine((args, ctx) => {
    const keys = Object.keys(args);
    if (keys.length > ANALYSIS_LIMITS.args) {
      ctx.addIssue({ code: 'custom', message: `must have at most ${ANALYSIS_LIMITS.args} args` });
      return;
    }
    for (const key of keys) {
      if (!/^[A-Za-z][A-Za-z0-9_-]{0,39}$/.test(key)) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'arg names are a letter, then letters, digits, "_" and "-"',
        });
      } else if ((BUILT_IN_ANALYSIS_ARGS as readonly string[]).includes(key)) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `"${key}" is filled in by the workflow (${BUILT_IN_ANALYSIS_ARGS.join(', ')}); use another name`,
        });
      }
    }
  });

/** Which templates to run, with which extra args (an analysis step, a background analysis). */
export const analysisRefSchema = z
  .object({
    templates: z
      .array(templateName)
      .min(1, 'must name at least one template')
      .max(ANALYSIS_LIMITS.templates)
      .refine((names) => new Set(names).size === names.length, 'template names must be unique'),
    args: analysisArgsSchema.default({}),
  })
  .strict();

export type AnalysisSection = z.output<typeof analysisSchema>;
export type AnalysisTemplate = z.output<typeof analysisTemplateSchema>;
export type AnalysisMetric = z.output<typeof analysisMetricSchema>;
export type AnalysisProvider = AnalysisMetric['provider'];
export type PrometheusProvider = z.output<typeof prometheusProviderSchema>;
export type WebProvider = z.output<typeof webProviderSchema>;
export type CloudWatchProvider = z.output<typeof cloudwatchProviderSchema>;
export type InsufficientSamplesPolicy = z.output<typeof insufficientSamplesSchema>;
