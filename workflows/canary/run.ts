/**
 * One canary release: the spec, the visible status (with the canary's step, weight, splits and analysis ledger), the
 * gate, the undo stack and the forward work an abort cancels, plus the budgeted router and platform calls. The
 * runbook (workflows/canary.ts) and its parts take a CanaryRun.
 */
import { CancellationScope, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Color } from '../../activities/ports';
import { backendName, replicaSetName } from '../../activities/ports';
import { budgeted } from '../activity-presets';
import type { AnalysisHost } from '../analysis/run';
import { ApprovalGate } from '../approval';
import { drainBudgetMs, healthBudgetMs, launchBudgetMs, retireBudgetMs, routerBudgetMs } from '../budgets';
import { abortSignal, metricDryRunSignal, rollbackSignal, statusQuery } from '../messages';
import type { DecisionInput, MetricDryRunInput } from '../messages';
import { Compensations } from '../saga';
import type { CanarySpec, CanaryStrategy } from '../spec';
import { DeploymentTracker } from '../tracker';
import type { CanaryInput, CanaryProgress, DeploymentStatus, LiveSets } from '../types';

/** How long a deregistered canary or stable replica may finish its requests before it is retired. */
export const DRAIN_TIMEOUT_MS = 30_000;
/** A wait for health is retried this often at most. */
export const WAIT_ATTEMPTS = 20;
/** A run continues as new once its history reaches this many events (unless the server suggests it earlier). */
export const DEFAULT_MAX_HISTORY_EVENTS = 2_000;

export class CanaryRun {
  readonly strategy: CanaryStrategy;
  readonly tracker: DeploymentTracker;
  readonly status: DeploymentStatus;
  readonly canary: CanaryProgress;
  readonly gate: ApprovalGate;
  readonly undo = new Compensations();
  /** The forward work: an accepted abort, or a failing background analysis, cancels it. */
  readonly work = new CancellationScope();
  abortedBy: DecisionInput | undefined;
  /** Traffic is on the canary and the stable version is being retired: nothing is undone any more. */
  pastPointOfNoReturn = false;
  /** Metrics switched to dry run by a signal (name -> who). */
  readonly dryRunBy = new Map<string, string>();
  readonly historyLimit: number;

  /** Filled in by discovery. */
  live!: LiveSets;
  stableSlot!: LiveSets['liveColor'] & string;
  canaryColor: Color = 'green';

  constructor(
    readonly input: CanaryInput,
    readonly spec: CanarySpec,
  ) {
    this.strategy = spec.strategy;
    this.historyLimit = input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
    this.tracker = new DeploymentTracker(spec, 'canary', { searchAttributes: input.searchAttributes !== false });
    this.status = this.tracker.status;
    const resumed = input.resume;
    if (resumed) {
      this.tracker.resume(resumed.status);
      this.live = resumed.live;
      this.stableSlot = resumed.live.liveColor as LiveSets['liveColor'] & string;
      this.canaryColor = resumed.canaryColor;
      for (const run of resumed.status.canary?.analyses ?? []) {
        for (const m of run.metrics) if (m.dryRunBy) this.dryRunBy.set(m.name, m.dryRunBy);
      }
    }
    this.canary = resumed?.status.canary ?? {
      step: 0,
      steps: spec.strategy.steps.length,
      current: 'discover',
      weight: 0,
      canaryVersion: spec.version,
      stableVersion: null,
      canaryReplicas: 0,
      headerRoute: false,
      splits: [],
      analyses: [],
      run: 1,
      runEvents: [],
    };
    this.status.canary = this.canary;
    setHandler(statusQuery, () => this.status);
    this.gate = new ApprovalGate(this.tracker, spec.version);
    setHandler(abortSignal, (by: DecisionInput) => this.onAbort(by));
    setHandler(rollbackSignal, (by: DecisionInput) => {
      this.tracker.event(
        `rollback from ${by?.by || 'unknown'} ignored: a canary has no rollback window (abort sends the traffic back ` +
          'to the stable version until the canary is promoted)',
      );
    });
    setHandler(metricDryRunSignal, (input: MetricDryRunInput) => this.onDryRun(input));
  }

  get canaryName(): string {
    return replicaSetName(this.spec.application, this.spec.version, this.canaryColor);
  }
  get canaryBackend(): string {
    return backendName(this.spec.application, this.canaryColor);
  }
  get stableBackend(): string {
    return backendName(this.spec.application, this.stableSlot);
  }

  /** Where the canary's analyses run: its spec and tracker, its ledger, the built-in args as they are now. */
  get analysisHost(): AnalysisHost {
    return {
      spec: this.spec,
      tracker: this.tracker,
      records: this.canary.analyses,
      dryRunBy: this.dryRunBy,
      args: () => ({
        application: this.spec.application,
        version: this.spec.version,
        stableVersion: this.canary.stableVersion ?? '',
        canary: this.canaryBackend,
        stable: this.stableBackend,
        modules: this.spec.modules.join(','),
      }),
    };
  }

  /** Whether this run's history is long enough to continue as new (or the server suggests it). */
  continueAsNewDue(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= this.historyLimit;
  }

  /** Ends the forward work with `reason` as an abort does (a failing background analysis). */
  fail(by: string, reason: string): void {
    if (this.abortedBy || this.pastPointOfNoReturn) return;
    this.abortedBy = { by, reason };
    this.tracker.event(`${by} failed the canary: ${reason}`);
    this.work.cancel();
  }

  private onAbort(by: DecisionInput): void {
    if (this.pastPointOfNoReturn || this.abortedBy) {
      this.tracker.event(
        `abort from ${by?.by ?? 'unknown'} ignored: ${this.abortedBy ? 'already aborting' : 'the canary is promoted'}`,
      );
      return;
    }
    this.abortedBy = { by: by?.by || 'unknown', reason: by?.reason };
    this.tracker.event(`abort requested by ${this.abortedBy.by}${by?.reason ? `: ${by.reason}` : ''}`);
    this.work.cancel();
  }

  private onDryRun(input: MetricDryRunInput): void {
    const by = input?.by?.trim();
    if (!by || typeof input?.metric !== 'string') {
      this.tracker.event('metricDryRun ignored: it needs "metric" and a non-empty "by"');
      return;
    }
    this.dryRunBy.set(input.metric, by);
    for (const run of this.canary.analyses) {
      for (const m of run.metrics) {
        if (m.name === input.metric) Object.assign(m, { dryRun: true, dryRunBy: by });
      }
    }
    this.tracker.event(`metric ${input.metric} switched to dry run by ${by}${input.reason ? `: ${input.reason}` : ''}`);
  }

  // ---- budgeted calls ----

  /** A router call changing `changes` modules' rules (or one backend). */
  routerCall(changes: number) {
    return budgeted(routerBudgetMs(this.spec.router, changes));
  }
  retireCall(count: number) {
    return budgeted(retireBudgetMs(this.spec.platform, count, count));
  }
  launchCall(count: number) {
    return budgeted(launchBudgetMs(this.spec.platform, count, count));
  }
  healthCall(count: number) {
    return budgeted(healthBudgetMs(this.spec, count), WAIT_ATTEMPTS);
  }
  drainCall() {
    return budgeted(drainBudgetMs(DRAIN_TIMEOUT_MS));
  }
}
