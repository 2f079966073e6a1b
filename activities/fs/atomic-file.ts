/**
 * Crash-safe file writes for the drivers' state files. The implementation is Node-side code shared with the hook
 * server (shared/fs/atomic-file.ts); this path stays so the drivers' imports do not change.
 */
export { readJsonFile, writeFileAtomic, writeJsonAtomic } from '../../shared/fs/atomic-file';
export type { AtomicWriteOptions } from '../../shared/fs/atomic-file';
