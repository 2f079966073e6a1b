/**
 * The arithmetic of a rolling update, kept pure (no Temporal, no Node
 * built-ins) so the workflow, the docs and the tests share one definition:
 *
 * - `resolveFenceposts`: maxSurge / maxUnavailable as absolute numbers, exactly
 *   as Kubernetes resolves them (deployment util `ResolveFenceposts` over
 *   `intstr.GetScaledValueFromIntOrPercent`): a percentage of the desired
 *   replicas, surge rounded up, unavailable rounded down; if both come out 0,
 *   unavailable becomes 1.
 * - `nextBatch` / `planBatches`: how many replicas one batch takes out first,
 *   launches, and retires after, so that at every moment
 *     serving >= desired - unavailable   and   total <= desired + surge
 *   (or, when the starting point is already outside those bounds, never further
 *   outside than it started).
 * - `rollingReplicaSetName`: the deterministic replica-set name, which carries
 *   a configuration revision so a configuration-only update gets a new set.
 */

/** An absolute count, or a percentage of the desired replicas such as "25%". */
export type IntOrPercent = number | string;

export interface Fenceposts {
  /** Replicas that may exist above the desired count. */
  surge: number;
  /** Replicas of the desired count that may be out of service. */
  unavailable: number;
}

const PERCENT_RE = /^(\d+)%$/;

/**
 * Kubernetes' GetScaledValueFromIntOrPercent: an int is taken as is; "N%" is
 * N percent of `total`, rounded up or down.
 */
export function scaledValue(value: IntOrPercent, total: number, roundUp: boolean): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) throw new Error(`expected a non-negative integer, got ${value}`);
    return value;
  }
  const match = PERCENT_RE.exec(value.trim());
  if (!match) throw new Error(`invalid value "${value}": expected an integer or a percentage such as "25%"`);
  const scaled = (Number(match[1]) * total) / 100;
  return roundUp ? Math.ceil(scaled) : Math.floor(scaled);
}

/** Whether a maxSurge / maxUnavailable value is zero as written (0 or "0%"), before any rounding. */
export function isExplicitZero(value: IntOrPercent): boolean {
  return typeof value === 'number' ? value === 0 : Number(PERCENT_RE.exec(value.trim())?.[1] ?? NaN) === 0;
}

