/**
 * The batch book of the bounded-payload path (ROLLING_BOUNDED_PAYLOADS_PATCH): the same named transitions as
 * BatchBook (book.ts), over counts per replica set instead of replica lists. Which replicas of a set are "the n" is
 * the activities' choice (activities/rolling-sets.ts: by ordinal, then id, served first), so the book never names a
 * replica and what a run carries is a few dozen bytes per set, whatever the replica count.
 *
 * `old` and `new` name the versions, `outgoing` and `incoming` the roles of the direction, as in BatchBook.
 */
import { slotOf } from '../../activities/ports';
import type { RollingSetsLive } from '../../activities/rolling-sets';
import { DirectedBook } from './directed-book';
import type { CountedRollingBook, LegacyRollingBook, RollingBook, SetCount } from '../types';

/** The sum of the counts. */
export const total = (groups: readonly SetCount[]): number => groups.reduce((n, g) => n + g.count, 0);

/** The names of the sets, once each, in order. */
export const setsOf = (groups: readonly SetCount[]): string[] => [...new Set(groups.map((g) => g.set))];

/** Adds `count` replicas of `set` (merged into that set's entry; a new set goes last). */
function add(groups: SetCount[], set: string, count: number): void {
  if (count <= 0) return;
  const entry = groups.find((g) => g.set === set);
  if (entry) entry.count += count;
  else groups.push({ set, count });
}

/** Removes the counts of `taken` from `groups` (entries that reach zero go). */
function subtract(groups: readonly SetCount[], taken: readonly SetCount[]): SetCount[] {
  const left = groups.map((g) => ({ ...g }));
  for (const t of taken) {
    const entry = left.find((g) => g.set === t.set);
    if (entry) entry.count -= t.count;
  }
  return left.filter((g) => g.count > 0);
}

/** A list of replicas (a book carried by an old-path run) as counts per set, in order. */
function counted(replicas: readonly { set: string }[]): SetCount[] {
  const groups: SetCount[] = [];
  for (const r of replicas) add(groups, r.set, 1);
  return groups;
}

export class CountBook extends DirectedBook<SetCount, CountedRollingBook> {
  private constructor(state: CountedRollingBook) {
    super(state);
  }

  protected size(groups: readonly SetCount[]): number {
    return total(groups);
  }

  static begin(desired: number): CountBook {
    return new CountBook({
      shape: 'counts',
      direction: 'forward',
      old: [],
      new: [],
      launching: 0,
      draining: [],
      desired,
      launchSet: '',
      nextOrdinal: {},
      batch: 0,
      batches: 0,
      pausesDone: [],
    });
  }

  /** The book an earlier run carried: counted already, or replica lists (an old-path run) counted per set. */
  static resume(carried: RollingBook | LegacyRollingBook | CountedRollingBook): CountBook {
    if ('shape' in carried) return new CountBook(carried);
    const forward = carried.direction === 'forward';
    const old = 'from' in carried ? (forward ? carried.from : carried.to) : carried.old;
    const young = 'from' in carried ? (forward ? carried.to : carried.from) : carried.new;
    const { direction, desired, launchSet, batch, batches, pausesDone, pendingPause } = carried;
    return new CountBook({
      shape: 'counts',
      direction,
      old: counted(old),
      new: counted(young),
      launching: carried.launching.length,
      draining: counted(carried.draining),
      desired,
      launchSet,
      nextOrdinal: { ...carried.nextIndex },
      batch,
      batches,
      pausesDone,
      pendingPause,
    });
  }

  get launching(): number {
    return this.state.launching;
  }
  protected launchingCount(): number {
    return this.state.launching;
  }

  /** Replicas of `set` the backend serves, by the book (of either version). */
  servedIn(set: string): number {
    return [...this.state.old, ...this.state.new].filter((g) => g.set === set).reduce((n, g) => n + g.count, 0);
  }

  // ---- transitions (as BatchBook's) ----

  found(start: SetsStart, targetSet: string): void {
    Object.assign(this.state, { old: start.from, new: start.to, launchSet: targetSet, nextOrdinal: start.nextOrdinal });
  }

