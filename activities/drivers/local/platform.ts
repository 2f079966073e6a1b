/**
 * The local Platform driver: every replica is a detached process on this
 * machine, tracked by name in a state directory (see platform-store.ts) that is
 * the source of truth after a worker restart.
 *
 * Idempotency is the point: a replica id has at most one live process. A
 * launch holds that replica's lock file, finds a live process from an earlier
 * attempt (returns it), a dead one (relaunches it) or none (launches it).
 *
 * Contract for a custom `command` (docs/blue-green.md, "What an application must do"): listen on the PORT it
 * is given (the platform picks a free one); the replica has started once that port accepts connections on a socket
 * of the replica's own processes, within `startTimeoutMs` (the spec's platform.startTimeout). Writing
 * {"pid":..,"port":..} to CUTOVER_READY_FILE once listening is optional (the bundled sample app does; its port is
 * then taken from it). Stop gracefully on SIGTERM.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CutoverError, ErrorType } from '../../errors';
import type { Platform, ProbeResult, Replica, ReplicaSetSpec, ReplicaSetState, StartOptions } from '../../ports';
import { slotOf, withSlot } from '../../ports';
import { DEFAULT_START_TIMEOUT_MS } from '../../../workflows/spec';
import { describeError, errorInfo } from './error-info';
import { acceptsConnections, listenerOf, pickFreePort } from './listening';
import type { LockOptions } from './lock-file';
import { withLock } from './lock-file';
import type { ReplicaRecord, SetRecord } from './platform-store';
import { assertSafeName, PlatformStore } from './platform-store';
import { isAlive, stopProcess } from './processes';
import { awaitReady, spawnReplica, type SpawnedReplica } from './replica-process';
import { settleAll } from '../settle';

export interface LocalPlatformConfig {
  stateDir: string;
  /** Command that starts one replica; defaults to the bundled sample application. */
  command?: string[];
  /** Environment for every replica (the replica set's own env wins). */
  env?: Record<string, string>;
  /** How long a launch waits for a replica to listen on its PORT (the spec's platform.startTimeout; default 5 min). */
  startTimeoutMs?: number;
  /** How long a retire waits after SIGTERM before SIGKILL (default 15 s). */
  stopTimeoutMs?: number;
}

/** Inherited from the worker so a replica can run at all; nothing else (the worker's env may hold secrets). */
const INHERITED_ENV = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ', 'SYSTEMROOT'];

export function newLocalPlatformDriver(config: LocalPlatformConfig): Platform {
  return new LocalPlatform(config);
}

/** The directory holding the package.json named "cutover" (works from the sources and from dist/). */
export function findProjectRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'cutover') return dir;
    } catch {
      // no (readable) package.json here: keep walking up
    }
    if (path.dirname(dir) === dir) throw new Error(`no package.json named "cutover" above ${from}`);
  }
}

function notFound(set: string): CutoverError {
  return new CutoverError(
    ErrorType.PlatformRequestRejected,
    `replica set "${set}" does not exist (ensureReplicaSet creates it)`,
  );
}

class LocalPlatform implements Platform {
  readonly kind = 'local';
  private readonly store: PlatformStore;
  private readonly startTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private readonly replicaLock: LockOptions;
  private readonly setLock: LockOptions = { waitMs: 30_000, staleMs: 60_000 };

  constructor(private readonly config: LocalPlatformConfig) {
    this.store = new PlatformStore(path.resolve(config.stateDir));
    this.startTimeoutMs = config.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    this.stopTimeoutMs = config.stopTimeoutMs ?? 15_000;
    // A holder is done within one start wait or one graceful stop (+ SIGKILL); beyond that it is stuck.
    const longestHold = Math.max(this.startTimeoutMs, this.stopTimeoutMs + 5_000) + 10_000;
    this.replicaLock = { waitMs: longestHold, staleMs: longestHold };
  }

  async ensureReplicaSet(given: ReplicaSetSpec, options: StartOptions = {}): Promise<ReplicaSetState> {
    const spec = withSlot(given);
    assertSafeName('replica set name', spec.name);
    if (!Number.isInteger(spec.replicas) || spec.replicas < 0) {
      throw new CutoverError(
        ErrorType.PlatformRequestRejected,
        `replicas must be a non-negative integer, got ${spec.replicas}`,
      );
    }
    await this.store.createSetDirs(spec.name);
    await withLock(this.store.setLockFile(spec.name), this.setLock, async () => {
      const existing = await this.store.readSet(spec.name);
      await this.store.writeSet(spec.name, {
        spec,
        desired: spec.replicas,
        createdAt: existing?.createdAt ?? new Date().toISOString(),
      });
    });
    // Replicas beyond spec.replicas (from an earlier scale) are left alone: scaleReplicaSet retires them.
    const ids = Array.from({ length: spec.replicas }, (_, i) => `${spec.name}-${i}`);
    await settleAll(
      'replica launches',
      ids.map((id) => this.launchInSet(spec.name, id, options.signal)),
    );
    return this.requireState(spec.name);
  }

