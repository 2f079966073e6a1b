/**
 * Where the OutSystems activities keep their files, under the hook server's builds root:
 *
 *   <buildsRoot>/<application>/builds/<OperationId>/        the unpacked bundle (the version's directory)
 *   <buildsRoot>/<application>/builds/<OperationId>.json   its build record
 *   <buildsRoot>/<application>/configs/<OperationId>-<rev>/ a configuration snapshot
 *   <buildsRoot>/<application>/release.json                the live release
 *
 * Names that become path segments are checked (safeName), paths a hook call names are confined again to their
 * roots (the hook server checked them at the door), directories are built beside their place and renamed into it.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { writeFileAtomic } from '../../shared/fs/atomic-file';
import { confinePath, PathRejectedError, realRoots } from '../../shared/outsystems';
import { ErrorType, permanentFailure } from '../errors';

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function safeName(what: string, name: string): string {
  if (!SAFE_NAME.test(name) || name.length > 100) {
    throw permanentFailure(ErrorType.BundleInvalid, `${what} "${name}" is not a safe file name`);
  }
  return name;
}

export function appDir(buildsRoot: string, application: string): string {
  return path.join(buildsRoot, safeName('application', application));
}

export function buildRecordFile(buildsRoot: string, application: string, operationId: string): string {
  return path.join(appDir(buildsRoot, application), 'builds', `${safeName('OperationId', operationId)}.json`);
}

export function releaseFile(buildsRoot: string, application: string): string {
  return path.join(appDir(buildsRoot, application), 'release.json');
}

export async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A build or release record, written atomically (readable by all, 0644, as the result files). */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o644 });
}

/** Re-checks a path against its roots inside the activity (the hook server checked it at the door). */
export async function confined(
  parameter: string,
  raw: string,
  roots: string[],
  kind: 'directory' | 'file' = 'directory',
): Promise<string> {
  try {
    return await confinePath(parameter, raw, await realRoots(roots, parameter), kind);
  } catch (err) {
    if (err instanceof PathRejectedError) throw permanentFailure(ErrorType.HookPathRejected, err.message);
    throw err;
  }
}

/** A sibling temp directory, renamed into place when complete (so a half-done copy is never used). */
export function tempSibling(dir: string): string {
  return path.join(path.dirname(dir), `.${path.basename(dir)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

export async function renameIntoPlace(tmp: string, dir: string): Promise<void> {
  try {
    await fs.rename(tmp, dir);
  } catch (err) {
    // Another attempt got there first (ENOTEMPTY/EEXIST): keep its result.
    await fs.rm(tmp, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  }
}
