/**
 * Activities of the OutSystems hook operations (see workflows/outsystems-hooks.ts):
 * unpacking a bundle into the version's directory, snapshotting the
 * configuration, the build and release records Run and Update Configurations
 * read, listing an application's replica sets, and writing the result file
 * LifeTime waits for. Each is idempotent: a retry finds the work done.
 *
 * Layout under the configured builds root:
 *   <buildsRoot>/<application>/builds/<OperationId>/        the unpacked bundle (the version's directory)
 *   <buildsRoot>/<application>/builds/<OperationId>.json   its build record
 *   <buildsRoot>/<application>/configs/<OperationId>-<rev>/ a configuration snapshot
 *   <buildsRoot>/<application>/release.json                the live release
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Context } from '@temporalio/activity';
import * as yauzl from 'yauzl';
import { z } from 'zod';
import { confinePath, fileIn, isInside, PathRejectedError, realRoots } from '../client/hooks/paths';
import { writeResultFileAtomic } from '../client/hooks/results';
import type { BuildOptions, BuildRecord, ConfigSnapshot, ReleaseRecord } from '../workflows/hook-types';
import type { PlatformConfig } from '../workflows/spec';
import type { Drivers } from './drivers';
import { activity } from './activity';
import { classifyError, ErrorType, permanentFailure } from './errors';
import type { ReplicaSetState } from './ports';

/** The optional manifest a bundle may carry at its root to say how its replicas start. */
export const BUNDLE_MANIFEST = 'cutover.json';

const manifestSchema = z
  .object({
    /** Run from the bundle's directory; PORT, CUTOVER_READY_FILE... as for any local replica. */
    command: z.array(z.string().min(1)).min(1),
  })
  .strict();

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface PrepareBuildInput {
  /** TargetPath (confined to `targetRoots` by the hook server; checked again here). */
  targetPath: string;
  targetRoots: string[];
  applicationKey: string;
  operationId: string;
  application: string;
  version: string;
  buildsRoot: string;
  build: BuildOptions;
  /** The profile's local platform command, if it gives one ("{bundleDir}" is replaced). */
  profileCommand?: string[];
}

export interface ConfigSnapshotInput {
  configPath: string;
  configRoots: string[];
  application: string;
  operationId: string;
  buildsRoot: string;
}

export interface WriteHookResultInput {
  resultPath: string;
  resultRoots: string[];
  fileName: string;
  content: string;
}

function safeName(what: string, name: string): string {
  if (!SAFE_NAME.test(name) || name.length > 100) {
    throw permanentFailure(ErrorType.BundleInvalid, `${what} "${name}" is not a safe file name`);
  }
  return name;
}

function appDir(buildsRoot: string, application: string): string {
  return path.join(buildsRoot, safeName('application', application));
}

function buildRecordFile(buildsRoot: string, application: string, operationId: string): string {
  return path.join(appDir(buildsRoot, application), 'builds', `${safeName('OperationId', operationId)}.json`);
}

