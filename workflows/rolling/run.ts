/**
 * One run of a rolling update: the spec, the visible status, the batch book and what discovery learnt, plus how its
 * steps run — a step that changes the world runs to completion and records its effect in the same breath (`mutate`),
 * a launch may be cancelled by an abort halfway (`cancellableMutate`), and every router and platform call gets a
 * budget derived from its work. The runbook (workflows/rolling-update.ts) and its parts take a RollingRun.
 */
import { CancellationScope, CancelledFailure, patched, setHandler } from '@temporalio/workflow';
import { budgeted } from '../activity-presets';
import { ApprovalGate } from '../approval';
import { LAUNCH_CONCURRENCY, retireBudgetMs, routerBudgetMs } from '../budgets';
import { abortSignal, rollbackSignal, statusQuery } from '../messages';
import type { DecisionInput } from '../messages';
import { Compensations } from '../saga';
import type { RollingSpec, RollingStrategy } from '../spec';
import { DeploymentTracker } from '../tracker';
import type { DeploymentStatus, RollingContext, RollingInput, TrackedReplica } from '../types';
import { BatchBook } from './book';
import { CountBook } from './counts';
import { ROLLING_BOUNDED_PAYLOADS_PATCH } from './sets';

/** A run continues as new once its history reaches this many events (unless the server suggests it earlier). */
export const DEFAULT_MAX_HISTORY_EVENTS = 2_000;

export class RollingRun {
  readonly strategy: RollingStrategy;
  readonly tracker: DeploymentTracker;
  readonly status: DeploymentStatus;
  readonly gate: ApprovalGate;
  /** A first deployment's undo (retire the new set, switch the modules back). */
  readonly undo = new Compensations();
  /** The forward work: an accepted abort cancels it. */
  readonly work = new CancellationScope();
  /** The batch book: counts per replica set (the bounded path), or replica lists (runs recorded before it). */
  readonly book: BatchBook | CountBook;
  /** The bounded-payload path (ROLLING_BOUNDED_PAYLOADS_PATCH), decided once when the run starts. */
  readonly bounded: boolean;
  readonly historyLimit: number;
  /** What discovery learnt (carried across runs); undefined until discovery is done. */
  context: RollingContext | undefined;
  abortedBy: DecisionInput | undefined;
  /** The last batch is done: from here on the update completes, whatever is asked. */
  complete = false;
  /** Rolling back (in this run or an earlier one): an abort has nothing left to stop. */
  rollingBack: boolean;

  constructor(
    readonly input: RollingInput,
    readonly spec: RollingSpec,
  ) {
    this.strategy = spec.strategy;
    this.tracker = new DeploymentTracker(spec, 'rolling', { searchAttributes: input.searchAttributes !== false });
    this.status = this.tracker.status;
    const resumed = input.resume;
    if (resumed) this.tracker.resume(resumed.status);
    setHandler(statusQuery, () => this.status);
    this.gate = new ApprovalGate(this.tracker, spec.version);
    this.historyLimit = input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
    this.context = resumed?.context;
    // Asked in every run, before anything is commanded; a book already counted stays counted.
    this.bounded = patched(ROLLING_BOUNDED_PAYLOADS_PATCH) || (resumed !== undefined && 'shape' in resumed.book);
    const carried = resumed?.book;
    if (this.bounded) this.book = carried ? CountBook.resume(carried) : CountBook.begin(spec.replicas);
    else if (carried && 'shape' in carried) throw new Error('unreachable: a counted book on the list path');
    else this.book = carried ? BatchBook.resume(carried) : BatchBook.begin(spec.replicas);
    this.rollingBack = this.book.rollingBack;
    setHandler(abortSignal, (decision: DecisionInput) => this.onAbort(decision));
    setHandler(rollbackSignal, (decision: DecisionInput) => {
      this.tracker.event(
        `rollback from ${decision?.by || 'unknown'} ignored: a rolling update has no rollback window ` +
          '(abort rolls the replaced replicas back until the last batch is done)',
      );
    });
  }

  /** The book of the list path (runs recorded before the bounded path). */
  get replicaBook(): BatchBook {
    if (!(this.book instanceof BatchBook)) throw new Error('the list path asked for on the bounded path');
    return this.book;
  }
  /** The book of the bounded path. */
  get setBook(): CountBook {
    if (!(this.book instanceof CountBook)) throw new Error('the bounded path asked for on the list path');
    return this.book;
  }

