/**
 * What both batch books share (BatchBook in book.ts over replica lists, CountBook in counts.ts over counts per set):
 * the direction and its roles, the batch counter, the pauses, and turning back. Each book says only what one entry
 * of its lists is and how many replicas a list holds.
 *
 * `old` and `new` always name the versions. A direction names the roles: rolling forward takes out `old` replicas
 * and brings in `new` ones; rolling back is the same book run the other way (`outgoing` are then the new version's,
 * `incoming` the old version's, relaunched into the set they came from).
 */
import type { BatchPlan, Fenceposts, RollingCounts } from '../rolling-math';
import { nextBatch, planBatches } from '../rolling-math';
import type { RollingContext } from '../types';

/** The fields of a carried book that do not depend on what one entry is. */
export interface DirectedState<Entry> {
  direction: 'forward' | 'rollback';
  old: Entry[];
  new: Entry[];
  draining: Entry[];
  desired: number;
  launchSet: string;
  batch: number;
  batches: number;
  pausesDone: number[];
  pendingPause?: { afterBatch: number; deadlineAt: number };
}

export abstract class DirectedBook<Entry, State extends DirectedState<Entry>> {
  protected constructor(protected readonly state: State) {}

  /** Replicas a list of entries holds. */
  protected abstract size(entries: readonly Entry[]): number;
  /** Replicas launching (launched, not registered yet). */
  protected abstract launchingCount(): number;

  /** What the next run carries over (continue-as-new). */
  carried(): State {
    return this.state;
  }

  get direction(): State['direction'] {
    return this.state.direction;
  }
  get rollingBack(): boolean {
    return this.state.direction === 'rollback';
  }
  get batch(): number {
    return this.state.batch;
  }
  get batches(): number {
    return this.state.batches;
  }
  /** The set this direction launches into. */
  get launchSet(): string {
    return this.state.launchSet;
  }
  /** The replica count this direction ends with. */
  get desired(): number {
    return this.state.desired;
  }
  get pausesDone(): readonly number[] {
    return this.state.pausesDone;
  }

  /** Serving replicas of the version being replaced, and of the version being rolled out. */
  get old(): readonly Entry[] {
    return this.state.old;
  }
  get new(): readonly Entry[] {
    return this.state.new;
  }
  get draining(): readonly Entry[] {
    return this.state.draining;
  }

  /** Serving replicas this direction takes out: the old version's forward, the new version's on rollback. */
  get outgoing(): readonly Entry[] {
    return this.rollingBack ? this.state.new : this.state.old;
  }
  /** Serving replicas of the version this direction rolls to. */
  get incoming(): readonly Entry[] {
    return this.rollingBack ? this.state.old : this.state.new;
  }

  /** Serving replicas of each version, and the ones launching (the status's counts). */
  sizes(): { old: number; new: number; launching: number } {
    return { old: this.size(this.state.old), new: this.size(this.state.new), launching: this.launchingCount() };
  }

  /** The counts the batch arithmetic works on (rolling-math: `from` goes, `to` comes). */
  counts(): RollingCounts {
    return { desired: this.state.desired, from: this.size(this.outgoing), to: this.size(this.incoming) };
  }

  /** The next batch, or none when this direction is done. */
  nextBatch(fenceposts: Fenceposts): BatchPlan | undefined {
    return nextBatch(this.counts(), fenceposts);
  }

  // ---- transitions ----

  /** The batches of this direction are planned (once per direction, and kept across runs). */
  planned(fenceposts: Fenceposts): void {
    if (this.state.batches === 0) this.state.batches = planBatches(this.counts(), fenceposts).length;
  }

  /** A first deployment is one batch: every replica at once. */
  plannedAsOneBatch(): void {
    Object.assign(this.state, { batch: 1, batches: 1 });
  }

  /** The next batch begins; returns its number. */
  begun(): number {
    return ++this.state.batch;
  }

  /** The pause after `batch` is passed (whatever its outcome). */
  pausePassed(batch: number): void {
    this.state.pausesDone.push(batch);
  }

  /** The gate of a pause that may be carried into the next run open; its deadline is kept across runs. */
  pauseOpened(afterBatch: number, deadlineAt: number): void {
    this.state.pendingPause = { afterBatch, deadlineAt };
  }
  pauseClosed(): void {
    this.state.pendingPause = undefined;
  }
  /** The deadline of the pause after `batch`, if an earlier run opened its gate. */
  pendingDeadline(batch: number): number | undefined {
    return this.state.pendingPause?.afterBatch === batch ? this.state.pendingPause.deadlineAt : undefined;
  }

  /**
   * Turns back: the same book, run the other way, back to the old version's replica count, relaunching into the set
   * the old replicas came from. Without such a set (the update only scaled the set that served), what serves is what
   * served before: it is kept as the old version, and there is nothing to put back.
   */
  turnedBack(context: RollingContext): void {
    if (!context.restoreSet) {
      const serving = this.state.new;
      Object.assign(this.state, { direction: 'rollback', old: serving, new: [], batch: 0, batches: 0 });
      this.state.desired = this.size(serving);
      return;
    }
    Object.assign(this.state, {
      direction: 'rollback',
      desired: context.oldCount,
      launchSet: context.restoreSet,
      batch: 0,
      batches: 0,
    });
  }

  protected incomingList(): Entry[] {
    return this.rollingBack ? this.state.old : this.state.new;
  }
  protected outgoingList(): Entry[] {
    return this.rollingBack ? this.state.new : this.state.old;
  }
  protected setOutgoing(entries: Entry[]): void {
    if (this.rollingBack) this.state.new = entries;
    else this.state.old = entries;
  }
}
