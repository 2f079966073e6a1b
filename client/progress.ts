/**
 * Live progress for `cutover status --watch` / `deploy --watch`: prints each
 * phase change, step and event once, as it happens. Plain lines (not a
 * redrawn screen) so the same output reads well in a terminal and in CI logs.
 */
import type { AnalysisRecord, DeploymentStatus, StepRecord } from '../workflows/types';
import type { RetryingStep } from './retrying';

/** The status with the steps being retried (client.ts `DeploymentStatusView`; the workflow's query lacks them). */
type WithRetrying = DeploymentStatus & { retrying?: RetryingStep[] };

/**
 * "retrying readRoutes: attempt 2 of 10, last error: ... ECONNREFUSED, next attempt at 2026-...Z" — one line per
 * step being retried; "running" in place of the next attempt's time while that attempt runs.
 */
export function formatRetrying(step: RetryingStep): string {
  const of = step.maximumAttempts ? ` of ${step.maximumAttempts}` : ' (no attempt limit)';
  const when = step.nextAttemptAt ? `, next attempt at ${step.nextAttemptAt}` : ', running now';
  return `retrying ${step.activity}: attempt ${step.attempt}${of}, last error: ${step.lastError ?? '(none recorded)'}${when}`;
}

const MARK: Record<StepRecord['state'], string> = {
  running: '…',
  done: '✓',
  failed: '✗',
  skipped: '-',
  compensated: '↺',
};

/** "batch 2/4: old 2, new 2, serving 4" (rolling updates), or "" for blue-green. */
export function formatBatch(status: DeploymentStatus): string {
  const r = status.rolling;
  if (!r) return '';
  const which = r.direction === 'rollback' ? 'rollback batch' : 'batch';
  return `${which} ${r.batch}/${r.batches}: old ${r.old}, new ${r.new}, serving ${r.healthy}`;
}

/** "step 3/7 setWeight 20: weight 20%" (canary releases), or "" for the others. */
export function formatCanary(status: DeploymentStatus): string {
  const c = status.canary;
  if (!c) return '';
  return `step ${c.step}/${c.steps} ${c.current}: weight ${c.weight}%, ${c.canaryReplicas} canary replicas`;
}

/** Every analysis run of a deployment: a canary's steps, or blue-green's and rolling's (status.analyses). */
function analysesOf(status: DeploymentStatus): AnalysisRecord[] {
  return [...(status.canary?.analyses ?? []), ...(status.analyses ?? [])];
}

/** The analysis ledger: one line per run and per metric, with its latest measurement. */
export function formatAnalyses(status: DeploymentStatus): string[] {
  const lines: string[] = [];
  for (const run of analysesOf(status)) {
    lines.push(`  ${run.label} (${run.templates.join(', ')}): ${run.outcome}${run.reason ? ` — ${run.reason}` : ''}`);
    for (const m of run.metrics) {
      const c = m.counts;
      const last = m.measurements[m.measurements.length - 1];
      lines.push(
        `    ${m.name}${m.dryRun ? ` (dry run${m.dryRunBy ? ` by ${m.dryRunBy}` : ''})` : ''}: ${m.outcome}; ` +
          `${c.successful} successful, ${c.failed} failed, ${c.inconclusive} inconclusive, ` +
          `${c.insufficient} insufficient, ${c.error} errors` +
          (last ? `; last ${last.measuredAt}: ${last.message}` : ''),
      );
      if (last) lines.push(`      query ${last.query}`);
    }
  }
  return lines;
}

export class ProgressPrinter {
  private phase = '';
  private batch = '';
  private canaryStep = '';
  private readonly seenMeasurements = new Set<string>();
  private readonly seenSteps = new Map<string, string>();
  private readonly seenEvents = new Set<string>();

  constructor(private readonly write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) {}

  private readonly seenAttempts = new Set<string>();

