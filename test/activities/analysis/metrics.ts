/** Analysis metrics for the provider tests: the normalised shape the spec parses to, with Argo's defaults. */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createAnalysisActivities } from '../../../activities/analysis';
import type { AnalysisDeps } from '../../../activities/analysis';
import type { AnalysisMetric, AnalysisProvider } from '../../../activities/analysis/metric';
import type { Measurement } from '../../../workflows/analysis/types';

/** The arguments the canary workflow always passes. */
export const ARGS: Record<string, string> = {
  application: 'shop',
  version: '2.0.0',
  stableVersion: '1.9.0',
  canary: 'shop-2.0.0-canary',
  stable: 'shop-1.9.0-stable',
  modules: 'Catalog,Cart',
};

export function metricOf(provider: AnalysisProvider, overrides: Partial<AnalysisMetric> = {}): AnalysisMetric {
  return {
    name: 'error-rate',
    provider,
    interval: 30_000,
    count: 5,
    initialDelay: 0,
    successCondition: 'result < 0.05',
    failureCondition: 'result > 0.2',
    failureLimit: 0,
    inconclusiveLimit: 0,
    consecutiveErrorLimit: 4,
    dryRun: false,
    ...overrides,
  };
}

/** One measurement through the activity, in a mock activity context (heartbeats, cancellation, error mapping). */
export function measureIn(
  env: MockActivityEnvironment,
  metric: AnalysisMetric,
  args: Record<string, string> = ARGS,
  deps: AnalysisDeps = {},
): Promise<Measurement> {
  return env.run(createAnalysisActivities(deps).measureMetric, { deploymentId: 'deploy-prod-shop', metric, args });
}

export function measureOnce(
  metric: AnalysisMetric,
  args: Record<string, string> = ARGS,
  deps: AnalysisDeps = {},
): Promise<Measurement> {
  return measureIn(new MockActivityEnvironment(), metric, args, deps);
}

/** What a rejected measurement threw, for asserting retryable (a plain Error) versus non-retryable (a failure). */
export async function rejection(
  promise: Promise<unknown>,
): Promise<{ retryable: boolean; type?: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ApplicationFailure) {
      return { retryable: !err.nonRetryable, ...(err.type ? { type: err.type } : {}), message: err.message };
    }
    return { retryable: true, message: err instanceof Error ? err.message : String(err) };
  }
  throw new Error('expected the measurement to fail, and it succeeded');
}
