/**
 * The Kubernetes Platform driver. A replica is one pod named `<replicaSet>-<index>`; a replica set is one
 * ConfigMap `<replicaSet>` holding its record (application, version, slot, modules, desired count, env) and owning
 * its pods (deleting it garbage-collects them). Everything lives in the API server: a restarted worker rebuilds
 * every replica set from it (listReplicaSets), and no local file is kept.
 *
 * Idempotency comes from deterministic names: a retried launch gets 409 AlreadyExists and reads the pod back, never
 * a second copy; deleting a pod or a record that is gone is a no-op.
 *
 * The driver works a replica set at a time where it can (PerTick): the calls one activity makes side by side (its
 * lanes) for one set share one read of the set's record (launches) or one labelled LIST of its pods (probes,
 * retirements), and the retirements of one tick are one `deletecollection` of their pods by label selector (each pod
 * is labelled with its index; a Role without deletecollection gets per-pod deletes instead). Per-pod calls
 * (creations, per-pod deletes) go `concurrency` at a time, and the activities size their lanes by it.
 *
 * Health: `probe: readiness` (default) answers from the pod's Ready condition, as the kubelet's readinessProbe
 * (httpGet on the module's health page) set it — the worker never sends a request to a pod IP, which it usually
 * cannot reach (and on kwok test clusters are fake). `probe: http` GETs the page at the pod IP, for workers inside
 * the cluster network.
 *
 * Pods that end: with restartPolicy Always a container that exits is restarted in place, but a pod itself can end
 * (phase Failed or Succeeded: evicted under node pressure, a graceful node shutdown, refused at admission), and
 * nothing would ever replace it. The driver does, wherever it meets one of a set whose record exists (a launch, an
 * ensure or scale, a get or list of the set, a probe): it deletes it (grace 0, with a uid precondition: never a pod
 * someone else created meanwhile) and creates it again under the same name, annotated with how many times that
 * replica was replaced and why it last ended. The name keeps two workers or a retry from making two copies. After
 * MAX_REPLACEMENTS it stops: the pod stays as it ended, launches fail with ReplicasUnhealthy naming the cause, and
 * the replica's state and probes say why it is not running.
 */
import { Context } from '@temporalio/activity';
import { CutoverError, ErrorType } from '../../errors';
import type { Platform, ProbeResult, Replica, ReplicaSetSpec, ReplicaSetState } from '../../ports';
import { slotOf, withSlot } from '../../ports';
import type { KubeApi, PodInfo, RecordInfo } from './api';
import { ConflictError } from './api';
import {
  ANNOTATION_LAST_END,
  ANNOTATION_REPLACEMENTS,
  applicationSelector,
  byIndex,
  indexSelector,
  LABEL_MANAGED_BY,
  LABEL_REPLICA_INDEX,
  LABEL_REPLICA_SET,
  MANAGED_BY,
  podName,
  setLabels,
  setOfReplica,
  setSelector,
} from './naming';
import { PerTick } from './per-tick';
import type { KubernetesPlatformConfig, RecordChange, SetRecord, StoredSpec } from './records';
import {
  checkConcurrency,
  checkCount,
  checkPreStop,
  DATA_DESIRED,
  DATA_SPEC,
  DEFAULT_CONCURRENCY,
  notFound,
  parseRecord,
  podManifest,
} from './records';

import { settleLimited } from '../settle';

export type { KubernetesPlatformConfig } from './records';
export { DEFAULT_CONCURRENCY } from './records';

/** Retiring many replicas of one set: up to this many deletecollections side by side, of COLLECTION_MIN pods or more. */
const COLLECTIONS_AT_ONCE = 4;
const COLLECTION_MIN = 8;
/** Indexes per deletecollection at most (its label selector is in the URL). */
const COLLECTION_MAX = 200;
/** Times one replica's pod is replaced after it ended; then it is left ended and reported. */
export const MAX_REPLACEMENTS = 5;
/** Creations of a replacement tried before giving up (its predecessor is deleted by then). */
const REPLACE_CREATE_ATTEMPTS = 4;