/** Kubernetes' ResolveFenceposts. */
export function resolveFenceposts(maxSurge: IntOrPercent, maxUnavailable: IntOrPercent, desired: number): Fenceposts {
  const surge = scaledValue(maxSurge, desired, true);
  let unavailable = scaledValue(maxUnavailable, desired, false);
  // Validation refuses 0 and 0 as written; rounding down may still produce it: then one may be unavailable.
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

/** Where a rolling update stands between two batches: every counted replica is registered and serving. */
export interface RollingCounts {
  /** The replica count the update ends with. */
  desired: number;
  /** Serving replicas that are to be replaced ("old"; the new version's when rolling back). */
  from: number;
  /** Serving replicas of the target version ("new"; the old version's when rolling back). */
  to: number;
}

/** One batch, in the order it runs. */
export interface BatchPlan {
  /** Old replicas deregistered, drained and retired before anything is launched (uses maxUnavailable). */
  retireFirst: number;
  /** New replicas launched, probed until healthy and registered (uses maxSurge). */
  launch: number;
  /** Old replicas deregistered, drained and retired once the new ones serve. */
  retireAfter: number;
}

/**
 * The next batch from `counts`, or undefined when the update is complete
 * (`to` = desired, `from` = 0). Bounds, with S = surge and U = unavailable
 * (U capped at desired, as Kubernetes caps maxUnavailable at the replica count):
 *
 * - `retireFirst` never takes serving below desired - U;
 * - after the launch, total = from + to (serving) + launched <= desired + S;
 * - `retireAfter` brings serving back to desired (all remaining old ones once
 *   the new ones are complete).
 *
 * Every batch launches at least one replica while some are missing (S + U >= 1).
 */
export function nextBatch(counts: RollingCounts, fenceposts: Fenceposts): BatchPlan | undefined {
  const { desired, from, to } = counts;
  if (to > desired) throw new Error(`${to} target replicas exceed the desired ${desired}: count the excess as "from"`);
  if (from === 0 && to === desired) return undefined;
  const unavailable = Math.min(fenceposts.unavailable, desired);
  const total = from + to;
  const maxTotal = desired + fenceposts.surge;
  const minServing = desired - unavailable;
  const canTakeFirst = Math.min(from, Math.max(0, total - minServing));
  const room = maxTotal - total; // negative when over capacity (e.g. scaling down a lot)
  const missing = desired - to;
  const launch = Math.min(missing, Math.max(0, room + canTakeFirst));
  const retireFirst = launch > 0 ? Math.max(0, launch - room) : Math.min(canTakeFirst, Math.max(0, -room));
  const fromLeft = from - retireFirst;
  const servingAfterLaunch = fromLeft + to + launch;
  const retireAfter = Math.min(fromLeft, Math.max(0, servingAfterLaunch - desired));
  return { retireFirst, launch, retireAfter };
}

/** Applies a batch to the counts (what the world looks like once the batch is done). */
export function applyBatch(counts: RollingCounts, batch: BatchPlan): RollingCounts {
  return {
    desired: counts.desired,
    from: counts.from - batch.retireFirst - batch.retireAfter,
    to: counts.to + batch.launch,
  };
}

/** Every batch from `counts` to the end. Throws if the plan would not terminate (it always does when S + U >= 1). */
export function planBatches(counts: RollingCounts, fenceposts: Fenceposts): BatchPlan[] {
  const batches: BatchPlan[] = [];
  const limit = counts.desired + counts.from + 2;
  for (let now = counts, next = nextBatch(now, fenceposts); next; next = nextBatch(now, fenceposts)) {
    const after = applyBatch(now, next);
    if (after.from === now.from && after.to === now.to) throw new Error(`no progress from ${JSON.stringify(now)}`);
    batches.push(next);
    if (batches.length > limit) throw new Error(`more than ${limit} batches from ${JSON.stringify(counts)}`);
    now = after;
  }
  return batches;
}

/** The moments inside one batch, for checking the bounds: serving and total replicas after each step. */
export function batchMoments(counts: RollingCounts, batch: BatchPlan): { serving: number; total: number }[] {
  const start = counts.from + counts.to;
  const afterRetireFirst = start - batch.retireFirst;
  const afterLaunch = afterRetireFirst + batch.launch;
  return [
    { serving: start, total: start },
    { serving: afterRetireFirst, total: afterRetireFirst }, // deregistered, drained, retired
    { serving: afterRetireFirst, total: afterLaunch }, // launched, probing: not serving yet
    { serving: afterLaunch, total: afterLaunch }, // registered
    { serving: afterLaunch - batch.retireAfter, total: afterLaunch }, // deregistered, draining
    { serving: afterLaunch - batch.retireAfter, total: afterLaunch - batch.retireAfter }, // retired
  ];
}

/** 32-bit FNV-1a, as 7 base-36 characters: a short, stable digest for names (not for security). */
export function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(36).padStart(7, '0');
}

/**
 * The configuration revision of a rolling replica set: `configRevision` when
 * given (sanitised), else a digest of the environment (keys sorted, so the
 * order they are written in does not matter).
 */
export function configRevisionOf(env: Record<string, string>, configRevision?: string): string {
  if (configRevision !== undefined) {
    return (
      configRevision
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-+|-+$/g, '') || 'r'
    );
  }
  const canonical = JSON.stringify(
    Object.keys(env)
      .sort()
      .map((key) => [key, env[key]]),
  );
  return shortHash(canonical);
}

/**
 * Deterministic name of the replica set a rolling update launches into:
 * `<application>-<version>-rolling-<revision>` (DNS-label safe, at most 63
 * characters; the revision is never truncated away).
 */
export function rollingReplicaSetName(application: string, version: string, revision: string): string {
  const v = version.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  const rev = revision.slice(0, 20);
  const base = `${application}-${v}-rolling`.slice(0, 63 - rev.length - 1).replace(/-+$/, '');
  return `${base}-${rev}`;
}

/** Replica id `<set>-<index>`, the same shape the platforms use for their own ids. */
export function replicaId(set: string, index: number): string {
  return `${set}-${index}`;
}

/** The index of a replica id of `set` ("shop-2-0-0-rolling-x-4" -> 4), if it is one. */
export function replicaIndexIn(set: string, id: string): number | undefined {
  if (!id.startsWith(`${set}-`)) return undefined;
  const rest = id.slice(set.length + 1);
  return /^\d+$/.test(rest) ? Number(rest) : undefined;
}
