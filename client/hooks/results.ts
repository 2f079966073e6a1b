/**
 * The result files LifeTime waits for: `<ApplicationKey>_<OperationId>.<ext>`
 * in ResultPath, empty on success, `{"Error":{"Message":"..."}}` on failure.
 * Written atomically (a temp file in the same directory, fsynced, renamed
 * over the target), so LifeTime never reads a half-written file.
 */
import * as fs from 'node:fs/promises';
import { writeFileAtomic } from '../../activities/fs/atomic-file';

/** The failure document LifeTime shows to the operator. */
export function errorResult(message: string): string {
  return JSON.stringify({ Error: { Message: message } });
}

/** The content of a result file: "" for success, the error document otherwise. */
export function resultContent(error?: string): string {
  return error === undefined ? '' : errorResult(error);
}

/**
 * Writes a result file atomically (activities/fs/atomic-file.ts): the temp file is a dot-name without the result
 * extension, and LifeTime only looks for `<key>_<op>.<ext>`.
 */
export function writeResultFileAtomic(file: string, content: string): Promise<void> {
  return writeFileAtomic(file, content, { mode: 0o644 });
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
