/**
 * One analysis metric as the spec's `analysis.templates.<name>.metrics[]` parses it: durations normalised to
 * milliseconds under their YAML names, the provider exactly one of prometheus / web / cloudwatch.
 *
 * Stand-in for the spec schema's type (workflows/spec/, written on another branch): structurally the same, and
 * replaced by it when the two are merged.
 */

export interface PrometheusProviderConfig {
  /** The Prometheus server's base URL (`http://127.0.0.1:9090`). */
  address: string;
  /** PromQL evaluated as an instant query; `{{args.<name>}}` substituted. */
  query: string;
  /** PromQL whose value is the number of requests in the window (for minSamples). */
  samples?: string;
  /** ms; default 10 s. */
  timeout?: number;
}

export interface WebProviderConfig {
  url: string;
  /** JSONPath into the answer's body: its match is `result`. */
  jsonPath: string;
  /** JSONPath to the number of requests in the window (for minSamples). */
  samplesJsonPath?: string;
  /** Request headers; values may carry tokens and are never logged or returned. */
  headers?: Record<string, string>;
  /** ms; default 10 s. */
  timeout?: number;
}

export interface CloudWatchDimension {
  name: string;
  value: string;
}

export interface CloudWatchMetricStat {
  namespace: string;
  metricName: string;
  dimensions?: CloudWatchDimension[];
  /** Average, Sum, p99... */
  stat: string;
  unit?: string;
}

export interface CloudWatchMetricStatQuery {
  id: string;
  metricStat: CloudWatchMetricStat;
  returnData?: boolean;
}

export interface CloudWatchExpressionQuery {
  id: string;
  /** Metric math over other queries' ids (`m1/m2`). */
  expression: string;
  returnData?: boolean;
}

export type CloudWatchQuery = CloudWatchMetricStatQuery | CloudWatchExpressionQuery;

export interface CloudWatchProviderConfig {
  region: string;
  /** Another endpoint than AWS's (a local API such as moto). */
  endpoint?: string;
  /** Seconds per datapoint; default 60. */
  period?: number;
  /** ms to look back from now for datapoints; default 5 min. */
  window?: number;
  queries: CloudWatchQuery[];
  /** The id of the query whose value is the number of requests (for minSamples). */
  samples?: string;
  /** ms; default 10 s. */
  timeout?: number;
}

export interface AnalysisProvider {
  prometheus?: PrometheusProviderConfig;
  web?: WebProviderConfig;
  cloudwatch?: CloudWatchProviderConfig;
}

export interface AnalysisMetric {
  name: string;
  provider: AnalysisProvider;
  /** ms between measurements. */
  interval: number;
  count: number;
  /** ms before the first measurement. */
  initialDelay: number;
  /** CEL over `result`. */
  successCondition?: string;
  /** CEL over `result`. */
  failureCondition?: string;
  failureLimit: number;
  inconclusiveLimit: number;
  consecutiveErrorLimit: number;
  minSamples?: number;
  dryRun: boolean;
}
