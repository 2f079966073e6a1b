/**
 * Contract types of the OutSystems deployment-zone hooks (see
 * docs/outsystems-hooks.md): the four hook stages, the names derived from a
 * hook call (workflow id, result file, version), and the inputs and results
 * of the hook workflows and activities. Pure (no Node built-ins): workflow code,
 * the activities and the hook server all import it.
 */
import type { DeploymentSpecInput, PlatformConfig, RouterConfig } from '../spec';
import type { Outcome } from '../types';

/** One Automatic-mode hook of a deployment zone. */
export type HookStage = 'build' | 'run' | 'configs' | 'remove';

export interface HookStageInfo {
  /** The deployment zone's field, as LifeTime names it. */
  title: string;
  /** URL path segment under /hooks/ that the zone's trigger URL points at. */
  path: string;
  /** Extension of the result file LifeTime waits for. */
  extension: 'preparedone' | 'deploydone' | 'configsdone' | 'undeploydone';
}

export const HOOK_STAGES: Record<HookStage, HookStageInfo> = {
  build: { title: 'Container Build', path: 'container-build', extension: 'preparedone' },
  run: { title: 'Container Run', path: 'container-run', extension: 'deploydone' },
  configs: { title: 'Update Configurations', path: 'update-configurations', extension: 'configsdone' },
  remove: { title: 'Container Remove', path: 'container-remove', extension: 'undeploydone' },
};

export const HOOK_STAGE_NAMES = Object.keys(HOOK_STAGES) as HookStage[];

export const HOOK_WORKFLOW_TYPES = {
  operation: 'outSystemsHookOperation',
  retire: 'retireApplication',
} as const;

/** One workflow per hook call: a re-delivered call (same OperationId) finds the same workflow. */
export function hookWorkflowId(applicationKey: string, operationId: string, stage: HookStage): string {
  return `hook-${applicationKey}-${operationId}-${stage}`;
}

/** `<ApplicationKey>_<OperationId>.<ext>`, the file LifeTime polls for in ResultPath. */
export function resultFileName(applicationKey: string, operationId: string, stage: HookStage): string {
  return `${applicationKey}_${operationId}.${HOOK_STAGES[stage].extension}`;
}

/** OutSystems sends no version: the first 12 letters/digits of the OperationId (a GUID per publish) stand for it. */
export function versionFromOperation(operationId: string): string {
  return operationId
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .slice(0, 12);
}

/** The parameters of one hook call, decoded (see client/outsystems/params.ts). */
export interface HookCall {
  address: string;
  applicationName: string;
  applicationKey: string;
  operationId: string;
  modules: string[];
}

/** Directories the paths of a hook call must lie in (real paths). */
export interface HookRoots {
  target: string[];
  result: string[];
  config: string[];
}

/** A deployment spec without what each hook call supplies (application, version, modules). */
export type DeploymentProfile = Omit<DeploymentSpecInput, 'application' | 'version' | 'modules'>;

export interface BuildOptions {
  /** Run in the unpacked bundle after unpacking (e.g. an image build); `{bundleDir}` is replaced. */
  command?: string[];
  /** How long the build command may run. */
  timeoutMs: number;
  /** Largest total uncompressed size a bundle may have (zip-bomb guard). */
  maxBundleBytes: number;
}

export interface HookOperationInput {
  stage: HookStage;
  call: HookCall;
  /** Cutover's application name (a DNS label) the OutSystems application maps to. */
  application: string;
  profile: DeploymentProfile;
  build: BuildOptions;
  /** Real paths, already confined to `roots` by the hook server (activities check again). */
  paths: { target?: string; result: string; config?: string };
  roots: HookRoots;
  /** Where bundles are unpacked and release records kept: `<buildsRoot>/<application>/...`. */
  buildsRoot: string;
  /** When LifeTime stops waiting for the result file (ISO time). */
  hookDeadline: string;
  /** An approval gate closes this long before the hook deadline, leaving time to finish and report. */
  finishMarginMs: number;
  /**
   * How often a stage waiting for another operation of the same application checked again, in operations started
   * before the wait-for-application-by-result patch (they replay with it); newer ones wait for the other to close.
   */
  exclusiveRetryMs?: number;
  searchAttributes?: boolean;
}

export interface HookOperationResult {
  ok: boolean;
  /** The error message written into the result file when `ok` is false. */
  message?: string;
  resultFile: string;
  /** Exactly what was written into the result file ("" on success). */
  content: string;
  deploymentId?: string;
  /**
   * The workflow type the stage ran as `deploymentId` (Run: blue-green or canary, as the profile says; Update
   * Configurations: rolling update).
   */
  deploymentType?: string;
  version?: string;
  outcome?: Outcome;
}

export type HookOperationState =
  'preparing' | 'waiting-for-application' | 'deploying' | 'retiring' | 'writing-result' | 'done';

/** What the `hookStatus` query answers. */
export interface HookOperationStatus {
  workflowId: string;
  stage: HookStage;
  applicationKey: string;
  applicationName: string;
  operationId: string;
  application: string;
  hookDeadline: string;
  state: HookOperationState;
  /** The deployment (or retirement) this operation runs as a child, once started. */
  deploymentId?: string;
  detail?: string;
  result?: HookOperationResult;
}

/** What a Container Build leaves behind for the Run of the same operation. */
export interface BuildRecord {
  application: string;
  operationId: string;
  version: string;
  /** The unpacked bundle: the version's directory. */
  bundleDir: string;
  /** The replica command for the local platform (undefined: the platform's default command). */
  command?: string[];
  /** Where the command came from, for the audit trail. */
  commandSource: 'profile' | 'bundle manifest' | 'platform default';
  builtAt: string;
}

/** The live release of an application, recorded after each successful Run / Update Configurations. */
export interface ReleaseRecord {
  application: string;
  version: string;
  operationId: string;
  bundleDir: string;
  command?: string[];
  modules: string[];
  config?: ConfigSnapshot;
  updatedAt: string;
}

export interface ConfigSnapshot {
  /** A private copy of ConfigPath's files, handed to replicas as CUTOVER_CONFIG_DIR. */
  dir: string;
  /** Digest of the files' names and contents (12 hex digits). */
  revision: string;
  files: string[];
}

export interface RetireApplicationInput {
  application: string;
  modules: string[];
  platform: PlatformConfig;
  router: RouterConfig;
}

export interface RetireApplicationResult {
  retiredReplicaSets: string[];
  rulesRemoved: string[];
}
