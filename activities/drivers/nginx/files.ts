/**
 * Changing a set of configuration files as one step: each file is replaced atomically (temp file, fsync, rename),
 * then nginx checks the whole configuration; if it refuses, every file gets its previous content back (or is
 * removed again), byte for byte, before the error is thrown. nginx itself only reads the files on a reload, and the
 * driver's lock keeps other writers out, so the live configuration never contains an unchecked file.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { writeFileAtomic } from '../../fs/atomic-file';
import { isErrnoException } from '../local/error-info';

export interface FileChange {
  /** File name inside the directory. */
  name: string;
  /** New content; null removes the file. */
  content: string | null;
}

export async function readOptional(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if (isErrnoException(err) && err.code === 'ENOENT') return null;
    throw err;
  }
}

async function put(file: string, content: string | null): Promise<void> {
  if (content === null) await fs.rm(file, { force: true });
  else await writeFileAtomic(file, content);
}

/**
 * Applies the changes that actually change something, then runs `check`; restores everything if `check` (or a
 * write) fails. Resolves with the names of the files that changed (empty: nothing to reload).
 */
export async function applyChecked(dir: string, changes: FileChange[], check: () => Promise<void>): Promise<string[]> {
  const effective: { file: string; name: string; content: string | null; previous: string | null }[] = [];
  for (const change of changes) {
    const file = path.join(dir, change.name);
    const previous = await readOptional(file);
    if (previous !== change.content) effective.push({ file, name: change.name, content: change.content, previous });
  }
  if (effective.length === 0) return [];
  const written: typeof effective = [];
  try {
    for (const change of effective) {
      await put(change.file, change.content);
      written.push(change);
    }
    await check();
  } catch (err) {
    for (const change of written.reverse()) await put(change.file, change.previous);
    throw err;
  }
  return effective.map((c) => c.name);
}
