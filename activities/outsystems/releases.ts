/**
 * The live release of an application (`<buildsRoot>/<application>/release.json`), recorded after each successful
 * Run / Update Configurations and read by the next Update Configurations and Remove.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ReleaseRecord } from '../../workflows/outsystems/types';
import { appDir, readJson, releaseFile, writeJsonAtomic } from './layout';
import { pruneOlderThanRelease } from './pruning';

export function createReleaseActivities() {
  return {
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
  };
}