/** The pod ended (Failed or Succeeded) and is not being deleted: nothing will ever run in it again. */
const ended = (pod: PodInfo) => !pod.terminating && (pod.phase === 'Failed' || pod.phase === 'Succeeded');
const replacementsOf = (pod: PodInfo) => Number(pod.annotations[ANNOTATION_REPLACEMENTS] ?? 0) || 0;

/** A warning in the activity's log (the worker's logger, with the activity's ids); nothing outside an activity. */
function warn(message: string, meta: Record<string, unknown>): void {
  let ctx: Context | undefined;
  try {
    ctx = Context.current();
  } catch {
    return; // not running as an activity (a test calling the driver directly)
  }
  ctx.log.warn(message, meta);
}

export class KubernetesPlatform implements Platform {
  readonly kind = 'kubernetes';
  readonly concurrency: number;
  private readonly graceSeconds: number;
  /** One read of a set's record for the calls of one tick (launches). */
  private readonly records = new PerTick<void, SetRecord | undefined>((name) => this.readSet(name));
  /** One labelled LIST of a set's pods for the calls of one tick (probes, retirements, syncs). */
  private readonly pods = new PerTick<void, PodInfo[]>((name) => this.api.listPods(setSelector(name)));
  /** The retirements of one tick, by set: one deletecollection. */
  private readonly deletions = new PerTick<PodInfo, void>((name, pods) => this.deleteReplicas(name, pods));
  /** Per replica set: the desired-count sync waiting to start, and the last one started (see syncDesired). */
  private readonly queuedSyncs = new Map<string, Promise<void>>();
  private readonly runningSyncs = new Map<string, Promise<void>>();
  /** Replacements of ended pods under way, by the ended pod's uid: concurrent callers share one. */
  private readonly replacing = new Map<string, Promise<PodInfo | undefined>>();

  constructor(
    private readonly config: KubernetesPlatformConfig,
    private readonly api: KubeApi,
  ) {
    this.graceSeconds = Math.ceil((config.gracePeriod ?? 30_000) / 1000);
    checkPreStop(config, config.gracePeriod ?? 30_000);
    this.concurrency = checkConcurrency(config.concurrency ?? DEFAULT_CONCURRENCY);
  }

  async ensureReplicaSet(given: ReplicaSetSpec): Promise<ReplicaSetState> {
    const spec = withSlot(given);
    checkCount(spec.replicas);
    const stored: StoredSpec = {
      application: spec.application,
      version: spec.version,
      slot: spec.slot,
      modules: spec.modules,
      env: spec.env,
    };
    const { record, created } = await this.api.createRecord({
      name: spec.name,
      labels: setLabels(spec),
      data: { [DATA_SPEC]: JSON.stringify(stored), [DATA_DESIRED]: String(spec.replicas) },
    });
    let set = this.parse(record);
    if (!created && (set.desired !== spec.replicas || JSON.stringify(set.spec) !== JSON.stringify(stored))) {
      set = await this.updateRecord(spec.name, () => ({ spec: stored, desired: spec.replicas }));
    }
    // Replicas beyond spec.replicas (from an earlier scale) are left alone: scaleReplicaSet retires them.
    await settleLimited(
      'pod creations',
      Array.from({ length: spec.replicas }, (_, i) => podName(spec.name, i)),
      this.concurrency,
      (id) => this.createPod(set, id),
    );
    return this.requireState(spec.name);
  }

