/**
 * The workflow's current details as the Temporal UI shows them (Temporal markdown, several lines): the phase, the
 * runbook step running (or the last one), the approval gate, what serves traffic, the replicas and the strategy's own
 * progress (a rolling update's batch, a canary's step and weight). Rendered from the deployment's status, the same
 * state the `status` query returns; no secret is in it (the status holds none). Pure: the tracker calls it and hands
 * the text to setCurrentDetails, which is workflow state, not a command.
 */
import type { DeploymentStatus, StepRecord } from './types';

/** Steps running at once are few; more are summed up as "and n more". */
const MAX_RUNNING_SHOWN = 3;

export function renderCurrentDetails(status: DeploymentStatus, note?: string): string {
  const lines = [
    `**Phase:** ${status.phase}`,
    `**Step:** ${stepLine(status.steps)}`,
    `**Gate:** ${gateLine(status)}`,
    `**Traffic:** ${trafficLine(status)}`,
    `**Replicas:** ${status.replicas.healthy}/${status.replicas.desired} healthy, ${status.replicas.launched} launched`,
  ];
  const progress = progressLine(status);
  if (progress) lines.push(progress);
  if (note) lines.push(`**Now:** ${note}`);
  if (status.outcome) lines.push(`**Outcome:** ${status.outcome}${status.reason ? ` (${status.reason})` : ''}`);
  const last = status.events[status.events.length - 1];
  if (last) lines.push(`**Last event:** ${last.message}`);
  // A list, so the UI's markdown keeps one item a line.
  return lines.map((l) => `- ${l}`).join('\n');
}

function stepLine(steps: StepRecord[]): string {
  const running = steps.filter((s) => s.state === 'running');
  if (running.length) {
    const shown = running.slice(-MAX_RUNNING_SHOWN).map((s) => s.name);
    const more = running.length - shown.length;
    return `${shown.join('; ')} (running${more > 0 ? `, and ${more} more` : ''})`;
  }
  const last = steps[steps.length - 1];
  if (!last) return 'none yet';
  return `${last.name} (${last.state}${last.detail ? `: ${last.detail}` : ''})`;
}

function gateLine(status: DeploymentStatus): string {
  const a = status.approval;
  if (a.pending) return `waiting for approval until ${a.deadline ?? 'no deadline'}, then ${a.onTimeout}`;
  if (a.rejected) return `rejected by ${a.rejected.by}`;
  if (a.timedOut) return `timed out (${a.onTimeout})`;
  if (a.approved) return `approved by ${a.approved.by}`;
  return a.mode === 'automatic' ? 'automatic' : 'not reached';
}

function trafficLine(status: DeploymentStatus): string {
  const live = status.liveColor
    ? `${status.liveColor} (${status.liveVersion ?? 'unknown version'})`
    : status.phase === 'Validating' || status.phase === 'Discovering'
      ? 'not yet discovered'
      : 'the platform server';
  const target = status.targetColor ? `; target ${status.targetColor} (${status.version})` : '';
  const window = status.rollbackWindowEndsAt ? `; rollback window until ${status.rollbackWindowEndsAt}` : '';
  return `${live}${target}${window}`;
}

function progressLine(status: DeploymentStatus): string | undefined {
  if (status.rolling) {
    const r = status.rolling;
    return (
      `**Rolling:** ${r.direction === 'rollback' ? 'rollback ' : ''}batch ${r.batch}/${r.batches}, ` +
      `${r.old} old and ${r.new} new serving (run ${r.run})`
    );
  }
  if (status.canary) {
    const c = status.canary;
    return `**Canary:** step ${c.step}/${c.steps} ${c.current}, weight ${c.weight} % (run ${c.run})`;
  }
  return undefined;
}
