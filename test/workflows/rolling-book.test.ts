/**
 * The batch book (workflows/rolling/book.ts): named transitions over the old and new versions' replicas, a rollback
 * as the same book run the other way, and the book carried by runs from before the rewrite (from/to) read as old/new.
 */
import { BatchBook } from '../../workflows/rolling/book';
import type { RollingStart } from '../../workflows/rolling-live';
import type { LegacyRollingBook, RollingContext, TrackedReplica } from '../../workflows/types';

const OLD_SET = 'shop-1-0-0-rolling-a';
const NEW_SET = 'shop-2-0-0-rolling-b';
const fenceposts = { surge: 1, unavailable: 0 };

function replicas(set: string, n: number, first = 0): TrackedReplica[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${set}-${first + i}`, set, address: `http://old:${first + i}` }));
}

function started(old: number): RollingStart {
  return {
    from: replicas(OLD_SET, old),
    to: [],
    leftovers: [],
    emptySets: [],
    oldSets: [OLD_SET],
    restoreSet: OLD_SET,
    previousVersion: '1.0.0',
    nextIndex: { [OLD_SET]: old, [NEW_SET]: 0 },
  };
}

function context(restoreSet: string | null, oldCount: number): RollingContext {
  return {
    backend: 'shop-rolling',
    targetSet: NEW_SET,
    oldSets: [OLD_SET],
    restoreSet,
    oldCount,
    previousVersion: '1.0.0',
    firstDeployment: false,
    initialRules: {},
    fenceposts,
  };
}

const ids = (rs: readonly TrackedReplica[]) => rs.map((r) => r.id);

describe('rolling forward', () => {
  test('surge, launched, registered, deregistered, retired: one batch moves one replica from old to new', () => {
    const book = BatchBook.begin(2);
    book.found(started(2), NEW_SET);
    book.planned(fenceposts);
    expect([book.batches, book.counts()]).toEqual([2, { desired: 2, from: 2, to: 0 }]);
    expect(book.nextBatch(fenceposts)).toEqual({ retireFirst: 0, launch: 1, retireAfter: 1 });
    expect(book.begun()).toBe(1);

    const launched = book.surge(1);
    expect(ids(launched)).toEqual([`${NEW_SET}-0`]);
    book.launchStarted(launched);
    book.addressed(launched, [{ id: `${NEW_SET}-0`, address: 'http://new:0' }]);
    expect(ids(book.launching)).toEqual([`${NEW_SET}-0`]);
    book.registered(launched);
    expect([ids(book.new), book.launching.length]).toEqual([[`${NEW_SET}-0`], 0]);

    const out = book.pick(1);
    expect(ids(out)).toEqual([`${OLD_SET}-1`]); // the most recent old replica goes first
    book.deregistered(out);
    expect([ids(book.old), ids(book.draining)]).toEqual([[`${OLD_SET}-0`], [`${OLD_SET}-1`]]);
    book.retired(out);
    expect(book.draining).toHaveLength(0);
    expect(book.counts()).toEqual({ desired: 2, from: 1, to: 1 });
    // The next surge takes the next ordinal: ids are never reused, so a retried launch is the same replica.
    expect(ids(book.surge(1))).toEqual([`${NEW_SET}-1`]);
  });

  test('an address the probe does not report is kept; the launch answer replaces it', () => {
    const book = BatchBook.begin(1);
    book.found(started(1), NEW_SET);
    const [replica] = book.surge(1) as [TrackedReplica];
    book.addressed([replica], [{ id: replica.id, address: 'http://new:0' }]);
    book.addressed([replica], [{ id: replica.id, address: '' }], true);
    expect(replica.address).toBe('http://new:0');
    book.addressed([replica], []);
    expect(replica.address).toBe('');
  });
});

describe('rolling back: the same book run the other way', () => {
  test('turned back: outgoing are the new version replicas, incoming the old ones, relaunched into their set', () => {
    const book = BatchBook.begin(3);
    book.found(started(3), NEW_SET);
    book.planned(fenceposts);
    book.begun();
    const launched = book.surge(1);
    book.launchStarted(launched);
    book.registered(launched);
    const out = book.pick(1);
    book.deregistered(out);
    // Interrupted while draining: the old replica is registered again before turning back.
    book.drainingRegisteredAgain();
    expect(ids(book.old)).toEqual(ids(replicas(OLD_SET, 3)));

    book.turnedBack(context(OLD_SET, 3));
    expect([book.rollingBack, book.batch, book.batches, book.launchSet]).toEqual([true, 0, 0, OLD_SET]);
    expect(ids(book.outgoing)).toEqual([`${NEW_SET}-0`]);
    expect(ids(book.incoming)).toEqual(ids(replicas(OLD_SET, 3)));
    expect(book.counts()).toEqual({ desired: 3, from: 1, to: 3 });
    // The old version's replicas keep their name: old is old whichever way the book runs.
    expect(ids(book.old)).toEqual(ids(replicas(OLD_SET, 3)));
    book.deregistered(book.pick(1));
    expect([book.new.length, ids(book.draining)]).toEqual([0, [`${NEW_SET}-0`]]);
    expect(ids(book.surge(1))).toEqual([`${OLD_SET}-3`]);
  });

  test('without a set to restore (only the serving set was scaled), what serves is kept and nothing runs back', () => {
    const book = BatchBook.begin(4);
    book.found({ ...started(0), from: [], to: replicas(NEW_SET, 2), restoreSet: null, oldSets: [] }, NEW_SET);
    book.turnedBack(context(null, 0));
    expect(book.counts()).toEqual({ desired: 2, from: 0, to: 2 });
    expect(book.nextBatch(fenceposts)).toBeUndefined();
  });
});

describe('carried across runs', () => {
  test('a book carried by a run before the rewrite (from/to) is read as old/new, in either direction', () => {
    const base = {
      launching: [],
      draining: [],
      desired: 2,
      launchSet: NEW_SET,
      nextIndex: {},
      batch: 1,
      batches: 2,
      pausesDone: [1],
    };
    const forward: LegacyRollingBook = {
      ...base,
      direction: 'forward',
      from: replicas(OLD_SET, 1),
      to: replicas(NEW_SET, 1),
    };
    const f = BatchBook.resume(forward);
    expect([ids(f.old), ids(f.new), f.pausesDone]).toEqual([[`${OLD_SET}-0`], [`${NEW_SET}-0`], [1]]);

    const rollback: LegacyRollingBook = {
      ...base,
      direction: 'rollback',
      launchSet: OLD_SET,
      from: replicas(NEW_SET, 1),
      to: replicas(OLD_SET, 1),
    };
    const r = BatchBook.resume(rollback);
    expect([ids(r.old), ids(r.new)]).toEqual([[`${OLD_SET}-0`], [`${NEW_SET}-0`]]);
    expect(r.counts()).toEqual({ desired: 2, from: 1, to: 1 });
    expect('from' in r.carried()).toBe(false);
  });

  test('the book carried now resumes as it was, and a pending pause keeps its deadline', () => {
    const book = BatchBook.begin(2);
    book.found(started(2), NEW_SET);
    book.pauseOpened(1, 1_700_000_000_000);
    const again = BatchBook.resume(JSON.parse(JSON.stringify(book.carried())) as ReturnType<BatchBook['carried']>);
    expect([ids(again.old), again.pendingDeadline(1), again.pendingDeadline(2)]).toEqual([
      ids(replicas(OLD_SET, 2)),
      1_700_000_000_000,
      undefined,
    ]);
    again.pauseClosed();
    expect(again.pendingDeadline(1)).toBeUndefined();
  });
});