  async scaleReplicaSet(name: string, replicas: number): Promise<ReplicaSetState> {
    checkCount(replicas);
    const set = await this.updateRecord(name, (s) => ({ ...s, desired: replicas }));
    const live = await this.livePods(name);
    const ids = byIndex(
      name,
      live.map((p) => p.name),
    );
    const keep = ids.slice(0, replicas);
    const retire = ids.slice(replicas); // the highest-numbered
    for (let i = 0; keep.length < replicas; i++) {
      const id = podName(name, i);
      if (!keep.includes(id) && !retire.includes(id)) keep.push(id);
    }
    await Promise.all([
      settleLimited('pod creations', keep, this.concurrency, (id) => this.createPod(set, id)),
      this.deleteReplicas(
        name,
        live.filter((p) => retire.includes(p.name)),
      ),
    ]);
    return this.requireState(name);
  }

  async launchReplica(name: string, replicaId: string): Promise<Replica> {
    const set = await this.records.join(name);
    if (!set) throw notFound(name, this.api.namespace);
    const pod = await this.createPod(set, replicaId);
    await this.syncDesired(name);
    return this.toReplica(pod);
  }

  async retireReplica(name: string, replicaId: string): Promise<void> {
    // The set's pods by label: a pod of that name that is not a Cutover replica of this set is not among them, and
    // is never deleted.
    const pod = (await this.pods.join(name)).find((p) => p.name === replicaId);
    if (!pod) return; // already gone
    await this.deletions.join(name, pod);
    await this.syncDesired(name);
  }

  async getReplicaSet(name: string): Promise<ReplicaSetState | undefined> {
    const set = await this.readSet(name);
    if (!set) return undefined;
    return this.stateOf(set, await this.replaceEnded(set, await this.livePods(name)));
  }

  async listReplicaSets(application: string): Promise<ReplicaSetState[]> {
    const selector = applicationSelector(application);
    const [records, pods] = await Promise.all([this.api.listRecords(selector), this.api.listPods(selector)]);
    const sets = records
      .map((record) => this.parse(record))
      .filter((set) => set.spec.application === application)
      .sort((a, b) => a.record.name.localeCompare(b.record.name));
    return Promise.all(
      sets.map(async (set) =>
        this.stateOf(
          set,
          await this.replaceEnded(
            set,
            pods.filter((p) => !p.terminating && p.labels[LABEL_REPLICA_SET] === set.record.name),
          ),
        ),
      ),
    );
  }

  async retireReplicaSet(name: string): Promise<void> {
    if (!(await this.api.deletePods(setSelector(name), this.graceSeconds))) {
      await this.deleteEach(await this.livePods(name));
    }
    // The record last: its pods would be garbage-collected with it anyway, but with their own grace period.
    await this.api.deleteRecord(name);
  }

  async probe(replica: Replica, path: string, timeoutMs: number): Promise<ProbeResult> {
    if ((this.config.probe ?? 'readiness') === 'http') return this.probeHttp(replica, path, timeoutMs);
    const set = setOfReplica(replica.id);
    const pod = set
      ? (await this.pods.join(set)).find((p) => p.name === replica.id)
      : await this.api.readPod(replica.id);
    const how = 'pod Ready condition from the Kubernetes API (probe: readiness; the kubelet ran the readinessProbe)';
    if (!pod) return { healthy: false, reason: `pod ${replica.id} does not exist; ${how}` };
    if (pod.terminating) return { healthy: false, reason: `pod ${replica.id} is terminating; ${how}` };
    if (set && ended(pod)) {
      const record = await this.records.join(set);
      const now = record ? (await this.replaceEnded(record, [pod]))[0] : undefined;
      return { healthy: false, reason: `pod ${replica.id} ${this.endReport(pod, now)}; ${how}` };
    }
    if (!pod.ready) {
      return { healthy: false, reason: `pod ${replica.id} is not Ready (${pod.notReadyReason ?? pod.phase}); ${how}` };
    }
    return { healthy: true, detail: `pod ${replica.id} Ready; ${how}` };
  }

