/**
 * The hook server's configuration file (YAML, validated here): where the
 * token comes from (an environment variable or a file, never the token
 * itself), the roots the hook paths must lie in, where bundles are unpacked,
 * each hook's timeout, and which deployment profile each OutSystems
 * application (by key or by name) is deployed with. See examples/hooks.yaml
 * and docs/outsystems-hooks.md.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { BuildOptions, DeploymentProfile, HookCall, HookStage } from '../../workflows/outsystems/types';
import { duration, SPEC_LIMITS, validateSpec } from '../../workflows/spec';
import type { AnalysisSection, CanaryStrategy } from '../../workflows/spec';

const DEFAULT_HOOK_TIMEOUT = 30 * 60_000;

const absolutePath = (what: string) =>
  z
    .string()
    .min(1)
    .refine((p) => path.isAbsolute(p), `${what} must be an absolute path`);

const dnsLabel = z
  .string()
  .min(1)
  .max(40)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'must be lower-case letters, digits and dashes (DNS label)');

const authSchema = z
  .object({
    /** Name of the environment variable holding the token. */
    tokenEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
      .optional(),
    /** File holding the token (its first line). */
    tokenFile: absolutePath('tokenFile').optional(),
    /** Extra URL parameter carrying the token in the zone's trigger URLs. */
    queryParameter: z.string().min(1).default('token'),
    /** Header carrying the token (for callers that can set headers); `Authorization: Bearer` works too. */
    header: z.string().min(1).default('x-cutover-hook-token'),
  })
  .strict()
  .refine((a) => (a.tokenEnv === undefined) !== (a.tokenFile === undefined), {
    message: 'give exactly one of tokenEnv or tokenFile (the token itself never goes into this file)',
  });

const buildSchema = z
  .object({
    /** Run in the unpacked bundle after unpacking; "{bundleDir}" is replaced (e.g. an image build). */
    command: z.array(z.string().min(1)).min(1).optional(),
    timeout: duration.default(600_000),
    /** Largest total uncompressed size of a bundle, in MiB (zip-bomb guard). */
    maxBundleMiB: z.number().int().min(1).max(65_536).default(2048),
  })
  .strict();

/** A partial deployment spec; the spec fields are validated by the deployment spec schema itself. */
const profileSchema = z
  .object({
    environment: z.unknown().optional(),
    replicas: z.unknown().optional(),
    platform: z.unknown(),
    router: z.unknown(),
    strategy: z.unknown(),
    health: z.unknown().optional(),
    /** A canary profile's analysis templates (what its analysis steps run). */
    analysis: z.unknown().optional(),
    build: buildSchema.default({ timeout: 600_000, maxBundleMiB: 2048 }),
  })
  .strict();

const applicationSchema = z
  .object({
    /** OutSystems ApplicationKey (matched first, case-insensitively). */
    key: z.string().min(1).optional(),
    /** OutSystems ApplicationName (matched case-insensitively when no key matches). */
    name: z.string().min(1).optional(),
    /** Cutover's application name; default: derived from ApplicationName. */
    application: dnsLabel.optional(),
    profile: z.string().min(1),
  })
  .strict()
  .refine((a) => a.key !== undefined || a.name !== undefined, { message: 'give key or name (or both)' });

