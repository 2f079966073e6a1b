/**
 * Crash-safe file writes: a reader (a local driver, a worker restarted after a crash, LifeTime polling for a hook's
 * result file) sees either the old content or the new, never a torn file. Node-side code shared by the activities
 * (the local and nginx drivers' state, through activities/fs/atomic-file.ts; the OutSystems build and release
 * records) and the OutSystems result files (shared/outsystems/result-files.ts), which the hook server writes too.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

export interface AtomicWriteOptions {
  /** Permissions of a newly written file (before the umask); default 0o666, as `fs.writeFile`. */
  mode?: number;
}

/**
 * Writes `data` to a temp file in the same directory (a dot-name ending in `.tmp`, so a reader that looks for the
 * target's name or extension never sees it), fsyncs it, renames it over `file`, fsyncs the directory. The temp file
 * is removed again if any step before the rename fails.
 */
export async function writeFileAtomic(file: string, data: string, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(tmp, 'wx', options.mode ?? 0o666);
  try {
    await handle.writeFile(data, 'utf8');
    await handle.sync();
  } catch (err) {
    await handle.close();
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  // The rename is durable only once the directory entry is on disk (not every file system lets a directory be fsynced;
  // the rename is atomic all the same).
  const dirHandle = await fs.open(dir, 'r').catch(() => undefined);
  if (dirHandle) {
    await dirHandle.sync().catch(() => undefined);
    await dirHandle.close().catch(() => undefined);
  }
}

export function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  return writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** The parsed JSON content of `file`, or undefined if it does not exist. Throws on unreadable/invalid JSON. */
export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    // Not `instanceof Error`: fs errors may come from another realm (see activities/drivers/local/error-info.ts).
    if (typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${(err as Error).message}`);
  }
}
