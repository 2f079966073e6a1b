/**
 * The bounded path's book (workflows/rolling/counts.ts): BatchBook's transitions over counts per replica set, a book
 * carried by a list-path run counted per set, and the starting point read from set summaries (classifySets).
 */
import { BatchBook } from '../../workflows/rolling/book';
import { CountBook, classifySets } from '../../workflows/rolling/counts';
import type { RollingContext } from '../../workflows/types';

const A = 'shop-1-0-0-rolling-a';
const B = 'shop-1-0-0-rolling-b';
const NEW = 'shop-2-0-0-rolling-n';
const fenceposts = { surge: 1, unavailable: 0 };

const summary = (name: string, launched: number, served: number, nextOrdinal = launched) => ({
  name,
  version: name.startsWith('shop-2') ? '2.0.0' : '1.0.0',
  slot: 'rolling' as const,
  launched,
  served,
  nextOrdinal,
});

describe('CountBook', () => {
  test('a batch: take out from the last set first, launch, register; the carried book has no replica', () => {
    const live = {
      routing: 'rolling' as const,
      backend: 'shop-rolling',
      targets: 5,
      rules: {},
      sets: [summary(A, 3, 3), summary(B, 3, 2, 7), summary(NEW, 0, 0)],
    };
    const start = classifySets(live, NEW, 5);
    expect(start).toMatchObject({
      from: [
        { set: A, count: 3 },
        { set: B, count: 2 },
      ],
      to: [],
      leftoverSets: [B],
      leftovers: 1,
      restoreSet: A,
      nextOrdinal: { [A]: 3, [B]: 7, [NEW]: 0 },
    });
    const book = CountBook.begin(5);
    book.found(start, NEW);
    expect(book.pick(3)).toEqual([
      { set: B, count: 2 },
      { set: A, count: 1 },
    ]);
    const plan = book.nextBatch(fenceposts);
    expect(plan).toMatchObject({ launch: 1, retireAfter: 1 });
    book.launchStarted(1);
    expect(book.launchOrdinal).toBe(1);
    book.registered(1);
    const out = book.pick(1);
    book.deregistered(out);
    expect(book.draining).toEqual([{ set: B, count: 1 }]);
    book.retired(out);
    expect(book.sizes()).toEqual({ old: 4, new: 1, launching: 0 });
    expect(book.servedIn(B)).toBe(1);
    expect(JSON.stringify(book.carried()).length).toBeLessThan(400);
  });

  test('a book carried by a list-path run is counted per set, its next indexes kept', () => {
    const lists = BatchBook.begin(2);
    lists.found(
      {
        from: [
          { id: `${A}-0`, set: A, address: 'http://a:0' },
          { id: `${A}-4`, set: A, address: 'http://a:4' },
        ],
        to: [{ id: `${NEW}-0`, set: NEW, address: 'http://n:0' }],
        leftovers: [],
        emptySets: [],
        oldSets: [A],
        restoreSet: A,
        previousVersion: '1.0.0',
        nextIndex: { [A]: 5, [NEW]: 1 },
      },
      NEW,
    );
    const counted = CountBook.resume(lists.carried());
    expect(counted.carried()).toMatchObject({
      shape: 'counts',
      old: [{ set: A, count: 2 }],
      new: [{ set: NEW, count: 1 }],
      launching: 0,
      nextOrdinal: { [A]: 5, [NEW]: 1 },
    });
  });

  test('turning back relaunches into the restore set, numbering on past the ids it had', () => {
    const book = CountBook.begin(2);
    book.found(
      classifySets({ routing: 'rolling', backend: 'b', targets: 2, rules: {}, sets: [summary(A, 2, 2)] }, NEW, 2),
      NEW,
    );
    book.launchStarted(1);
    book.registered(1);
    const out = book.pick(1);
    book.deregistered(out);
    book.retired(out);
    const ctx = { restoreSet: A, oldCount: 2 } as RollingContext;
    book.turnedBack(ctx);
    expect(book.launchSet).toBe(A);
    expect(book.launchOrdinal).toBe(2); // A had: the relaunch is A-2, not A-1 again
    expect(book.counts()).toEqual({ desired: 2, from: 1, to: 1 });
  });
});