const hookConfigSchema = z
  .object({
    server: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(8480),
        /** GET /metrics, /healthz and /readyz on the hook port, without the token (docs/operations.md). */
        probes: z.boolean().default(true),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8480, probes: true }),
    auth: authSchema,
    roots: z
      .object({
        target: z.array(absolutePath('a target root')).min(1),
        result: z.array(absolutePath('a result root')).min(1),
        config: z.array(absolutePath('a config root')).default([]),
      })
      .strict(),
    /** Where bundles are unpacked: <buildsRoot>/<application>/builds/<OperationId>/. */
    buildsRoot: absolutePath('buildsRoot'),
    /** Each hook's timeout, as set in the deployment zone (LifeTime's default is 30 minutes). */
    timeouts: z
      .object({
        build: duration.default(DEFAULT_HOOK_TIMEOUT),
        run: duration.default(DEFAULT_HOOK_TIMEOUT),
        configs: duration.default(DEFAULT_HOOK_TIMEOUT),
        remove: duration.default(DEFAULT_HOOK_TIMEOUT),
      })
      .strict()
      .default({
        build: DEFAULT_HOOK_TIMEOUT,
        run: DEFAULT_HOOK_TIMEOUT,
        configs: DEFAULT_HOOK_TIMEOUT,
        remove: DEFAULT_HOOK_TIMEOUT,
      }),
    /** An approval gate closes this long before the hook times out, leaving time to finish and report. */
    finishMargin: duration.default(120_000),
    profiles: z.record(z.string(), profileSchema),
    applications: z.array(applicationSchema),
  })
  .strict();

export type HookConfigInput = z.input<typeof hookConfigSchema>;
export type HookConfig = z.output<typeof hookConfigSchema>;
export type HookProfileConfig = HookConfig['profiles'][string];

export class HookConfigError extends Error {
  override readonly name = 'HookConfigError';
}

/** Strategies the hook server can run (the deployment workflow each one starts). */
export const HOOK_STRATEGIES = ['blue-green', 'canary'] as const;

function issuesOf(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.map(String).join('.') : '(root)'}: ${i.message}`).join('; ');
}

const minutes = (ms: number) => Math.round((ms / 60_000) * 10) / 10;

/** Validates a parsed configuration; every problem names its field. */
export function validateHookConfig(raw: unknown): HookConfig {
  if (raw && typeof raw === 'object' && 'token' in raw) {
    throw new HookConfigError('token: the token never goes into this file; use auth.tokenEnv or auth.tokenFile');
  }
  const parsed = hookConfigSchema.safeParse(raw);
  if (!parsed.success) throw new HookConfigError(issuesOf(parsed.error));
  const config = parsed.data;
  const problems: string[] = [];
  for (const [name, profile] of Object.entries(config.profiles)) {
    const trial = validateSpec({ ...specPart(profile), application: 'probe', version: 'probe', modules: ['Probe'] });
    if (!trial.ok) {
      problems.push(...trial.issues.map((i) => `profiles.${name}.${i.field}: ${i.message}`.replace(/\.\(root\)/, '')));
      continue;
    }
    const strategy = trial.spec.strategy.type;
    if (!(HOOK_STRATEGIES as readonly string[]).includes(strategy)) {
      problems.push(
        `profiles.${name}.strategy.type: the hook server runs ${HOOK_STRATEGIES.join(', ')}, not ${strategy}`,
      );
    } else {
      // A Run still going at the hook deadline is aborted (rolled back): the fixed waits must fit well inside it.
      const room = config.timeouts.run - config.finishMargin;
      const chosen = trial.spec.strategy;
      const waits =
        chosen.type === 'canary'
          ? { field: 'steps', what: 'its timed pauses and analysis steps take', ms: canaryWaits(chosen, trial.spec) }
          : chosen.type === 'blue-green'
            ? { field: 'rollbackWindow', what: 'it takes', ms: chosen.rollbackWindow }
            : undefined;
      const fixed = (waits?.ms ?? 0) + trial.spec.health.deadline;
      if (waits && fixed >= room) {
        problems.push(
          `profiles.${name}.strategy.${waits.field}: with health.deadline ${waits.what} ${minutes(fixed)} min, ` +
            `which does not fit in the run hook's timeout minus finishMargin (${minutes(room)} min): the ` +
            'deployment would be aborted at the hook deadline; shorten it or raise timeouts.run',
        );
      }
    }
  }
  config.applications.forEach((app, i) => {
    if (!config.profiles[app.profile]) {
      problems.push(`applications.${i}.profile: no profile named "${app.profile}"`);
    }
  });
  if (problems.length) throw new HookConfigError(problems.join('; '));
  return config;
}

/**
 * The least time a canary's steps wait whatever happens: its timed pauses, and each analysis step's measurements
 * (initial delay, then an interval between each two). An open pause (`pause: {}`) waits for a person: its gate is
 * cut to the hook deadline like blue-green's approval.
 */
