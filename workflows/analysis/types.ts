/**
 * Contract types of canary analysis: what the measurement activity is asked and what it answers. Pure types; safe
 * in workflow code.
 */
import type { AnalysisMetric } from '../../activities/analysis/metric';

export interface MeasureMetricInput {
  deploymentId: string;
  metric: AnalysisMetric; // normalised, as above
  args: Record<string, string>;
}

export type MeasurementPhase = 'successful' | 'failed' | 'inconclusive' | 'insufficient';

export interface Measurement {
  metric: string; // metric name
  provider: 'prometheus' | 'web' | 'cloudwatch';
  query: string; // what was asked, args substituted (prometheus: the PromQL; web: URL + jsonPath; cloudwatch: a short description of the queries)
  window?: { from: string; to: string }; // ISO times the value covers when the provider says (prometheus: evaluation time; cloudwatch: start/end)
  value: unknown; // the raw value the conditions saw (number, list or map), JSON-serialisable, small (truncate lists to 20 items)
  samples?: number; // requests that reached the canary in the window, when minSamples is set
  phase: MeasurementPhase;
  message: string; // one line: why this phase ("result 0.013 < 0.05: successful" style, or "42 samples < minSamples 100")
  measuredAt: string; // ISO
}
