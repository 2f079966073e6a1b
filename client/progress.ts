/**
 * Live progress for `cutover status --watch` / `deploy --watch`: prints each
 * phase change, step and event once, as it happens. Plain lines (not a
 * redrawn screen) so the same output reads well in a terminal and in CI logs.
 */
import type { DeploymentStatus, StepRecord } from '../workflows/types';

const MARK: Record<StepRecord['state'], string> = {
  running: '…',
  done: '✓',
  failed: '✗',
  skipped: '-',
  compensated: '↺',
};

export class ProgressPrinter {
  private phase = '';
  private readonly seenSteps = new Map<string, string>();
  private readonly seenEvents = new Set<string>();

  constructor(private readonly write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) {}

  update(status: DeploymentStatus): void {
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
    if (status.phase !== this.phase) {
      this.phase = status.phase;
      const r = status.replicas;
      this.write(
        `[${status.deploymentId}] ${status.phase}  version ${status.version}  live ${status.liveColor ?? 'platform-server'}` +
          ` (${status.liveVersion ?? '-'})  replicas ${r.healthy}/${r.desired} healthy`,
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

/** One-screen summary for `cutover status`. */
export function formatStatus(status: DeploymentStatus): string {
  const lines = [
    `deployment   ${status.deploymentId}`,
    `application  ${status.application} (${status.environment}), ${status.strategy}`,
    `version      ${status.version}  (previous: ${status.previousVersion ?? 'platform server'})`,
    `phase        ${status.phase}${status.outcome ? ` — ${status.outcome}${status.reason ? `: ${status.reason}` : ''}` : ''}`,
    `live         ${status.liveColor ?? 'platform server (default rule)'}${status.liveVersion ? ` serving ${status.liveVersion}` : ''}`,
    `replicas     ${status.replicas.healthy} healthy / ${status.replicas.launched} launched / ${status.replicas.desired} desired`,
    `approval     ${status.approval.mode}${status.approval.pending ? `, PENDING until ${status.approval.deadline} (then ${status.approval.onTimeout})` : ''}` +
      (status.approval.approved ? `, approved by ${status.approval.approved.by}` : '') +
      (status.approval.rejected ? `, rejected by ${status.approval.rejected.by}` : ''),
  ];
  if (status.rollbackWindowEndsAt) lines.push(`rollback     possible until ${status.rollbackWindowEndsAt}`);
  lines.push('steps');
  for (const step of status.steps)
    lines.push(`  ${MARK[step.state]} ${step.name}${step.detail ? ` — ${step.detail}` : ''}`);
  return lines.join('\n');
}
