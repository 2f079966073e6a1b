/**
 * Configuration snapshots (Run, Update Configurations): a private, versioned copy of ConfigPath's regular files,
 * named by a digest of their names and contents (the revision replicas get as CUTOVER_CONFIG_REVISION).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ConfigSnapshot } from '../../workflows/outsystems/types';
import { appDir, confined, renameIntoPlace, safeName, tempSibling } from './layout';

export interface ConfigSnapshotInput {
  configPath: string;
  configRoots: string[];
  application: string;
  operationId: string;
  buildsRoot: string;
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

/** Digest of the files' names and contents, 12 hex digits. */
export async function digestFiles(dir: string, files: string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(`${file}\0`);
    hash.update(await fs.readFile(path.join(dir, file)));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 12);
}

export function createConfigSnapshotActivities() {
  return {
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
  };
}
