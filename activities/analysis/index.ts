/**
 * Canary analysis's activity: one measurement of one metric (measure.ts), inside the activity() wrapper — stable
 * error names become non-retryable failures, a cancellation aborts the provider's request.
 */
import type { Measurement, MeasureMetricInput } from '../../workflows/analysis/types';
import { activity } from '../activity';
import type { AnalysisDeps } from './measure';
import { measure } from './measure';

export type { AnalysisDeps } from './measure';
export type { AnalysisMetric } from './metric';

export function createAnalysisActivities(deps: AnalysisDeps = {}) {
  return {
    /** Measures once; the workflow schedules the interval, count and limits. */
    async measureMetric(input: MeasureMetricInput): Promise<Measurement> {
      return activity((progress) => measure(input, progress.signal, deps));
    },
  };
}
