/**
 * The deployment spec: the one schema every edge (CLI, HTTP hooks, client API,
 * the Temporal UI's start form via the workflow itself) validates against.
 * Imported as `workflows/spec`, one file per part:
 *
 * - limits.ts: what a spec may hold at most (SPEC_LIMITS) and shared defaults;
 * - duration.ts: duration parsing ("30s", "5m"... or milliseconds);
 * - fields.ts: the bounded field types (text, URLs, commands, env, names);
 * - health.ts, platform.ts, router.ts: the health probe, the platforms, the routers;
 * - blue-green.ts, rolling.ts, canary.ts: the schema of each strategy (one-of.ts: sections that are one of
 *   several keys, such as a canary step);
 * - analysis.ts: the analysis templates canary steps measure (providers, CEL conditions, limits);
 * - schema.ts: the whole spec, its cross-field checks and its types;
 * - validate.ts: validating a spec as written, the issues that name each bad field.
 *
 * Pure modules: zod (and the pure-JS CEL parser in analysis.ts) only, no Node built-ins, so workflows may import them.
 */
export { DEFAULT_START_TIMEOUT_MS, SPEC_LIMITS } from './limits';
export { duration, parseDuration } from './duration';
export { utf8Bytes } from './fields';
export { healthSchema } from './health';
export { kubernetesPlatformSchema, localPlatformSchema, platformSchema } from './platform';
export {
  albTargetGroupPolicySchema,
  awsAlbRouterSchema,
  checkKubernetesServiceRouter,
  kubernetesServiceRouterSchema,
  localRouterSchema,
  nginxRouterSchema,
  routerSchema,
} from './router';
export { approvalSchema, blueGreenSchema, previewSchema } from './blue-green';
export { rollingPauseSchema, rollingSchema, rollingStepSchema } from './rolling';
export {
  ANALYSIS_LIMITS,
  analysisMetricSchema,
  analysisRefSchema,
  analysisSchema,
  analysisTemplateSchema,
  BUILT_IN_ANALYSIS_ARGS,
  cloudwatchProviderSchema,
  conditionEnvironment,
  conditionProblem,
  insufficientSamplesSchema,
  placeholdersIn,
  prometheusProviderSchema,
  providerSchema,
  webProviderSchema,
} from './analysis';
export type {
  AnalysisMetric,
  AnalysisProvider,
  AnalysisSection,
  AnalysisTemplate,
  CloudWatchProvider,
  InsufficientSamplesPolicy,
  PrometheusProvider,
  WebProvider,
} from './analysis';
export {
  backgroundAnalysisSchema,
  CANARY_PRESETS,
  canaryPauseSchema,
  canaryScaleSchema,
  canarySchema,
  canaryStepSchema,
  headerRouteSchema,
  presetSteps,
} from './canary';
export type { CanaryPreset, CanaryStep } from './canary';
export type { OneOf } from './one-of';
export { deploymentSpecSchema, isBlueGreenSpec, isCanarySpec, isRollingSpec, strategySchema } from './schema';
export type {
  BlueGreenSpec,
  BlueGreenStrategy,
  CanarySpec,
  CanaryStrategy,
  DeploymentSpec,
  DeploymentSpecInput,
  HealthCheck,
  PlatformConfig,
  RollingSpec,
  RollingStep,
  RollingStrategy,
  RouterConfig,
} from './schema';
export { formatSpecIssues, validateSpec } from './validate';
export type { SpecIssue, SpecResult } from './validate';
