/**
 * An exclusive lock file (open with 'wx'), so that two attempts of the same
 * activity (a retry racing a slow first attempt, or two workers) can never both
 * launch the same replica. A lock whose holder process is gone, or which is
 * older than `staleMs`, is taken over.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { isErrnoException } from './error-info';
import { isAlive, sleep } from './processes';

export interface LockOptions {
  /** How long to wait for a held lock before giving up. */
  waitMs: number;
  /** A lock older than this is considered abandoned even if its pid is alive (pid reuse, hung holder). */
  staleMs: number;
}

interface LockContent {
  pid: number;
  token: string;
  at: number;
}

export class LockTimeoutError extends Error {
  constructor(file: string, holder: string) {
    super(`timed out waiting for lock ${file} (held by ${holder})`);
    this.name = 'LockTimeoutError';
  }
}

async function readLock(file: string): Promise<{ raw: string; content?: LockContent; mtimeMs: number } | undefined> {
  try {
    const [raw, stat] = await Promise.all([fs.readFile(file, 'utf8'), fs.stat(file)]);
    let content: LockContent | undefined;
    try {
      content = JSON.parse(raw) as LockContent;
    } catch {
      content = undefined; // being written right now, or torn by a crash
    }
    return { raw, content, mtimeMs: stat.mtimeMs };
  } catch (err) {
    if (isErrnoException(err) && err.code === 'ENOENT') return undefined;
    throw err;
  }
}

function isStale(lock: { content?: LockContent; mtimeMs: number }, staleMs: number): boolean {
  const age = Date.now() - (lock.content?.at ?? lock.mtimeMs);
  if (age > staleMs) return true;
  if (!lock.content) return age > 2_000; // never completed by its writer
  return !isAlive(lock.content.pid);
}

/**
 * Removes a stale lock without deleting a fresh one that another process may
 * have created in between: move it aside, and put it back if it was not the
 * one judged stale.
 */
async function breakStaleLock(file: string, staleRaw: string): Promise<void> {
  const aside = `${file}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await fs.rename(file, aside);
  } catch (err) {
    if (isErrnoException(err) && err.code === 'ENOENT') return;
    throw err;
  }
  const moved = await fs.readFile(aside, 'utf8').catch(() => staleRaw);
  if (moved !== staleRaw) {
    // We moved a live lock: restore it unless someone created a newer one meanwhile.
    await fs.link(aside, file).catch(() => undefined);
  }
  await fs.rm(aside, { force: true });
}

/** Runs `fn` while holding the lock file `file` (its directory must exist). */
export async function withLock<T>(file: string, options: LockOptions, fn: () => Promise<T>): Promise<T> {
  const token = randomBytes(8).toString('hex');
  const deadline = Date.now() + options.waitMs;
  for (;;) {
    try {
      const handle = await fs.open(file, 'wx');
      try {
        await handle.writeFile(JSON.stringify({ pid: process.pid, token, at: Date.now() } satisfies LockContent));
      } finally {
        await handle.close();
      }
      break;
    } catch (err) {
      if (!isErrnoException(err) || err.code !== 'EEXIST') throw err;
    }
    const held = await readLock(file);
    if (!held) continue; // released just now
    if (isStale(held, options.staleMs)) {
      await breakStaleLock(file, held.raw);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new LockTimeoutError(file, held.content ? `pid ${held.content.pid}` : 'an unknown process');
    }
    await sleep(25 + Math.floor(Math.random() * 25));
  }
  try {
    return await fn();
  } finally {
    // Release only our own lock (it may have been broken as stale and re-taken).
    const current = await readLock(file).catch(() => undefined);
    if (current?.content?.token === token) await fs.rm(file, { force: true });
  }
}
