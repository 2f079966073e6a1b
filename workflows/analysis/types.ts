/**
 * The contract of one measurement: what the workflow asks the measurement activity (MeasureMetricInput) and what it
 * answers (Measurement). Pure types: the workflow and the activity both import them.
 */
import type { AnalysisMetric } from '../spec/analysis';

export interface MeasureMetricInput {
  deploymentId: string;
  /** Normalised, as in the spec (durations in milliseconds). */
  metric: AnalysisMetric;
  /** The built-in args (application, version, stableVersion, canary, stable, modules) and the analysis' own. */
  args: Record<string, string>;
}

export type MeasurementPhase = 'successful' | 'failed' | 'inconclusive' | 'insufficient';

export interface Measurement {
  /** Metric name. */
  metric: string;
  provider: 'prometheus' | 'web' | 'cloudwatch';
  /** What was asked, args substituted. */
  query: string;
  window?: { from: string; to: string };
  /** The raw value the conditions saw, JSON-serialisable, small. */
  value: unknown;
  /** Requests that reached the canary in the window, when minSamples is set. */
  samples?: number;
  /** 'insufficient' when samples < minSamples (conditions not evaluated). */
  phase: MeasurementPhase;
  /** One line: why this phase. */
  message: string;
  /** ISO. */
  measuredAt: string;
}
