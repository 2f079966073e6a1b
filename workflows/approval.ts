/**
 * The durable approval gate shared by both strategies. Its state lives in
 * workflow history, so a decision survives worker and server restarts; a gate
 * that is open when a worker dies is still open (with the same deadline) when
 * another worker picks the deployment up.
 */
import { condition, setHandler } from '@temporalio/workflow';
import { approveSignal, promoteUpdate, rejectSignal } from './messages';
import type { ApproveInput, DecisionInput, PromoteInput } from './messages';
import type { DeploymentTracker } from './tracker';
import type { Decision } from './types';

export type GateOutcome =
  | { kind: 'approved'; decision: Decision }
  | { kind: 'rejected'; decision: Decision }
  | { kind: 'timed-out'; action: 'rollback' | 'promote' };

export interface GatePolicy {
  mode: 'required' | 'automatic';
  timeoutMs: number;
  onTimeout: 'rollback' | 'promote';
}

export class ApprovalGate {
  private open = false;
  private stage = '';
  private decision: GateOutcome | undefined;

  constructor(
    private readonly tracker: DeploymentTracker,
    private readonly version: string,
  ) {
    setHandler(approveSignal, (input: ApproveInput) => this.onApprove(input));
    setHandler(rejectSignal, (input: DecisionInput) => this.onReject(input));
    setHandler(
      promoteUpdate,
      (input: PromoteInput) => {
        this.decide({ kind: 'approved', decision: this.record(input.by, input.comment, input.version) });
        return { accepted: true as const, version: this.version, phase: this.tracker.status.phase };
      },
      { validator: (input: PromoteInput) => this.validatePromote(input) },
    );
  }

  /** Whether the deployment is waiting at a gate right now. */
  get isOpen(): boolean {
    return this.open;
  }

  /**
   * Waits for a decision at the named stage. Automatic mode passes at once;
   * on timeout the policy's action applies.
   */
  async wait(stage: string, policy: GatePolicy): Promise<GateOutcome> {
    const status = this.tracker.status;
    if (policy.mode === 'automatic') {
      const decision = this.record('automatic', `auto-promoted at ${stage}`);
      status.approval.approved = decision;
      return { kind: 'approved', decision };
    }
    this.open = true;
    this.stage = stage;
    this.decision = undefined;
    status.approval.pending = true;
    status.approval.deadline = new Date(Date.now() + policy.timeoutMs).toISOString();
    this.tracker.event(
      `waiting for approval at ${stage} (timeout ${status.approval.deadline}, then ${policy.onTimeout})`,
    );
    try {
      const decided = await condition(() => this.decision !== undefined, policy.timeoutMs);
      const decision = this.decision as GateOutcome | undefined;
      const outcome: GateOutcome = decided && decision ? decision : { kind: 'timed-out', action: policy.onTimeout };
      if (outcome.kind === 'approved') status.approval.approved = outcome.decision;
      if (outcome.kind === 'rejected') status.approval.rejected = outcome.decision;
      if (outcome.kind === 'timed-out') {
        status.approval.timedOut = true;
        this.tracker.event(`approval timed out at ${stage}: ${outcome.action}`);
      }
      return outcome;
    } finally {
      this.open = false;
      status.approval.pending = false;
      delete status.approval.deadline;
    }
  }

  private onApprove(input: ApproveInput): void {
    const why = this.refusal(input?.by, input?.version);
    if (why) {
      this.tracker.event(`approve from ${input?.by || 'unknown'} ignored: ${why}`);
      return;
    }
    this.decide({ kind: 'approved', decision: this.record(input.by, input.comment, input.version) });
  }

  private onReject(input: DecisionInput): void {
    const why = this.refusal(input?.by, undefined);
    if (why) {
      this.tracker.event(`reject from ${input?.by || 'unknown'} ignored: ${why} (use abort to stop a deployment)`);
      return;
    }
    this.decide({ kind: 'rejected', decision: this.record(input.by, input.reason) });
  }

  /** Update validator: throws (synchronously) to refuse; nothing is written to history then. */
  private validatePromote(input: PromoteInput): void {
    const why = this.refusal(input?.by, input?.version ?? '');
    if (why) throw new Error(`promote refused: ${why}`);
  }

  private refusal(by: string | undefined, version: string | undefined): string | undefined {
    if (typeof by !== 'string' || by.trim() === '') return 'a non-empty "by" (who decides) is required';
    if (!this.open) return `the deployment is not waiting for approval (phase ${this.tracker.status.phase})`;
    if (this.decision) return 'a decision was already taken';
    if (version !== undefined && version !== this.version) {
      return `it names version "${version}" but version "${this.version}" is waiting`;
    }
    return undefined;
  }

  private decide(outcome: GateOutcome): void {
    this.decision = outcome;
    const verb = outcome.kind === 'approved' ? 'approved' : 'rejected';
    if (outcome.kind !== 'timed-out') {
      this.tracker.event(
        `${verb} at ${this.stage} by ${outcome.decision.by}` +
          (outcome.decision.reason ? `: ${outcome.decision.reason}` : ''),
      );
    }
  }

  private record(by: string, reason?: string, version?: string): Decision {
    return { by, at: new Date().toISOString(), reason, version };
  }
}
