/**
 * What a recorded release leaves of the builds and configuration snapshots before it: one previous of each (a quick
 * way back by hand), nothing older.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ReleaseRecord } from '../../workflows/outsystems/types';
import { appDir } from './layout';

/** Unpacked builds and configuration snapshots kept besides the live one (a quick way back by hand). */
export const KEEP_PREVIOUS_BUILDS = 1;

/**
 * Deletes the builds (directory and record) and configuration snapshots of an application that are older than the
 * live release's, keeping the newest KEEP_PREVIOUS_BUILDS of them. Anything newer than the live one (a Build already
 * prepared for the next Run) is never touched; neither are temporary directories of a Build in progress.
 */
export async function pruneOlderThanRelease(buildsRoot: string, release: ReleaseRecord): Promise<void> {
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