  async scaleReplicaSet(name: string, replicas: number, options: StartOptions = {}): Promise<ReplicaSetState> {
    if (!Number.isInteger(replicas) || replicas < 0) {
      throw new CutoverError(
        ErrorType.PlatformRequestRejected,
        `replicas must be a non-negative integer, got ${replicas}`,
      );
    }
    const ids = await this.updateSet(name, (set) => ({ ...set, desired: replicas }));
    const keep = ids.slice(0, replicas);
    const retire = ids.slice(replicas); // the highest-numbered
    for (let i = 0; keep.length < replicas; i++) {
      const id = `${name}-${i}`;
      if (!ids.includes(id)) keep.push(id);
    }
    // Kept replicas go through launch too: one whose process died is relaunched.
    await settleAll<unknown>('replica launches/retirements', [
      ...keep.map((id) => this.launchInSet(name, id, options.signal)),
      ...retire.map((id) => this.retireInSet(name, id)),
    ]);
    return this.requireState(name);
  }

  async launchReplica(name: string, replicaId: string, options: StartOptions = {}): Promise<Replica> {
    const { replica, created } = await this.launchInSet(name, replicaId, options.signal);
    if (created) await this.updateSet(name, (set) => ({ ...set, desired: set.desired + 1 }));
    return replica;
  }

  async retireReplica(name: string, replicaId: string): Promise<void> {
    assertSafeName('replica id', replicaId);
    if (!(await this.store.readSet(name))) return;
    const removed = await this.retireInSet(name, replicaId);
    if (removed) await this.updateSet(name, (set) => ({ ...set, desired: Math.max(0, set.desired - 1) }));
  }

  async getReplicaSet(name: string): Promise<ReplicaSetState | undefined> {
    const set = await this.store.readSet(name);
    if (!set) return undefined;
    const replicas: Replica[] = [];
    for (const id of await this.store.listReplicaIds(name)) {
      const record = await this.store.readReplica(name, id);
      if (!record) continue; // retired meanwhile
      const running = isAlive(record.pid, record.startToken);
      // A replica launched by an attempt that crashed (or was cancelled) before it listened may listen by now.
      const port = record.port ?? (running ? await this.startedPort(name, record) : undefined);
      replicas.push({ id, running, address: port === undefined ? '' : addressOf(port) });
    }
    const { spec } = set;
    return {
      name,
      application: spec.application,
      version: spec.version,
      slot: slotOf(spec),
      desired: set.desired,
      replicas,
    };
  }

  async listReplicaSets(application: string): Promise<ReplicaSetState[]> {
    const states: ReplicaSetState[] = [];
    for (const name of await this.store.listSetNames()) {
      const state = await this.getReplicaSet(name);
      if (state && state.application === application) states.push(state);
    }
    return states;
  }

  async retireReplicaSet(name: string): Promise<void> {
    assertSafeName('replica set name', name);
    if (!(await this.store.readSet(name))) {
      await this.store.removeSet(name); // leftovers of a half-created set
      return;
    }
    const ids = await this.store.listReplicaIds(name);
    await settleAll(
      'replica retirements',
      ids.map((id) => this.retireInSet(name, id)),
    );
    await this.store.removeSet(name);
  }

  async probe(replica: Replica, probePath: string, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
    if (!replica.address) return { healthy: false, reason: `replica ${replica.id} has no address yet` };
    const url = `${replica.address}${probePath}`;
    try {
      const timeout = AbortSignal.timeout(timeoutMs);
      const response = await fetch(url, {
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        redirect: 'manual',
      });
      await response.arrayBuffer(); // release the connection
      if (response.status >= 200 && response.status < 300) return { healthy: true };
      return { healthy: false, reason: `GET ${url} answered HTTP ${response.status}` };
    } catch (err) {
      signal?.throwIfAborted();
      return { healthy: false, reason: `GET ${url} failed: ${describeFetchError(err, timeoutMs)}` };
    }
  }

  /** Launches `id` unless it already runs; `created` is false when a record already existed. */
  private async launchInSet(
    name: string,
    id: string,
    signal?: AbortSignal,
  ): Promise<{ replica: Replica; created: boolean }> {
    const lockFile = this.store.replicaLockFile(name, id);
    const set = await this.store.readSet(name);
    if (!set) throw notFound(name);
    return withLock(lockFile, this.replicaLock, async () => {
      const existing = await this.store.readReplica(name, id);
      if (existing && isAlive(existing.pid, existing.startToken)) {
        if (existing.port !== undefined) return { replica: toReplica(existing), created: false };
        // Started by an attempt that crashed while waiting: wait for that process, never start a second.
        const replica = await this.waitUntilReady(
          name,
          existing,
          { pid: existing.pid, startToken: existing.startToken },
          signal,
        );
        return { replica, created: false };
      }
      const replica = await this.start(set, id, signal);
      return { replica, created: existing === undefined };
    });
  }

