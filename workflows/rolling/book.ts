/**
 * The batch bookkeeping of a rolling update: which replicas of the old and of the new version serve, which are
 * launching or draining, and where the batches stand. Every change is a named transition (surge, launched,
 * registered, deregistered, retired...), so the runbook says what happened rather than splicing arrays.
 *
 * `old` and `new` always name the versions. A direction names the roles: rolling forward takes out `old` replicas
 * and brings in `new` ones; rolling back is the same book run the other way (`outgoing` are then the new version's,
 * `incoming` the old version's, relaunched into the set they came from).
 */
import type { BatchPlan, Fenceposts, RollingCounts } from '../rolling-math';
import { nextBatch, planBatches, replicaId } from '../rolling-math';
import type { RollingStart } from '../rolling-live';
import type { LegacyRollingBook, RollingBook, RollingContext, TrackedReplica } from '../types';

export class BatchBook {
  private constructor(private readonly state: RollingBook) {}

  /** A book for an update that has not discovered anything yet. */
  static begin(desired: number): BatchBook {
    return new BatchBook({
      direction: 'forward',
      old: [],
      new: [],
      launching: [],
      draining: [],
      desired,
      launchSet: '',
      nextIndex: {},
      batch: 0,
      batches: 0,
      pausesDone: [],
    });
  }

  /** The book an earlier run carried over; one carried by a run before the rewrite names its roles from/to. */
  static resume(carried: RollingBook | LegacyRollingBook): BatchBook {
    if (!('from' in carried)) return new BatchBook(carried);
    const { from, to, ...rest } = carried;
    const forward = carried.direction === 'forward';
    return new BatchBook({ ...rest, old: forward ? from : to, new: forward ? to : from });
  }

  /** What the next run carries over (continue-as-new). */
  carried(): RollingBook {
    return this.state;
  }

  get direction(): RollingBook['direction'] {
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
  get old(): readonly TrackedReplica[] {
    return this.state.old;
  }
  get new(): readonly TrackedReplica[] {
    return this.state.new;
  }
  get launching(): readonly TrackedReplica[] {
    return this.state.launching;
  }
  get draining(): readonly TrackedReplica[] {
    return this.state.draining;
  }

  /** Serving replicas this direction takes out: the old version's forward, the new version's on rollback. */
  get outgoing(): readonly TrackedReplica[] {
    return this.rollingBack ? this.state.new : this.state.old;
  }
  /** Serving replicas of the version this direction rolls to. */
  get incoming(): readonly TrackedReplica[] {
    return this.rollingBack ? this.state.old : this.state.new;
  }

  /** Serving replicas of each version, and the ones launching (the status's counts). */
  sizes(): { old: number; new: number; launching: number } {
    return { old: this.state.old.length, new: this.state.new.length, launching: this.state.launching.length };
  }

  /** The counts the batch arithmetic works on (rolling-math: `from` goes, `to` comes). */
  counts(): RollingCounts {
    return { desired: this.state.desired, from: this.outgoing.length, to: this.incoming.length };
  }

  /** The next batch, or none when this direction is done. */
  nextBatch(fenceposts: Fenceposts): BatchPlan | undefined {
    return nextBatch(this.counts(), fenceposts);
  }

  // ---- transitions ----

  /** Discovery: what serves, and where the new replicas go. */
  found(start: RollingStart, targetSet: string): void {
    Object.assign(this.state, { old: start.from, new: start.to, launchSet: targetSet, nextIndex: start.nextIndex });
  }

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

  /** Picks the ids of `count` replicas to launch into this direction's set (deterministic: `<set>-<index>`). */
  surge(count: number): TrackedReplica[] {
    const set = this.state.launchSet;
    const first = this.state.nextIndex[set] ?? 0;
    this.state.nextIndex[set] = first + count;
    return Array.from({ length: count }, (_, i) => ({ id: replicaId(set, first + i), set, address: '' }));
  }

  /** Their launch is asked for: from here on a rollback retires them, whether or not the launch finished. */
  launchStarted(replicas: readonly TrackedReplica[]): void {
    this.state.launching.push(...replicas);
  }

  /** The platform answered with their addresses (an address already known is kept when it has none). */
  addressed(
    replicas: readonly TrackedReplica[],
    found: readonly { id: string; address: string }[],
    keep = false,
  ): void {
    for (const r of replicas) {
      const address = found.find((x) => x.id === r.id)?.address ?? '';
      r.address = keep ? address || r.address : address;
    }
  }

  /** Registered with the load balancer: they serve. */
  registered(replicas: readonly TrackedReplica[]): void {
    this.incomingList().push(...replicas);
    this.state.launching = this.state.launching.filter((r) => !replicas.includes(r));
  }

  /** A first deployment's backend is published with every launched replica: they serve. */
  published(replicas: readonly TrackedReplica[]): void {
    this.incomingList().push(...replicas);
    this.state.launching = [];
  }

  /** The outgoing replicas to take out next: the most recent ones of the last set first. */
  pick(count: number): TrackedReplica[] {
    return this.outgoing.slice(Math.max(0, this.outgoing.length - count));
  }

  /** Deregistered: no new request reaches them; they drain. */
  deregistered(replicas: readonly TrackedReplica[]): void {
    this.setOutgoing(this.outgoing.filter((r) => !replicas.includes(r)));
    this.state.draining.push(...replicas);
  }

  /** Drained and stopped. */
  retired(replicas: readonly TrackedReplica[]): void {
    this.state.draining = this.state.draining.filter((r) => !replicas.includes(r));
  }

  /** The replicas that were launching never served, and are retired. */
  launchesRetired(): void {
    this.state.launching = [];
  }

  /** The replicas that were draining are registered again: they serve. */
  drainingRegisteredAgain(): void {
    this.outgoingList().push(...this.state.draining);
    this.state.draining = [];
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
      this.state.desired = serving.length;
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

  /** A first deployment was undone: none of its replicas is left. */
  abandoned(): void {
    this.state.new = [];
    this.state.launching = [];
  }

  private incomingList(): TrackedReplica[] {
    return this.rollingBack ? this.state.old : this.state.new;
  }
  private outgoingList(): TrackedReplica[] {
    return this.rollingBack ? this.state.new : this.state.old;
  }
  private setOutgoing(replicas: TrackedReplica[]): void {
    if (this.rollingBack) this.state.new = replicas;
    else this.state.old = replicas;
  }
}
