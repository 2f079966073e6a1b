/**
 * Container Build's activities: unpack `<ApplicationKey>_<OperationId>.zip` from TargetPath into the version's
 * directory (bundle.ts), run the profile's build command there (build-command.ts), and record the build for the Run
 * of the same operation. Idempotent: a retry (or a re-run of the operation) finds the record and returns it.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { fileIn } from '../../shared/outsystems';
import type { BuildOptions, BuildRecord } from '../../workflows/outsystems/types';
import { activity } from '../activity';
import { classifyError, ErrorType, permanentFailure } from '../errors';
import { replicaCommand, runBuildCommand } from './build-command';
import { unpackBundle } from './bundle';
import { buildRecordFile, confined, readJson, renameIntoPlace, safeName, tempSibling, writeJsonAtomic } from './layout';

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

export function createBuildActivities() {
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
  };
}
