/**
 * Activities of the OutSystems hook operations (workflows/outsystems/), one file per responsibility:
 *
 * - builds.ts: Container Build (bundle.ts unpacks with the zip-slip guard, build-command.ts runs the build
 *   command and picks the replica command) and the build record the Run reads;
 * - config-snapshots.ts: the configuration's private, digested copy;
 * - releases.ts (with pruning.ts): the live release record, and what it leaves of older builds;
 * - workflow-lookup.ts: whether another operation holds the application, and waiting for it to close;
 * - result-files.ts: the result file LifeTime waits for (shared/outsystems writes it);
 * - layout.ts: where all of it lives under the builds root.
 *
 * Each is idempotent: a retry finds the work done. Node-side code the hook server needs as well (path confinement,
 * result files, atomic writes) lives in shared/, which imports nothing from here.
 */
import type { PlatformConfig } from '../../workflows/spec';
import { activity } from '../activity';
import type { Drivers } from '../drivers';
import type { ReplicaSetState } from '../ports';
import { createBuildActivities } from './builds';
import { createConfigSnapshotActivities } from './config-snapshots';
import { createReleaseActivities } from './releases';
import { createResultFileActivities } from './result-files';
import { createWorkflowLookupActivities } from './workflow-lookup';

export { BUNDLE_MANIFEST } from './build-command';
export type { PrepareBuildInput } from './builds';
export { refusedEntryName, unpackBundle } from './bundle';
export type { ConfigSnapshotInput } from './config-snapshots';
export { KEEP_PREVIOUS_BUILDS } from './pruning';
export type { WriteHookResultInput } from './result-files';

export function createOutSystemsActivities(drivers: Drivers) {
  return {
    ...createBuildActivities(),
    ...createConfigSnapshotActivities(),
    ...createReleaseActivities(),

    /** Every replica set of an application, whatever state its routing is in (Container Remove). */
    async listApplicationReplicaSets(input: {
      platform: PlatformConfig;
      application: string;
    }): Promise<ReplicaSetState[]> {
      return activity(() => drivers.platform(input.platform).listReplicaSets(input.application));
    },

    ...createWorkflowLookupActivities(),
    ...createResultFileActivities(),
  };
}

export type OutSystemsActivities = ReturnType<typeof createOutSystemsActivities>;

/** The names the activities barrel (activities/index.ts) and the workflow tests use. */
export const createHookActivities = createOutSystemsActivities;
export type HookActivities = OutSystemsActivities;
