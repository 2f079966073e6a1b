/**
 * What a deployment's status shows of a canary release and of metric analyses: the `canary` section (its progress and
 * measured splits) and the analysis records (`canary.analyses`, and blue-green's `analyses`). Pure types, re-exported
 * by workflows/types.ts with the rest of the contract.
 */
import type { Measurement } from './analysis/types';

/** Where a canary release stands, as `cutover status` and the status query show it. */
export interface CanaryProgress {
  /** 1-based index of the step running (0 before the first). */
  step: number;
  steps: number;
  /** The step running, as written ("setWeight 20", "pause 5m", "analysis error-rate"). */
  current: string;
  /** Percent of each module's traffic the canary gets (read back, and measured where the router can). */
  weight: number;
  canaryVersion: string;
  stableVersion: string | null;
  canaryReplicas: number;
  /** Requests marked with the preview header go to the canary. */
  headerRoute: boolean;
  /** The split measured through the load balancer after each weight was set. */
  splits: SplitRecord[];
  /** Every analysis run, inline and background, with its ledger. */
  analyses: AnalysisRecord[];
  /** Runs of this workflow id so far (continue-as-new), and the history events each ended with. */
  run: number;
  runEvents: number[];
}

export interface SplitRecord {
  step: number;
  weight: number;
  status: 'measured' | 'not-supported';
  requests: number;
  /** Percent of the answers from the canary. */
  share: number;
  tolerance: number;
  detail: string;
}

export type AnalysisRunOutcome = 'running' | 'successful' | 'failed' | 'inconclusive' | 'insufficient' | 'stopped';

export interface AnalysisRecord {
  /** "step 3" or "background". */
  label: string;
  templates: string[];
  outcome: AnalysisRunOutcome;
  /** Why it ended so, naming the metric and its figures. */
  reason?: string;
  startedAt: string;
  endedAt?: string;
  metrics: MetricRecord[];
}

export interface MetricRecord {
  name: string;
  dryRun: boolean;
  /** Who switched it to dry run, if someone did. */
  dryRunBy?: string;
  outcome: 'running' | 'successful' | 'failed' | 'inconclusive' | 'error' | 'insufficient';
  /** Measurements taken (successful, failed, inconclusive, insufficient) and errors, by kind. */
  counts: Record<'successful' | 'failed' | 'inconclusive' | 'insufficient' | 'error', number>;
  /** The latest measurements (at most METRIC_RECORD_LIMIT; every one is also in the history). */
  measurements: Measurement[];
  /** The latest errors (at most 5). */
  errors: { at: string; message: string }[];
}
