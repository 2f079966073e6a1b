/**
 * The batch bookkeeping of a rolling update: which replicas of the old and of the new version serve, which are
 * launching or draining, and where the batches stand. Every change is a named transition (surge, launched,
 * registered, deregistered, retired...), so the runbook says what happened rather than splicing arrays.
 *
 * `old` and `new` always name the versions. A direction names the roles: rolling forward takes out `old` replicas
 * and brings in `new` ones; rolling back is the same book run the other way (`outgoing` are then the new version's,
 * `incoming` the old version's, relaunched into the set they came from).
 */
import { replicaId } from '../rolling-math';
import { DirectedBook } from './directed-book';
import type { RollingStart } from '../rolling-live';
import type { LegacyRollingBook, RollingBook, TrackedReplica } from '../types';

export class BatchBook extends DirectedBook<TrackedReplica, RollingBook> {
  private constructor(state: RollingBook) {
    super(state);
  }

  protected size(replicas: readonly TrackedReplica[]): number {
    return replicas.length;
  }

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

  get launching(): readonly TrackedReplica[] {
    return this.state.launching;
  }

  protected launchingCount(): number {
    return this.state.launching.length;
  }

  // ---- transitions ----

  /** Discovery: what serves, and where the new replicas go. */
  found(start: RollingStart, targetSet: string): void {
    Object.assign(this.state, { old: start.from, new: start.to, launchSet: targetSet, nextIndex: start.nextIndex });
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

  /** A first deployment was undone: none of its replicas is left. */
  abandoned(): void {
    this.state.new = [];
    this.state.launching = [];
  }
}