function releaseFile(buildsRoot: string, application: string): string {
  return path.join(appDir(buildsRoot, application), 'release.json');
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await writeResultFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** Re-checks a path against its roots inside the activity (the hook server checked it at the door). */
async function confined(
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

/** Unix mode bits of an entry made on Unix (0 when the zip was made elsewhere). */
function unixMode(entry: yauzl.Entry): number {
  return (entry.externalFileAttributes >>> 16) & 0xffff;
}

/**
 * Extracts `zipFile` into `dest` (which must exist and be empty). Refuses entries
 * that would land outside `dest` (absolute paths, "..": zip-slip), symbolic links,
 * and bundles larger than `maxBytes` uncompressed.
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
      const target = path.resolve(dest, name);
      if (!isInside(dest, target) || target === dest) {
        throw permanentFailure(ErrorType.BundleInvalid, `bundle entry "${name}" would be written outside the bundle`);
      }
      const type = unixMode(entry) & 0o170000;
      if (type === 0o120000) {
        throw permanentFailure(ErrorType.BundleInvalid, `bundle entry "${name}" is a symbolic link (refused)`);
      }
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

/** The replica command of a build: the profile's, the bundle manifest's (run from the bundle), or none. */
async function replicaCommand(
  bundleDir: string,
  profileCommand: string[] | undefined,
): Promise<Pick<BuildRecord, 'command' | 'commandSource'>> {
  if (profileCommand) {
    return { command: profileCommand.map((a) => a.replaceAll('{bundleDir}', bundleDir)), commandSource: 'profile' };
  }
  const manifest = await readJson<unknown>(path.join(bundleDir, BUNDLE_MANIFEST)).catch((err: Error) => {
    throw permanentFailure(ErrorType.BundleInvalid, `${BUNDLE_MANIFEST} is not valid JSON: ${err.message}`);
  });
  if (manifest === undefined) return { commandSource: 'platform default' };
  const parsed = manifestSchema.safeParse(manifest);
  if (!parsed.success) {
    throw permanentFailure(
      ErrorType.BundleInvalid,
      `${BUNDLE_MANIFEST}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  // The local platform starts replicas from the project directory: the shell changes into the bundle first.
  return {
    command: ['/bin/sh', '-c', 'cd "$1" && shift && exec "$@"', 'cutover-replica', bundleDir, ...parsed.data.command],
    commandSource: 'bundle manifest',
  };
}

/** Runs the profile's build command in the bundle; throws BuildFailed with the output's tail. */
async function runBuildCommand(command: string[], bundleDir: string, input: PrepareBuildInput): Promise<void> {
  const [executable, ...args] = command.map((a) => a.replaceAll('{bundleDir}', bundleDir));
  if (!executable) return;
  const output: string[] = [];
  const code = await new Promise<number | string>((resolve) => {
    const child = spawn(executable, args, {
      cwd: bundleDir,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? bundleDir,
        CUTOVER_BUNDLE_DIR: bundleDir,
        CUTOVER_APP: input.application,
        CUTOVER_VERSION: input.version,
        OUTSYSTEMS_APPLICATION_KEY: input.applicationKey,
        OUTSYSTEMS_OPERATION_ID: input.operationId,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: input.build.timeoutMs,
      killSignal: 'SIGKILL',
    });
    const keep = (chunk: Buffer) => {
      output.push(chunk.toString('utf8'));
      if (output.length > 200) output.splice(0, output.length - 200);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (err) => resolve(err.message));
    child.once('close', (exitCode, signal) => resolve(signal ? `killed by ${signal}` : (exitCode ?? -1)));
  });
  if (code !== 0) {
    const tail = output.join('').trimEnd().split('\n').slice(-10).join('\n');
    throw permanentFailure(
      ErrorType.BuildFailed,
      `build command ${JSON.stringify(executable)} ${typeof code === 'number' ? `exited with code ${code}` : code}` +
        (tail ? `; last output:\n${tail}` : ''),
    );
  }
}

/** Copies the regular files of a configuration directory (not following symbolic links), sorted by name. */
async function copyConfigFiles(from: string, to: string, rel = ''): Promise<string[]> {
  const copied: string[] = [];
  const entries = await fs.readdir(path.join(from, rel), { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const relative = path.join(rel, entry.name);
    if (entry.isDirectory()) {
      await fs.mkdir(path.join(to, relative), { recursive: true });
      copied.push(...(await copyConfigFiles(from, to, relative)));
    } else if (entry.isFile()) {
      await fs.copyFile(path.join(from, relative), path.join(to, relative));
      copied.push(relative);
    }
    // Symbolic links and special files are skipped: they could reach outside the configured roots.
  }
  return copied;
}

async function digestFiles(dir: string, files: string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(`${file}\0`);
    hash.update(await fs.readFile(path.join(dir, file)));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 12);
}

/** A sibling temp directory, renamed into place when complete (so a half-done copy is never used). */
/** Unpacked builds and configuration snapshots kept besides the live one (a quick way back by hand). */
export const KEEP_PREVIOUS_BUILDS = 1;

/**
 * Deletes the builds (directory and record) and configuration snapshots of an application that are older than the
 * live release's, keeping the newest KEEP_PREVIOUS_BUILDS of them. Anything newer than the live one (a Build already
 * prepared for the next Run) is never touched; neither are temporary directories of a Build in progress.
 */
async function pruneOlderThanRelease(buildsRoot: string, release: ReleaseRecord): Promise<void> {
  const dir = appDir(buildsRoot, release.application);
  const liveBuild = path.basename(release.bundleDir);
  const liveConfig = release.config ? path.basename(release.config.dir) : undefined;
  await pruneDir(path.join(dir, 'builds'), liveBuild, (name) => [name, `${name}.json`]);
  if (liveConfig) await pruneDir(path.join(dir, 'configs'), liveConfig, (name) => [name]);
}

async function pruneDir(parent: string, live: string, pathsOf: (name: string) => string[]): Promise<void> {
  const liveStat = await fs.stat(path.join(parent, live)).catch(() => undefined);
  if (!liveStat) return;
  const older: { name: string; mtimeMs: number }[] = [];
  for (const entry of await fs.readdir(parent, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === live || entry.name.startsWith('.')) continue;
    const { mtimeMs } = await fs.stat(path.join(parent, entry.name));
    if (mtimeMs < liveStat.mtimeMs) older.push({ name: entry.name, mtimeMs });
  }
  older.sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const { name } of older.slice(KEEP_PREVIOUS_BUILDS)) {
    for (const p of pathsOf(name)) await fs.rm(path.join(parent, p), { recursive: true, force: true });
  }
}

function tempSibling(dir: string): string {
  return path.join(path.dirname(dir), `.${path.basename(dir)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

async function renameIntoPlace(tmp: string, dir: string): Promise<void> {
  try {
    await fs.rename(tmp, dir);
  } catch (err) {
    // Another attempt got there first (ENOTEMPTY/EEXIST): keep its result.
    await fs.rm(tmp, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  }
}

export function createHookActivities(drivers: Drivers) {
  return {
    /**
     * Container Build: unpacks `<ApplicationKey>_<OperationId>.zip` from TargetPath into the version's
     * directory, runs the profile's build command there if it has one, and records the build for the Run.
     */
    async prepareBuild(input: PrepareBuildInput): Promise<BuildRecord> {
      return activity(async (heartbeat) => {
        const recordFile = buildRecordFile(input.buildsRoot, input.application, input.operationId);
        const existing = await readJson<BuildRecord>(recordFile);
        if (existing) return existing; // a retry, or a re-run of the same operation
        const targetDir = await confined('TargetPath', input.targetPath, input.targetRoots);
        const zipName = `${safeName('ApplicationKey', input.applicationKey)}_${safeName('OperationId', input.operationId)}.zip`;
        // The bundle itself must not be a symbolic link out of the target roots either.
        const zipFile = await confined('TargetPath', fileIn(targetDir, zipName), input.targetRoots, 'file').catch(
          (err: { message?: string }) => {
            if (/does not exist/.test(err.message ?? '')) {
              throw permanentFailure(ErrorType.BundleInvalid, `bundle ${zipName} not found in TargetPath ${targetDir}`);
            }
            throw err;
          },
        );
        const bundleDir = path.join(path.dirname(recordFile), input.operationId);
        await fs.mkdir(path.dirname(bundleDir), { recursive: true });
        await fs.rm(bundleDir, { recursive: true, force: true }); // a half-built one from a crashed attempt
        const tmp = tempSibling(bundleDir);
        await fs.mkdir(tmp);
        try {
          await unpackBundle(zipFile, tmp, input.build.maxBundleBytes, (count) => heartbeat.report({ entries: count }));
        } catch (err) {
          await fs.rm(tmp, { recursive: true, force: true });
          throw classifyError(err);
        }
        await renameIntoPlace(tmp, bundleDir);
        // Built in place, so "{bundleDir}" is the version's directory; only the record below marks the build done.
        if (input.build.command) {
          heartbeat.report({ building: true });
          try {
            await runBuildCommand(input.build.command, bundleDir, input);
          } catch (err) {
            await fs.rm(bundleDir, { recursive: true, force: true });
            throw classifyError(err);
          }
        }
        const record: BuildRecord = {
          application: input.application,
          operationId: input.operationId,
          version: input.version,
          bundleDir,
          ...(await replicaCommand(bundleDir, input.profileCommand)),
          builtAt: new Date().toISOString(),
        };
        await writeJsonAtomic(recordFile, record);
        return record;
      });
    },

    /** The build a Container Build left for this operation (the Run needs it). */
    async readBuild(input: { buildsRoot: string; application: string; operationId: string }): Promise<BuildRecord> {
      const record = await readJson<BuildRecord>(
        buildRecordFile(input.buildsRoot, input.application, input.operationId),
      );
      if (!record) {
        throw permanentFailure(
          ErrorType.BuildNotFound,
          `no build of operation ${input.operationId} for ${input.application}: the Container Build hook must run (and succeed) first`,
        );
      }
      return record;
    },

    /** Update Configurations / Run: a private, versioned copy of ConfigPath's files. */
    async snapshotConfig(input: ConfigSnapshotInput): Promise<ConfigSnapshot> {
      const source = await confined('ConfigPath', input.configPath, input.configRoots);
      const configs = path.join(appDir(input.buildsRoot, input.application), 'configs');
      await fs.mkdir(configs, { recursive: true });
      const tmp = tempSibling(path.join(configs, safeName('OperationId', input.operationId)));
      await fs.mkdir(tmp);
      try {
        const files = await copyConfigFiles(source, tmp);
        const revision = await digestFiles(tmp, files);
        const dir = path.join(configs, `${input.operationId}-${revision}`);
        await renameIntoPlace(tmp, dir);
        return { dir, revision, files };
      } catch (err) {
        await fs.rm(tmp, { recursive: true, force: true });
        throw err;
      }
    },

    async readRelease(input: { buildsRoot: string; application: string }): Promise<ReleaseRecord | null> {
      return (await readJson<ReleaseRecord>(releaseFile(input.buildsRoot, input.application))) ?? null;
    },

    /** Records the live release, then prunes what is older than it (keeping one previous build and config). */
    async recordRelease(input: { buildsRoot: string; release: ReleaseRecord }): Promise<void> {
      await writeJsonAtomic(releaseFile(input.buildsRoot, input.release.application), input.release);
      await pruneOlderThanRelease(input.buildsRoot, input.release);
    },

    /** The application was removed: its release record, builds and configuration snapshots go. */
    async forgetRelease(input: { buildsRoot: string; application: string }): Promise<void> {
      await fs.rm(releaseFile(input.buildsRoot, input.application), { force: true });
      const dir = appDir(input.buildsRoot, input.application);
      for (const sub of ['builds', 'configs']) await fs.rm(path.join(dir, sub), { recursive: true, force: true });
    },

    /** Every replica set of an application, whatever state its routing is in (Container Remove). */
    async listApplicationReplicaSets(input: {
      platform: PlatformConfig;
      application: string;
    }): Promise<ReplicaSetState[]> {
      return activity(() => drivers.platform(input.platform).listReplicaSets(input.application));
    },

    /** Whether a workflow with this id is running now (another operation holding the application). */
    async isWorkflowRunning(input: { workflowId: string }): Promise<boolean> {
      try {
        const description = await Context.current().client.workflow.getHandle(input.workflowId).describe();
        return description.status.name === 'RUNNING';
      } catch (err) {
        if ((err as Error).name === 'WorkflowNotFoundError') return false;
        throw err;
      }
    },

    /**
     * Waits (long-polling the server, heartbeating) until the workflow closes, or the deadline passes. Costs its
     * caller three history events however long it waits. Closed includes failed, terminated, timed out and never
     * started; a rolling update that continues as new is followed to its last run.
     */
    async awaitWorkflowClosed(input: { workflowId: string; deadlineAt: number }): Promise<{ closed: boolean }> {
      return activity(async (heartbeat) => {
        const ctx = Context.current();
        const remaining = input.deadlineAt - Date.now();
        if (remaining <= 0) return { closed: false };
        const byDeadline = AbortSignal.timeout(remaining);
        const signal = AbortSignal.any([ctx.cancellationSignal, byDeadline]);
        heartbeat.report({ waitingFor: input.workflowId });
        try {
          await ctx.client.connection.withAbortSignal(signal, () =>
            ctx.client.workflow.getHandle(input.workflowId).result(),
          );
          return { closed: true };
        } catch (err) {
          if (ctx.cancellationSignal.aborted) await ctx.cancelled; // rejects with the CancelledFailure
          if (byDeadline.aborted) return { closed: false };
          const name = (err as Error).name;
          // The workflow ended without succeeding, or does not exist: either way it no longer holds the application.
          if (name === 'WorkflowFailedError' || name === 'WorkflowNotFoundError') return { closed: true };
          throw err;
        }
      });
    },

    /** Writes `<ApplicationKey>_<OperationId>.<ext>` into ResultPath, atomically. */
    async writeHookResult(input: WriteHookResultInput): Promise<void> {
      const dir = await confined('ResultPath', input.resultPath, input.resultRoots);
      await writeResultFileAtomic(fileIn(dir, input.fileName), input.content);
    },
  };
}

export type HookActivities = ReturnType<typeof createHookActivities>;
