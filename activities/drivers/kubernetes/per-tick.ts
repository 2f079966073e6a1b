/**
 * Calls of one tick, joined: every caller that joins a key before the next macrotask (setImmediate) is part of one
 * run of `body` with all of their items, and gets its result. The run starts after every caller joined, so what it
 * reads is at least as new as each call. An activity's lanes (eachLimited) make their calls in one tick: 25 probes
 * of one set become one LIST of its pods, 25 retirements one deletecollection.
 */
export class PerTick<I, R> {
  private readonly open = new Map<string, { items: I[]; result: Promise<R> }>();

  constructor(private readonly body: (key: string, items: I[]) => Promise<R>) {}

  join(key: string, item: I): Promise<R> {
    let batch = this.open.get(key);
    if (!batch) {
      const items: I[] = [];
      const result = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        this.open.delete(key); // callers from now on join the next run
        return this.body(key, items);
      });
      batch = { items, result };
      this.open.set(key, batch);
    }
    batch.items.push(item);
    return batch.result;
  }
}
