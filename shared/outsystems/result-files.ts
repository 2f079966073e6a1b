/**
 * The result files LifeTime waits for: `<ApplicationKey>_<OperationId>.<ext>`
 * in ResultPath, empty on success, `{"Error":{"Message":"..."}}` on failure.
 *
 * `writeResultFile` is the one writer of result files: the operation workflow's `writeHookResult` activity (every
 * stage's outcome) and the hook server (an unmapped application, answered at once; a re-delivered call whose file
 * has gone) both write through it, into a directory already confined to the result roots. Written atomically (a
 * temp file in the same directory, fsynced, renamed over the target), so LifeTime never reads a half-written file.
 */
import * as fs from 'node:fs/promises';
import { writeFileAtomic } from '../fs/atomic-file';
import { fileIn } from './paths';

/** The failure document LifeTime shows to the operator. */
export function errorResult(message: string): string {
  return JSON.stringify({ Error: { Message: message } });
}

/** The content of a result file: "" for success, the error document otherwise. */
export function resultContent(error?: string): string {
  return error === undefined ? '' : errorResult(error);
}

/**
 * Writes a file atomically with the result files' permissions (shared/fs/atomic-file.ts): the temp file is a
 * dot-name without the result extension, and LifeTime only looks for `<key>_<op>.<ext>`.
 */
export function writeResultFileAtomic(file: string, content: string): Promise<void> {
  return writeFileAtomic(file, content, { mode: 0o644 });
}

/**
 * Writes the result file `fileName` (a plain name: `resultFileName(...)`) into `resultDir`, a ResultPath already
 * confined to the result roots (confinePath). Returns the file's path.
 */
export async function writeResultFile(resultDir: string, fileName: string, content: string): Promise<string> {
  const file = fileIn(resultDir, fileName);
  await writeResultFileAtomic(file, content);
  return file;
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
