/**
 * The sample app's replica processes as Linux sees them, read from /proc: which are alive for an application, and
 * the environment and working directory each was started with.
 */
import * as fs from 'node:fs';

/** The environment a process was started with, or undefined if it is gone or not ours to read. */
export function readEnviron(pid: number | string): Record<string, string> | undefined {
  let environ: string;
  try {
    environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return undefined;
  }
  return Object.fromEntries(
    environ
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

export interface ReplicaProcess {
  pid: number;
  /** CUTOVER_REPLICA_ID */
  replica: string;
  /** CUTOVER_VERSION */
  version: string;
  env: Record<string, string>;
  /** The working directory (/proc/<pid>/cwd). */
  cwd: string;
}

/** The live sample-app processes of `application` (its platform server left out), sorted by replica id. */
export function replicaProcessesOf(application: string): ReplicaProcess[] {
  const found: ReplicaProcess[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const env = readEnviron(entry);
    if (env?.CUTOVER_APP !== application || env.CUTOVER_REPLICA_ID === 'platform-server') continue;
    let cwd: string;
    try {
      cwd = fs.readlinkSync(`/proc/${entry}/cwd`);
    } catch {
      continue; // gone meanwhile
    }
    found.push({
      pid: Number(entry),
      replica: env.CUTOVER_REPLICA_ID ?? '',
      version: env.CUTOVER_VERSION ?? '',
      env,
      cwd,
    });
  }
  return found.sort((a, b) => a.replica.localeCompare(b.replica));
}
