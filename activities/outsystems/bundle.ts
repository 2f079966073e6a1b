/**
 * Unpacking a Container Build's bundle (`<ApplicationKey>_<OperationId>.zip`) into a directory, with the zip-slip
 * guard: every entry's name is checked before anything of it is written (no absolute path, no ".." segment, no
 * backslash, no NUL: yauzl's strict names, then refusedEntryName), an entry whose resolved path is not inside the
 * directory is refused, and so is a symbolic link; the total uncompressed size is bounded (zip-bomb guard). A refused
 * bundle is a permanent BundleInvalid failure naming the entry; the caller unpacks into a temporary directory and
 * removes it on failure.
 */
import { createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as yauzl from 'yauzl';
import { isInside } from '../../shared/outsystems';
import { ErrorType, permanentFailure } from '../errors';

/**
 * Why a bundle entry's name is refused, or undefined if it is a plain relative path. Checked on the name exactly as
 * the zip stores it (backslashes kept: on Windows they are separators, so "..\x" climbs out too).
 */
export function refusedEntryName(name: string): string | undefined {
  if (name === '') return 'has an empty name';
  if (name.includes('\0')) return 'contains a NUL character';
  if (name.includes('\\')) return 'contains a backslash (a Windows path separator)';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'is an absolute path';
  if (name.split('/').includes('..')) return 'contains a ".." segment';
  return undefined;
}

/** Unix mode bits of an entry made on Unix (0 when the zip was made elsewhere). */
function unixMode(entry: yauzl.Entry): number {
  return (entry.externalFileAttributes >>> 16) & 0xffff;
}

function refused(name: string, why: string): Error {
  return permanentFailure(ErrorType.BundleInvalid, `bundle entry ${JSON.stringify(name)} ${why} (refused)`);
}

/**
 * Extracts `zipFile` into `dest` (which must exist and be empty). Refuses entries that would land outside `dest`
 * (absolute paths, "..", backslashes, NUL: zip-slip), symbolic links, and bundles larger than `maxBytes`
 * uncompressed. Returns the number of files written.
 */
export async function unpackBundle(
  zipFile: string,
  dest: string,
  maxBytes: number,
  onEntry: (count: number) => void = () => undefined,
): Promise<number> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(zipFile, {
      lazyEntries: true,
      autoClose: false,
      // yauzl refuses absolute paths, ".." segments and backslashes itself; refusedEntryName checks again (and NUL).
      strictFileNames: true,
      validateEntrySizes: true,
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw permanentFailure(ErrorType.BundleInvalid, `bundle ${path.basename(zipFile)} not found`);
    throw permanentFailure(
      ErrorType.BundleInvalid,
      `${path.basename(zipFile)} is not a readable zip file: ${(err as Error).message}`,
    );
  }
  let total = 0;
  let count = 0;
  try {
    for await (const entry of zip.eachEntry()) {
      const name = entry.fileName;
      const why = refusedEntryName(name);
      if (why) throw refused(name, why);
      const target = path.resolve(dest, name);
      if (!isInside(dest, target) || target === dest) throw refused(name, 'would be written outside the bundle');
      const type = unixMode(entry) & 0o170000;
      if (type === 0o120000) throw refused(name, 'is a symbolic link');
      if (name.endsWith('/')) {
        await fs.mkdir(target, { recursive: true });
        continue;
      }
      total += entry.uncompressedSize;
      if (total > maxBytes) {
        throw permanentFailure(
          ErrorType.BundleInvalid,
          `bundle is larger than ${Math.round(maxBytes / 1024 / 1024)} MiB uncompressed`,
        );
      }
      await fs.mkdir(path.dirname(target), { recursive: true });
      const mode = unixMode(entry) & 0o111 ? 0o755 : 0o644;
      const stream = await zip.openReadStreamPromise(entry);
      await pipeline(stream, createWriteStream(target, { flags: 'wx', mode }));
      onEntry(++count);
    }
  } catch (err) {
    if ((err as { type?: string }).type === ErrorType.BundleInvalid) throw err;
    throw permanentFailure(
      ErrorType.BundleInvalid,
      `cannot unpack ${path.basename(zipFile)}: ${(err as Error).message}`,
    );
  } finally {
    zip.close();
  }
  return count;
}