  /** The discovered context (only asked for once discovery is done). */
  get ctx(): RollingContext {
    return this.context as RollingContext;
  }

  /** The version of the replicas this direction brings in, and of the ones it takes out. */
  get incomingVersion(): string {
    return this.book.rollingBack ? this.oldVersion : this.spec.version;
  }
  get outgoingVersion(): string {
    return this.book.rollingBack ? this.spec.version : this.oldVersion;
  }
  private get oldVersion(): string {
    return this.status.previousVersion ?? 'old';
  }

  /**
   * Runs a step that changes the world to completion even if an abort arrives meanwhile (its effect must be known to
   * undo it), and records its effect in the same breath. Refuses to start once an abort is requested.
   */
  async mutate<T, R = T>(
    name: string,
    call: () => Promise<T>,
    apply: (result: T) => R,
    detail?: (result: R) => string,
  ): Promise<R> {
    return CancellationScope.nonCancellable(() => this.cancellableMutate(name, call, apply, detail));
  }

  /**
   * As mutate, for a step whose effect is recorded before it runs (a launch: the replicas are in the book as
   * launching), so an abort may cancel it halfway: the rollback then undoes whatever it had done.
   */
  async cancellableMutate<T, R = T>(
    name: string,
    call: () => Promise<T>,
    apply: (result: T) => R,
    detail?: (result: R) => string,
  ): Promise<R> {
    this.refuseOnceAborted();
    return this.tracker.step(name, () => this.applied(call, apply), detail);
  }

  /** A router call changing `changes` modules' rules (or one backend). */
  routerCall(changes: number) {
    return budgeted(routerBudgetMs(this.spec.router, changes));
  }

  /** Retiring `count` replicas, LAUNCH_CONCURRENCY at once. */
  retireCall(count: number) {
    return budgeted(retireBudgetMs(this.spec.platform, count, LAUNCH_CONCURRENCY));
  }

  /** The status's replica counts and batch progress, from the book. */
  refresh(ctx: RollingContext | undefined = this.context): void {
    const { book, status } = this;
    const sizes = book.sizes();
    const oldServing = sizes.old;
    const newServing = sizes.new;
    const newAlive = newServing + (book.rollingBack ? 0 : sizes.launching);
    status.replicas = { desired: this.spec.replicas, launched: newAlive, healthy: oldServing + newServing };
    status.rolling = {
      batch: book.batch,
      batches: book.batches,
      direction: book.direction,
      old: oldServing,
      new: newServing,
      healthy: oldServing + newServing,
      maxSurge: ctx?.fenceposts.surge ?? 0,
      maxUnavailable: ctx?.fenceposts.unavailable ?? 0,
      replicaSet: ctx?.targetSet ?? '',
      replacing: ctx?.oldSets ?? [],
      run: status.rolling?.run ?? 1,
      runEvents: status.rolling?.runEvents ?? [],
    };
  }

  private async applied<T, R>(call: () => Promise<T>, apply: (result: T) => R): Promise<R> {
    const result = apply(await call());
    this.refresh();
    return result;
  }

  private refuseOnceAborted(): void {
    if (this.abortedBy && !this.rollingBack) throw new CancelledFailure('aborted');
  }

  private onAbort(decision: DecisionInput): void {
    const by = decision?.by || 'unknown';
    const why = this.abortedBy
      ? 'already aborting'
      : this.rollingBack
        ? 'already rolling back'
        : this.complete
          ? 'every batch is done'
          : undefined;
    if (why) {
      this.tracker.event(`abort from ${by} ignored: ${why}`);
      return;
    }
    this.abortedBy = { by, reason: decision?.reason };
    this.tracker.event(`abort requested by ${by}${decision?.reason ? `: ${decision.reason}` : ''}`);
    this.work.cancel();
  }
}

/** The addresses to register or drain (a replica whose address is not known yet has none). */
export function addresses(replicas: readonly TrackedReplica[]): string[] {
  return replicas.map((r) => r.address).filter((a) => a !== '');
}

/** The replicas as the platform names them. */
export function refs(replicas: readonly TrackedReplica[]): { set: string; id: string }[] {
  return replicas.map((r) => ({ set: r.set, id: r.id }));
}
