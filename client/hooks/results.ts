/**
 * The result files LifeTime waits for: `<ApplicationKey>_<OperationId>.<ext>`
 * in ResultPath, empty on success, `{"Error":{"Message":"..."}}` on failure.
 * Written atomically (a temp file in the same directory, fsynced, renamed
 * over the target), so LifeTime never reads a half-written file.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

/** The failure document LifeTime shows to the operator. */
export function errorResult(message: string): string {
  return JSON.stringify({ Error: { Message: message } });
}

/** The content of a result file: "" for success, the error document otherwise. */
export function resultContent(error?: string): string {
  return error === undefined ? '' : errorResult(error);
}

export async function writeResultFileAtomic(file: string, content: string): Promise<void> {
  const dir = path.dirname(file);
  // A dot-name without the result extension: LifeTime only looks for `<key>_<op>.<ext>`.
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(tmp, 'wx', 0o644);
  try {
    await handle.writeFile(content, 'utf8');
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
  // The rename is durable once the directory entry is on disk (not every file system lets a directory be fsynced).
  const dirHandle = await fs.open(dir, 'r').catch(() => undefined);
  if (dirHandle) {
    await dirHandle.sync().catch(() => undefined);
    await dirHandle.close();
  }
}

/** Whether the result file exists already (a re-delivered call after completion). */
export async function resultFileExists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}