  update(status: WithRetrying): void {
    // Finished steps and events first, then the phase they led to.
    status.steps.forEach((step, i) => {
      const key = `${i}:${step.name}`;
      if (this.seenSteps.get(key) === step.state) return;
      this.seenSteps.set(key, step.state);
      if (step.state === 'running') return; // printed when it ends, with its result
      this.write(`  ${MARK[step.state]} ${step.name}${step.detail ? ` — ${step.detail}` : ''}`);
    });
    for (const event of status.events) {
      const key = `${event.at}:${event.message}`;
      if (this.seenEvents.has(key)) continue;
      this.seenEvents.add(key);
      this.write(`  • ${event.message}`);
    }
    const batch = status.rolling ? `${status.rolling.direction} ${status.rolling.batch}/${status.rolling.batches}` : '';
    if (batch !== this.batch) {
      this.batch = batch;
      if (status.rolling && status.rolling.batch > 0) this.write(`  ▸ ${formatBatch(status)}`);
    }
    const step = formatCanary(status);
    if (step && step !== this.canaryStep) {
      this.canaryStep = step;
      this.write(`  ▸ ${step}`);
    }
    for (const split of status.canary?.splits ?? []) {
      const key = `split:${split.step}:${split.weight}:${split.detail}`;
      if (this.seenMeasurements.has(key)) continue;
      this.seenMeasurements.add(key);
      this.write(`  ⚖ split at ${split.weight}%: ${split.detail}`);
    }
    for (const run of analysesOf(status)) {
      for (const m of run.metrics) {
        for (const x of m.measurements) {
          const key = `${run.label}:${m.name}:${x.measuredAt}`;
          if (this.seenMeasurements.has(key)) continue;
          this.seenMeasurements.add(key);
          this.write(`  ◆ ${run.label} ${m.name}${m.dryRun ? ' (dry run)' : ''}: ${x.phase} — ${x.message}`);
        }
      }
    }
    // Once per new attempt of a retried step (its "running" and "waiting" forms are the same attempt).
    for (const step of status.retrying ?? []) {
      const key = `${step.activity}:${step.attempt}`;
      if (this.seenAttempts.has(key)) continue;
      this.seenAttempts.add(key);
      this.write(`  ⟳ ${formatRetrying(step)}`);
    }
    if (status.phase !== this.phase) {
      this.phase = status.phase;
      const r = status.replicas;
      const live = status.strategy === 'rolling' ? 'rolling' : (status.liveColor ?? 'platform-server');
      this.write(
        `[${status.deploymentId}] ${status.phase}  version ${status.version}  live ${live}` +
          ` (${status.liveVersion ?? '-'})  replicas ${r.healthy}/${r.desired} healthy` +
          (status.rolling ? `  ${formatBatch(status)}` : '') +
          (status.canary ? `  ${formatCanary(status)}` : ''),
      );
      if (status.approval.pending && status.approval.deadline) {
        this.write(
          `  waiting for approval until ${status.approval.deadline} (then ${status.approval.onTimeout}):` +
            ` cutover approve ${status.deploymentId} --by <you> --version ${status.version}`,
        );
      }
    }
    if (status.outcome) {
      this.write(
        `[${status.deploymentId}] ${status.outcome.toUpperCase()}${status.reason ? `: ${status.reason}` : ''}`,
      );
    }
  }
}

function liveWhere(status: DeploymentStatus): string {
  if (status.liveColor) return status.liveColor;
  if (status.strategy === 'rolling' && status.liveVersion) return `${status.application}-rolling`;
  return 'platform server (default rule)';
}

/** One-screen summary for `cutover status`. */
export function formatStatus(status: WithRetrying): string {
  const lines = [
    `deployment   ${status.deploymentId}`,
    `application  ${status.application} (${status.environment}), ${status.strategy}`,
    `version      ${status.version}  (previous: ${status.previousVersion ?? 'platform server'})`,
    `phase        ${status.phase}${status.outcome ? ` — ${status.outcome}${status.reason ? `: ${status.reason}` : ''}` : ''}`,
    `live         ${liveWhere(status)}${status.liveVersion ? ` serving ${status.liveVersion}` : ''}`,
    `replicas     ${status.replicas.healthy} healthy / ${status.replicas.launched} launched / ${status.replicas.desired} desired`,
    `approval     ${status.approval.mode}${status.approval.pending ? `, PENDING until ${status.approval.deadline} (then ${status.approval.onTimeout})` : ''}` +
      (status.approval.approved ? `, approved by ${status.approval.approved.by}` : '') +
      (status.approval.rejected ? `, rejected by ${status.approval.rejected.by}` : ''),
  ];
  if (status.rollbackWindowEndsAt) lines.push(`rollback     possible until ${status.rollbackWindowEndsAt}`);
  const r = status.rolling;
  if (r) {
    lines.push(
      `rolling      ${formatBatch(status)} (maxSurge ${r.maxSurge}, maxUnavailable ${r.maxUnavailable}), run ${r.run}`,
      `replica set  ${r.replicaSet || '-'}${r.replacing.length ? ` replacing ${r.replacing.join(', ')}` : ''}`,
    );
  }
  const c = status.canary;
  if (c) {
    lines.push(
      `canary       ${formatCanary(status)} (stable ${c.stableVersion ?? '-'}, canary ${c.canaryVersion}` +
        `${c.headerRoute ? ', header route on' : ''})`,
    );
    for (const split of c.splits) lines.push(`  split at ${split.weight}% (step ${split.step}): ${split.detail}`);
  }
  if (analysesOf(status).length) lines.push('analysis', ...formatAnalyses(status));
  lines.push('steps');
  for (const step of status.steps)
    lines.push(`  ${MARK[step.state]} ${step.name}${step.detail ? ` — ${step.detail}` : ''}`);
  // Retried activities belong to the step still running: shown beneath the steps, why it is stuck and for how long.
  for (const step of status.retrying ?? []) lines.push(`    ⟳ ${formatRetrying(step)}`);
  return lines.join('\n');
}