  private async probeHttp(replica: Replica, path: string, timeoutMs: number): Promise<ProbeResult> {
    if (!replica.address) return { healthy: false, reason: `pod ${replica.id} has no IP yet (probe: http)` };
    const url = `${replica.address}${path}`;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
      await response.arrayBuffer();
      if (response.status >= 200 && response.status < 300) return { healthy: true, detail: `GET ${url} (probe: http)` };
      return { healthy: false, reason: `GET ${url} answered HTTP ${response.status} (probe: http)` };
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      return { healthy: false, reason: `GET ${url} failed: ${reason} (probe: http)` };
    }
  }

  /**
   * Deletes these pods of the set: the ones labelled with their index by deletecollection, the others (pods made
   * before the index label) one by one, and all one by one when deletecollection is forbidden. The API server
   * deletes a collection's pods one after the other (--delete-collection-workers, default 1), so many pods go in a
   * few collections side by side (measured on kwok, 50 pods: one collection ~350 ms, four ~210 ms, 50 deletes 32 at
   * a time ~560 ms).
   */
  private async deleteReplicas(name: string, pods: PodInfo[]): Promise<void> {
    const indexed = pods.filter((p) => p.labels[LABEL_REPLICA_INDEX] !== undefined);
    const each = pods.filter((p) => p.labels[LABEL_REPLICA_INDEX] === undefined);
    const parts = Math.max(
      Math.min(COLLECTIONS_AT_ONCE, Math.ceil(indexed.length / COLLECTION_MIN)),
      Math.ceil(indexed.length / COLLECTION_MAX),
    );
    const collections = Array.from({ length: parts }, (_, c) => indexed.filter((_p, i) => i % parts === c));
    await Promise.all([
      ...collections.map(async (collection) => {
        const indexes = collection.map((p) => Number(p.labels[LABEL_REPLICA_INDEX]));
        if (await this.api.deletePods(indexSelector(name, indexes), this.graceSeconds)) return;
        await this.deleteEach(collection); // forbidden (403): a Role without deletecollection
      }),
      this.deleteEach(each),
    ]);
  }

  private async deleteEach(pods: PodInfo[]): Promise<void> {
    await settleLimited('pod deletions', pods, this.concurrency, (p) => this.api.deletePod(p.name, this.graceSeconds));
  }

  /** Creates one pod of the set (or reads back the one an earlier attempt created). */
  private async createPod(set: SetRecord, id: string): Promise<PodInfo> {
    const name = set.record.name;
    const { pod, created } = await this.api.createPod(podManifest(this.config, this.graceSeconds, set, id));
    if (created) return pod;
    if (pod.labels[LABEL_REPLICA_SET] !== name || pod.labels[LABEL_MANAGED_BY] !== MANAGED_BY) {
      throw new CutoverError(
        ErrorType.PlatformRequestRejected,
        `pod ${id} in namespace ${this.api.namespace} exists but is not a replica of ${name} managed by Cutover`,
      );
    }
    if (pod.terminating) {
      // Retired a moment ago and still stopping: a plain Error, so the activity retries once it is gone.
      throw new Error(`pod ${id} in namespace ${this.api.namespace} is still terminating; launching it again later`);
    }
    if (!ended(pod)) return pod;
    const [now] = await this.replaceEnded(set, [pod]);
    if (now && !ended(now)) return now;
    if (now?.uid === pod.uid) {
      // Left ended: it was replaced MAX_REPLACEMENTS times already.
      throw new CutoverError(
        ErrorType.ReplicasUnhealthy,
        `pod ${id} in namespace ${this.api.namespace} ${this.endReport(pod, now)}`,
      );
    }
    // Deleted or replaced by someone else meanwhile (a retire, another worker): a plain Error, retried.
    throw new Error(
      `pod ${id} in namespace ${this.api.namespace} ended and is being replaced; launching it again later`,
    );
  }

  /**
   * These pods of the set, each one that ended replaced (see the header): the new pod in its place, or none when it
   * went meanwhile. One that ended MAX_REPLACEMENTS times already stays as it is.
   */
  private async replaceEnded(set: SetRecord, pods: PodInfo[]): Promise<PodInfo[]> {
    const now = await Promise.all(
      pods.map((pod) =>
        ended(pod) && replacementsOf(pod) < MAX_REPLACEMENTS ? this.replaceOne(set, pod) : Promise.resolve(pod),
      ),
    );
    return now.filter((p): p is PodInfo => p !== undefined);
  }

  private replaceOne(set: SetRecord, pod: PodInfo): Promise<PodInfo | undefined> {
    let running = this.replacing.get(pod.uid);
    if (!running) {
      running = this.replaceNow(set, pod).finally(() => this.replacing.delete(pod.uid));
      this.replacing.set(pod.uid, running);
    }
    return running;
  }

  private async replaceNow(set: SetRecord, pod: PodInfo): Promise<PodInfo | undefined> {
    // The uid precondition: false when it is gone or another pod has its name now (another worker replaced it).
    if (!(await this.api.deletePod(pod.name, 0, pod.uid))) return this.api.readPod(pod.name);
    const replacements = replacementsOf(pod) + 1;
    const lastEnd = pod.notReadyReason ?? `ended ${pod.phase}`;
    const manifest = podManifest(this.config, this.graceSeconds, set, pod.name, {
      [ANNOTATION_REPLACEMENTS]: String(replacements),
      [ANNOTATION_LAST_END]: lastEnd.slice(0, 1024),
    });
    // Deleted, so no later call would know to create it again: a transient failure is retried here.
    let created: PodInfo;
    for (let attempt = 1; ; attempt++) {
      try {
        created = (await this.api.createPod(manifest)).pod;
        break;
      } catch (err) {
        if (err instanceof CutoverError || attempt >= REPLACE_CREATE_ATTEMPTS) throw err;
        await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
      }
    }
    warn(`Kubernetes platform: replaced pod ${pod.name} of ${set.record.name}, which ${lastEnd}`, {
      namespace: this.api.namespace,
      pod: pod.name,
      replicaSet: set.record.name,
      replacements,
      endedUid: pod.uid,
      uid: created.uid,
    });
    return created;
  }

  /** What became of a pod that ended: replaced (`now` is its successor), or left ended after MAX_REPLACEMENTS. */
  private endReport(pod: PodInfo, now: PodInfo | undefined): string {
    const why = pod.notReadyReason ?? `ended ${pod.phase}`;
    if (now && now.uid !== pod.uid) {
      return `${why}; replaced it (replacement ${replacementsOf(now)} of at most ${MAX_REPLACEMENTS})`;
    }
    if (now && replacementsOf(now) >= MAX_REPLACEMENTS) {
      return `${why}, after ${MAX_REPLACEMENTS} replacements: not replaced again (find out why it ends: kubectl describe pod)`;
    }
    return why;
  }

  private toReplica(pod: PodInfo): Replica {
    const running = pod.phase === 'Running' && !pod.terminating;
    const reason = running ? undefined : this.reasonOf(pod);
    return {
      id: pod.name,
      address: pod.podIP ? `http://${pod.podIP}:${pod.port ?? this.config.port}` : '',
      running,
      ...(reason ? { reason } : {}),
    };
  }

  /** Why a pod that is not running is not, when that is worth saying: it cannot be scheduled, or it ended before. */
  private reasonOf(pod: PodInfo): string | undefined {
    const replaced = replacementsOf(pod);
    const history = replaced
      ? `replaced ${replaced} time(s) after it ended, last: ${pod.annotations[ANNOTATION_LAST_END] ?? 'unknown'}` +
        (replaced >= MAX_REPLACEMENTS && ended(pod) ? `; not replaced again (at most ${MAX_REPLACEMENTS})` : '')
      : undefined;
    const now =
      ended(pod) || pod.notReadyReason?.startsWith('not scheduled') ? `pod ${pod.phase}, ${pod.notReadyReason}` : '';
    return [now, history].filter(Boolean).join('; ') || undefined;
  }

  private stateOf(set: SetRecord, pods: PodInfo[]): ReplicaSetState {
    const ids = byIndex(
      set.record.name,
      pods.map((p) => p.name),
    );
    return {
      name: set.record.name,
      application: set.spec.application,
      version: set.spec.version,
      slot: slotOf(set.spec),
      desired: set.desired,
      replicas: ids.map((id) => this.toReplica(pods.find((p) => p.name === id) as PodInfo)),
    };
  }

  private async livePods(name: string): Promise<PodInfo[]> {
    return (await this.pods.join(name)).filter((p) => !p.terminating);
  }

  private parse(record: RecordInfo): SetRecord {
    return parseRecord(record, this.api.namespace);
  }

  private async readSet(name: string): Promise<SetRecord | undefined> {
    const record = await this.api.readRecord(name);
    return record ? this.parse(record) : undefined;
  }

  private async requireState(name: string): Promise<ReplicaSetState> {
    const state = await this.getReplicaSet(name);
    if (!state) throw notFound(name, this.api.namespace);
    return state;
  }

  /**
   * The desired count follows the pods after a single launch/retire (so a retried call counts once). Concurrent
   * launches and retires of one set (a batch runs them side by side) share their syncs: a call waits for a sync that
   * starts after it was made (so it counts that call's pod), and every call made while one sync runs shares the next.
   * Without this, each of N concurrent calls listed the set's pods and rewrote the one record, conflicting with the
   * others (a batch of 50 launches took seconds of conflict retries); now a batch costs about two syncs per process.
   */
  private syncDesired(name: string): Promise<void> {
    const queued = this.queuedSyncs.get(name);
    if (queued) return queued; // not started yet: it will see this call's pod
    const previous = this.runningSyncs.get(name) ?? Promise.resolve();
    const next: Promise<void> = previous
      .catch(() => undefined)
      .then(() => {
        if (this.queuedSyncs.get(name) === next) this.queuedSyncs.delete(name); // callers from now on need another
        return this.syncDesiredNow(name);
      });
    this.queuedSyncs.set(name, next);
    this.runningSyncs.set(name, next);
    next
      .finally(() => {
        if (this.runningSyncs.get(name) === next) this.runningSyncs.delete(name);
      })
      .catch(() => undefined);
    return next;
  }

  /** A set whose record is gone (retired meanwhile) has nothing to sync. */
  private async syncDesiredNow(name: string): Promise<void> {
    const count = (await this.livePods(name)).length;
    await this.updateRecordIfExists(name, (s) => (s.desired === count ? s : { ...s, desired: count }));
  }

  /** Read-modify-write of the record, retried on a conflict with another writer. */
  private async updateRecord(name: string, change: RecordChange): Promise<SetRecord> {
    const set = await this.updateRecordIfExists(name, change);
    if (!set) throw notFound(name, this.api.namespace);
    return set;
  }

  /** As updateRecord; undefined when there is no record. */
  private async updateRecordIfExists(name: string, change: RecordChange): Promise<SetRecord | undefined> {
    for (let attempt = 1; ; attempt++) {
      const set = await this.readSet(name);
      if (!set) return undefined;
      const next = change({ spec: set.spec, desired: set.desired });
      if (next.desired === set.desired && JSON.stringify(next.spec) === JSON.stringify(set.spec)) return set;
      try {
        const record = await this.api.replaceRecord({
          ...set.record,
          data: { ...set.record.data, [DATA_SPEC]: JSON.stringify(next.spec), [DATA_DESIRED]: String(next.desired) },
        });
        return this.parse(record);
      } catch (err) {
        if (!(err instanceof ConflictError) || attempt >= 5) throw err;
      }
    }
  }
}