  private async start(set: SetRecord, id: string, signal?: AbortSignal): Promise<Replica> {
    const name = set.spec.name;
    const logFile = this.store.logFile(name, id);
    const readyFile = this.store.readyFile(name, id);
    await this.store.removeReplica(name, id); // a dead process's record and stale ready file
    const root = findProjectRoot();
    const port = await pickFreePort();
    const spawned = await spawnReplica({
      command: this.config.command ?? [process.execPath, path.join(root, 'dist/examples/sample-app/server.js')],
      cwd: root,
      logFile,
      env: {
        ...pick(process.env, INHERITED_ENV),
        ...this.config.env,
        ...set.spec.env,
        CUTOVER_APP: set.spec.application,
        CUTOVER_VERSION: set.spec.version,
        CUTOVER_MODULES: set.spec.modules.join(','),
        CUTOVER_REPLICA_ID: id,
        CUTOVER_READY_FILE: readyFile,
        PORT: String(port),
      },
    });
    // Recorded before waiting, so a crash while waiting leaves a record a retry can find.
    const record: ReplicaRecord = {
      id,
      pid: spawned.pid,
      startToken: spawned.startToken,
      assignedPort: port,
      address: '',
      startedAt: new Date().toISOString(),
      logFile,
    };
    await this.store.writeReplica(name, record);
    return this.waitUntilReady(name, record, spawned, signal);
  }

  private async waitUntilReady(
    name: string,
    record: ReplicaRecord,
    spawned: SpawnedReplica,
    signal?: AbortSignal,
  ): Promise<Replica> {
    let port: number;
    try {
      port = await awaitReady({
        replica: spawned,
        port: record.assignedPort,
        readPort: () => this.store.readReadyPort(name, record.id),
        timeoutMs: this.startTimeoutMs,
        describe: `replica ${record.id} (pid ${record.pid})`,
        logFile: record.logFile,
        signal,
      });
    } catch (err) {
      // Aborted: the process stays, recorded (without a port), for the retire that follows to stop it.
      if (!signal?.aborted) await this.store.removeReplica(name, record.id);
      throw err;
    }
    const ready: ReplicaRecord = { ...record, port, address: addressOf(port) };
    await this.store.writeReplica(name, ready);
    return toReplica(ready);
  }

  /** The port of a recorded replica that had not started when recorded, if it has started by now. */
  private async startedPort(name: string, record: ReplicaRecord): Promise<number | undefined> {
    const ready = await this.store.readReadyPort(name, record.id);
    if (ready !== undefined || record.assignedPort === undefined) return ready;
    if (!(await acceptsConnections(record.assignedPort))) return undefined;
    return (await listenerOf(record.assignedPort, record.pid)) === 'other' ? undefined : record.assignedPort;
  }

  /** Stops and forgets one replica; false if there was nothing to retire. */
  private async retireInSet(name: string, id: string): Promise<boolean> {
    return withLock(this.store.replicaLockFile(name, id), this.replicaLock, async () => {
      const record = await this.store.readReplica(name, id);
      if (!record) return false;
      await stopProcess(record.pid, record.startToken, this.stopTimeoutMs);
      await this.store.removeReplica(name, id);
      return true;
    });
  }

  /** Read-modify-write of set.json under its lock; returns the set's replica ids. */
  private async updateSet(name: string, change: (set: SetRecord) => SetRecord): Promise<string[]> {
    const lockFile = this.store.setLockFile(name);
    if (!(await this.store.readSet(name))) throw notFound(name);
    return withLock(lockFile, this.setLock, async () => {
      const set = await this.store.readSet(name);
      if (!set) throw notFound(name);
      await this.store.writeSet(name, change(set));
      return this.store.listReplicaIds(name);
    });
  }

  private async requireState(name: string): Promise<ReplicaSetState> {
    const state = await this.getReplicaSet(name);
    if (!state) throw notFound(name);
    return state;
  }
}

function addressOf(port: number): string {
  return `http://127.0.0.1:${port}`;
}

function toReplica(record: ReplicaRecord): Replica {
  return { id: record.id, address: record.address, running: isAlive(record.pid, record.startToken) };
}

function pick(source: NodeJS.ProcessEnv, keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of keys) {
    const value = source[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  const { name } = errorInfo(err);
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  return describeError(err);
}
