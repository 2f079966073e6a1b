/**
 * The analysis metric as the spec's `analysis.templates.<name>.metrics[]` parses it (workflows/spec/analysis.ts):
 * durations normalised to milliseconds under their YAML names, the provider exactly one of prometheus / web /
 * cloudwatch. The providers read these names.
 */
import type {
  AnalysisMetric,
  AnalysisProvider,
  CloudWatchProvider,
  PrometheusProvider,
  WebProvider,
} from '../../workflows/spec/analysis';

export type { AnalysisMetric, AnalysisProvider };
export type PrometheusProviderConfig = PrometheusProvider;
export type WebProviderConfig = WebProvider;
export type CloudWatchProviderConfig = CloudWatchProvider;
export type CloudWatchQuery = CloudWatchProvider['queries'][number];