  /** The ordinal the next launch into the launch set numbers from. */
  get launchOrdinal(): number {
    return this.state.nextOrdinal[this.state.launchSet] ?? 0;
  }

  /** `count` replicas are asked for in this direction's set: from here on a rollback retires them. */
  launchStarted(count: number): void {
    this.state.launching += count;
    this.numbered(this.launchOrdinal + count);
  }

  /** The platform says the launch set's next ordinal. */
  numbered(next: number): void {
    const set = this.state.launchSet;
    this.state.nextOrdinal[set] = Math.max(this.state.nextOrdinal[set] ?? 0, next);
  }

  /** `count` launched replicas are registered: they serve. */
  registered(count: number): void {
    add(this.incomingList(), this.state.launchSet, count);
    this.state.launching -= count;
  }

  /** A first deployment's backend is published with every launched replica. */
  published(): void {
    add(this.incomingList(), this.state.launchSet, this.state.launching);
    this.state.launching = 0;
  }

  /** `count` outgoing replicas to take out next: from the last set first. */
  pick(count: number): SetCount[] {
    const picked: SetCount[] = [];
    let left = count;
    for (const g of [...this.outgoing].reverse()) {
      if (left <= 0) break;
      const n = Math.min(left, g.count);
      picked.push({ set: g.set, count: n });
      left -= n;
    }
    return picked;
  }

  deregistered(groups: readonly SetCount[]): void {
    this.setOutgoing(subtract(this.outgoing, groups));
    for (const g of groups) add(this.state.draining, g.set, g.count);
  }

  retired(groups: readonly SetCount[]): void {
    this.state.draining = subtract(this.state.draining, groups);
  }

  launchesRetired(): void {
    this.state.launching = 0;
  }

  drainingRegisteredAgain(): void {
    for (const g of this.state.draining) add(this.outgoingList(), g.set, g.count);
    this.state.draining = [];
  }

  abandoned(): void {
    this.state.new = [];
    this.state.launching = 0;
  }
}

/** A rolling update's starting point from set summaries (as classifyLive, in counts). */
export interface SetsStart {
  from: SetCount[];
  to: SetCount[];
  /** Sets (serving something) with replicas the backend does not serve: retired before anything else. */
  leftoverSets: string[];
  leftovers: number;
  emptySets: string[];
  oldSets: string[];
  restoreSet: string | null;
  previousVersion: string | null;
  nextOrdinal: Record<string, number>;
}

export function classifySets(live: RollingSetsLive, targetSet: string, desired: number): SetsStart {
  const relevant = live.sets
    .filter((s) => slotOf(s) === 'rolling' || (live.routing !== 'rolling' && slotOf(s) === live.routing))
    .sort((a, b) => a.name.localeCompare(b.name));
  const from: SetCount[] = [];
  const to: SetCount[] = [];
  const leftoverSets: string[] = [];
  const emptySets: string[] = [];
  let leftovers = 0;
  for (const s of relevant) {
    if (s.name === targetSet) add(to, s.name, s.served);
    else add(from, s.name, s.served);
    if (slotOf(s) !== 'rolling') continue;
    if (s.served === 0 && s.name !== targetSet) emptySets.push(s.name);
    else if (s.launched > s.served) {
      leftoverSets.push(s.name);
      leftovers += s.launched - s.served;
    }
  }
  // More target replicas serving than wanted (scaling down the same version): the excess is replaced too.
  const mine = to[0];
  if (mine && mine.count > desired) {
    add(from, targetSet, mine.count - desired);
    mine.count = desired;
  }
  const counts = from.filter((g) => g.count > 0);
  const oldSets = setsOf(counts);
  const restoreSet = [...counts].sort((a, b) => b.count - a.count || a.set.localeCompare(b.set))[0]?.set ?? null;
  const previousVersion = live.sets.find((s) => s.name === restoreSet)?.version ?? null;
  return {
    from: counts,
    to: to.filter((g) => g.count > 0),
    leftoverSets,
    leftovers,
    emptySets,
    oldSets,
    restoreSet,
    previousVersion,
    nextOrdinal: Object.fromEntries([[targetSet, 0], ...live.sets.map((s) => [s.name, s.nextOrdinal] as const)]),
  };
}
