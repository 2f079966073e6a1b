/**
 * The local platform's state on disk, the source of truth that outlives any
 * worker:
 *
 *   <stateDir>/platform/<set>/set.json              the ReplicaSetSpec + desired count
 *   <stateDir>/platform/<set>/replicas/<id>.json    pid, port, address, startedAt
 *   <stateDir>/platform/<set>/run/<id>.ready.json   written by a replica once listening, if it wants (optional)
 *   <stateDir>/platform/<set>/logs/<id>.log         the replica's stdout + stderr
 *   <stateDir>/platform/<set>/locks/                lock files (one per replica, one for set.json)
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { CutoverError, ErrorType } from '../../errors';
import type { ReplicaSetSpec } from '../../ports';
import { readJsonFile, writeJsonAtomic } from '../../fs/atomic-file';
import { isErrnoException } from './error-info';

export interface SetRecord {
  spec: ReplicaSetSpec;
  desired: number;
  createdAt: string;
}

export interface ReplicaRecord {
  id: string;
  pid: number;
  /** Start time of the process (see processStartToken); guards against pid reuse. */
  startToken?: string;
  /** The PORT it was given (records written before ports were assigned have none). */
  assignedPort?: number;
  /** Known once the replica has started (listens on its PORT, or wrote its ready file). */
  port?: number;
  address: string;
  startedAt: string;
  logFile: string;
}

/** Names become file names: keep them to one safe path segment. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function assertSafeName(what: string, value: string): void {
  if (!SAFE_NAME.test(value)) {
    throw new CutoverError(
      ErrorType.PlatformRequestRejected,
      `${what} "${value}" must be 1-128 letters, digits, ".", "_" or "-" and start with a letter or digit`,
    );
  }
}

/** Numeric suffix of a replica id ("shop-1-0-green-3" -> 3), for "highest-numbered" ordering. */
export function replicaIndex(id: string): number | undefined {
  const match = /-(\d+)$/.exec(id);
  return match ? Number(match[1]) : undefined;
}

/** Lowest-numbered first; ids without a number sort last. */
export function byReplicaIndex(a: string, b: string): number {
  const ia = replicaIndex(a) ?? Number.MAX_SAFE_INTEGER;
  const ib = replicaIndex(b) ?? Number.MAX_SAFE_INTEGER;
  return ia - ib || a.localeCompare(b);
}

export class PlatformStore {
  readonly root: string;

  constructor(stateDir: string) {
    this.root = path.join(stateDir, 'platform');
  }

  setDir(set: string): string {
    assertSafeName('replica set name', set);
    return path.join(this.root, set);
  }

  setFile(set: string): string {
    return path.join(this.setDir(set), 'set.json');
  }

  setLockFile(set: string): string {
    // "_set" cannot clash with a replica id: those start with a letter or digit.
    return path.join(this.setDir(set), 'locks', '_set.lock');
  }

  replicaFile(set: string, id: string): string {
    assertSafeName('replica id', id);
    return path.join(this.setDir(set), 'replicas', `${id}.json`);
  }

  replicaLockFile(set: string, id: string): string {
    assertSafeName('replica id', id);
    return path.join(this.setDir(set), 'locks', `${id}.lock`);
  }

  readyFile(set: string, id: string): string {
    assertSafeName('replica id', id);
    return path.join(this.setDir(set), 'run', `${id}.ready.json`);
  }

  logFile(set: string, id: string): string {
    assertSafeName('replica id', id);
    return path.join(this.setDir(set), 'logs', `${id}.log`);
  }

  async createSetDirs(set: string): Promise<void> {
    for (const sub of ['replicas', 'run', 'logs', 'locks']) {
      await fs.mkdir(path.join(this.setDir(set), sub), { recursive: true });
    }
  }

  async readSet(set: string): Promise<SetRecord | undefined> {
    return (await readJsonFile(this.setFile(set))) as SetRecord | undefined;
  }

  writeSet(set: string, record: SetRecord): Promise<void> {
    return writeJsonAtomic(this.setFile(set), record);
  }

  async readReplica(set: string, id: string): Promise<ReplicaRecord | undefined> {
    return (await readJsonFile(this.replicaFile(set, id))) as ReplicaRecord | undefined;
  }

  writeReplica(set: string, record: ReplicaRecord): Promise<void> {
    return writeJsonAtomic(this.replicaFile(set, record.id), record);
  }

  async removeReplica(set: string, id: string): Promise<void> {
    await fs.rm(this.replicaFile(set, id), { force: true });
    await fs.rm(this.readyFile(set, id), { force: true });
  }

  /** Port from the replica's ready file, if it has written one. */
  async readReadyPort(set: string, id: string): Promise<number | undefined> {
    const ready = (await readJsonFile(this.readyFile(set, id)).catch(() => undefined)) as
      { port?: unknown } | undefined;
    return typeof ready?.port === 'number' && ready.port > 0 ? ready.port : undefined;
  }

  async listReplicaIds(set: string): Promise<string[]> {
    return (await listDir(path.join(this.setDir(set), 'replicas')))
      .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
      .map((f) => f.slice(0, -'.json'.length))
      .sort(byReplicaIndex);
  }

  async listSetNames(): Promise<string[]> {
    return (await listDir(this.root)).filter((name) => SAFE_NAME.test(name)).sort();
  }

  async removeSet(set: string): Promise<void> {
    await fs.rm(this.setDir(set), { recursive: true, force: true });
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if (isErrnoException(err) && err.code === 'ENOENT') return [];
    throw err;
  }
}