function canaryWaits(strategy: CanaryStrategy, spec: { analysis?: AnalysisSection }): number {
  const analysis = spec.analysis;
  let total = 0;
  for (const step of strategy.steps) {
    total += step.pause?.duration ?? 0;
    if (!step.analysis) continue;
    const metrics = step.analysis.templates.flatMap((t) => analysis?.templates[t]?.metrics ?? []);
    // Metrics run side by side: the step takes as long as its longest.
    total += Math.max(0, ...metrics.map((m) => m.initialDelay + m.interval * Math.max(m.count - 1, 0)));
  }
  return total;
}

export function loadHookConfig(file: string): HookConfig {
  let text: string;
  try {
    const size = fs.statSync(file).size;
    if (size > SPEC_LIMITS.fileBytes) {
      throw new HookConfigError(
        `${file} is ${(size / 1024 / 1024).toFixed(1)} MiB; a hook configuration may be at most ` +
          `${SPEC_LIMITS.fileBytes / 1024 / 1024} MiB`,
      );
    }
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof HookConfigError) throw err;
    throw new HookConfigError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new HookConfigError(`${file} is not valid YAML: ${(err as Error).message}`);
  }
  try {
    return validateHookConfig(raw);
  } catch (err) {
    throw new HookConfigError(`${file}: ${(err as Error).message}`);
  }
}

/** Reads the token from its source; refuses a missing or short one. */
export function loadHookToken(config: HookConfig, env: NodeJS.ProcessEnv = process.env): string {
  const { tokenEnv, tokenFile } = config.auth;
  let token: string | undefined;
  let source: string;
  if (tokenEnv) {
    source = `environment variable ${tokenEnv}`;
    token = env[tokenEnv];
  } else {
    source = `file ${tokenFile}`;
    try {
      token = fs.readFileSync(tokenFile as string, 'utf8').split(/\r?\n/)[0];
    } catch (err) {
      throw new HookConfigError(`cannot read the hook token from ${source}: ${(err as Error).message}`);
    }
  }
  token = token?.trim();
  if (!token) throw new HookConfigError(`the hook token (${source}) is not set`);
  if (token.length < 16) throw new HookConfigError(`the hook token (${source}) is shorter than 16 characters`);
  return token;
}

/** The spec fields of a profile (without the hook-only `build` section). */
export function specPart(profile: HookProfileConfig): DeploymentProfile {
  const { build: _build, ...rest } = profile;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) out[k] = v;
  return out as DeploymentProfile;
}

export function buildOptions(profile: HookProfileConfig): BuildOptions {
  return {
    command: profile.build.command,
    timeoutMs: profile.build.timeout,
    maxBundleBytes: profile.build.maxBundleMiB * 1024 * 1024,
  };
}

export interface ResolvedApplication {
  application: string;
  profileName: string;
  profile: HookProfileConfig;
}

/** Cutover's name for an OutSystems application name: lower-case, dashes, at most 40 characters. */
export function applicationNameFrom(applicationName: string): string {
  return applicationName
    .normalize('NFKD')
    .replace(/\p{M}/gu, '') // accents, split off by NFKD
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
}

/** The mapping entry for a call (by key first, then by name), or undefined for an unknown application. */
export function resolveApplication(config: HookConfig, call: HookCall): ResolvedApplication | undefined {
  const key = call.applicationKey.toLowerCase();
  const name = call.applicationName.toLowerCase();
  const entry =
    config.applications.find((a) => a.key?.toLowerCase() === key) ??
    config.applications.find((a) => a.key === undefined && a.name?.toLowerCase() === name);
  if (!entry) return undefined;
  const profile = config.profiles[entry.profile] as HookProfileConfig;
  const application = entry.application ?? applicationNameFrom(call.applicationName);
  return { application, profileName: entry.profile, profile };
}

export function hookTimeout(config: HookConfig, stage: HookStage): number {
  return config.timeouts[stage];
}
