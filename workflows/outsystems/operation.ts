/**
 * One workflow per OutSystems hook call (workflow id
 * `hook-<ApplicationKey>-<OperationId>-<stage>`, so a re-delivered call finds
 * the same run): do the stage's work, then write the result file LifeTime
 * waits for — empty on success, {"Error":{"Message":...}} on failure.
 *
 * - Container Build: unpack the bundle into the version's directory (and run the profile's build command).
 * - Container Run: deploy that build with the profile's strategy (blue-green or canary), as a child deployment.
 * - Update Configurations: a configuration-only rolling update of the live build (same version, new configuration).
 * - Container Remove: retire every replica set of the application and delete its explicit rules.
 *
 * Run, Update Configurations and Remove run as a child with the application's
 * business id `deploy-<environment>-<application>`: two operations for the same
 * application never run at once; a second one waits for the first (until its
 * hook deadline), and a deployment still running at the deadline is aborted
 * (workflows/outsystems/exclusive.ts).
 */
import {
  ParentClosePolicy,
  condition,
  log,
  patched,
  setHandler,
  startChild,
  allHandlersFinished,
  workflowInfo,
} from '@temporalio/workflow';
import { blueGreenDeployment } from '../blue-green';
import { canaryDeployment } from '../canary';
import { normalizeSpec } from '../parse-spec';
import { rollingUpdateDeployment } from '../rolling-update';
import { formatSpecIssues, validateSpec } from '../spec';
import type { DeploymentSpec, SpecResult } from '../spec';
import { WORKFLOW_TYPES, deploymentId } from '../types';
import type { DeploymentInput, DeploymentResult } from '../types';
import { configUpdateStrategy } from './config-update';
import { abortAtDeadline, startExclusive } from './exclusive';
import type { ExclusiveOperation } from './exclusive';
import { StageFailed, describeFailure, deploymentResultOf } from './failures';
import { hookStatusQuery } from './messages';
import {
  ABORT_AT_HOOK_DEADLINE_PATCH,
  CANARY_RUN_PATCH,
  CONFIGS_AS_ROLLING_UPDATE_PATCH,
  HOOK_SPEC_RECORDED_PATCH,
} from './patches';
import { buildCall, quickApiCall, resultCall } from './presets';
import { retireApplication } from './retire';
import { HOOK_WORKFLOW_TYPES, resultFileName, versionFromOperation } from './types';
import type {
  BuildRecord,
  ConfigSnapshot,
  HookOperationInput,
  HookOperationResult,
  HookOperationState,
  HookOperationStatus,
  ReleaseRecord,
  RetireApplicationInput,
} from './types';

/** How a stage deploys a release: the profile's deployment (Run), or a configuration-only rolling update. */
type DeployKind = 'profile' | 'configuration-only';

export async function outSystemsHookOperation(input: HookOperationInput): Promise<HookOperationResult> {
  const { call, stage } = input;
  const fileName = resultFileName(call.applicationKey, call.operationId, stage);
  const status: HookOperationStatus = {
    workflowId: workflowInfo().workflowId,
    stage,
    applicationKey: call.applicationKey,
    applicationName: call.applicationName,
    operationId: call.operationId,
    application: input.application,
    hookDeadline: input.hookDeadline,
    state: 'preparing',
  };
  setHandler(hookStatusQuery, () => status);
  const deadline = Date.parse(input.hookDeadline);
  const profile = input.profile;
  const environment = profile.environment ?? 'default';
  const appDeploymentId = deploymentId(environment, input.application);
  const version = versionFromOperation(call.operationId);
  const specsRecorded = patched(HOOK_SPEC_RECORDED_PATCH);
  // The application's one slot: its child waits for another operation's, and is aborted at the hook deadline.
  const exclusive: ExclusiveOperation = { input, status, deploymentId: appDeploymentId, deadline, setState };

  let outcome: Omit<HookOperationResult, 'resultFile' | 'content'>;
  try {
    outcome = await runStage();
  } catch (err) {
    outcome = { ok: false, message: describeFailure(err) };
  }
  setState('writing-result');
  const content = outcome.ok ? '' : JSON.stringify({ Error: { Message: outcome.message ?? 'failed' } });
  await resultCall.writeHookResult({
    resultPath: input.paths.result,
    resultRoots: input.roots.result,
    fileName,
    content,
  });
  const result: HookOperationResult = { ...outcome, resultFile: fileName, content };
  status.result = result;
  setState('done', outcome.ok ? 'succeeded' : outcome.message);
  await condition(allHandlersFinished);
  return result;

  // ---- the stages ----

  async function runStage(): Promise<Omit<HookOperationResult, 'resultFile' | 'content'>> {
    switch (stage) {
      case 'build':
        return build();
      case 'run':
        return run();
      case 'configs':
        return updateConfigurations();
      case 'remove':
        return remove();
    }
  }

  async function build(): Promise<Omit<HookOperationResult, 'resultFile' | 'content'>> {
    if (!input.paths.target) throw new StageFailed('TargetPath is missing');
    const platform = profile.platform as { kind: string; command?: string[] };
    const record = await buildCall.prepareBuild({
      targetPath: input.paths.target,
      targetRoots: input.roots.target,
      applicationKey: call.applicationKey,
      operationId: call.operationId,
      application: input.application,
      version,
      buildsRoot: input.buildsRoot,
      build: input.build,
      profileCommand: platform.kind === 'local' ? platform.command : undefined,
    });
    log.info('bundle prepared', { bundleDir: record.bundleDir, commandSource: record.commandSource });
    return { ok: true, version: record.version };
  }

  async function run(): Promise<Omit<HookOperationResult, 'resultFile' | 'content'>> {
    const built: BuildRecord = await quickApiCall.readBuild({
      buildsRoot: input.buildsRoot,
      application: input.application,
      operationId: call.operationId,
    });
    const config = input.paths.config ? await snapshot(input.paths.config) : undefined;
    return deploy('profile', () =>
      Promise.resolve({
        application: input.application,
        version: built.version,
        operationId: call.operationId,
        bundleDir: built.bundleDir,
        command: built.command,
        modules: call.modules,
        config,
        updatedAt: '',
      }),
    );
  }

  async function updateConfigurations(): Promise<Omit<HookOperationResult, 'resultFile' | 'content'>> {
    if (!input.paths.config) throw new StageFailed('ConfigPath is missing');
    const config = await snapshot(input.paths.config);
    // A configuration-only change: the live build (same version, bundle and command), rolled through the replicas
    // with the new configuration. The live release is read once the application is free, so a change that waited
    // for a Run applies to its result.
    return deploy('configuration-only', async () => {
      const live = await quickApiCall.readRelease({ buildsRoot: input.buildsRoot, application: input.application });
      if (!live) {
        throw new StageFailed(
          `${input.application} has no release deployed by the hook server yet: nothing to reconfigure (a Container Run must succeed first)`,
        );
      }
      return { ...live, modules: call.modules.length ? call.modules : live.modules, config };
    });
  }

  async function remove(): Promise<Omit<HookOperationResult, 'resultFile' | 'content'>> {
    const live = await quickApiCall.readRelease({ buildsRoot: input.buildsRoot, application: input.application });
    const modules = [...new Set([...call.modules, ...(live?.modules ?? [])])];
    // The profile's platform and router with their defaults filled in (validated as a whole spec).
    const normalized = await specOf({ ...profile, application: input.application, version, modules: ['_'] });
    if (!normalized.ok)
      throw new StageFailed(`the deployment profile is invalid: ${formatSpecIssues(normalized.issues)}`);
    const retireInput: RetireApplicationInput = {
      application: input.application,
      modules,
      platform: normalized.spec.platform,
      router: normalized.spec.router,
    };
    setState('waiting-for-application');
    const child = await startExclusive(exclusive, () =>
      startChild(retireApplication, {
        workflowId: appDeploymentId,
        args: [retireInput],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        memo: hookMemo(),
      }),
    );
    setState('retiring', `running as ${appDeploymentId}`);
    const retired = await child.result();
    await quickApiCall.forgetRelease({ buildsRoot: input.buildsRoot, application: input.application });
    log.info('application removed', { ...retired });
    return { ok: true, deploymentId: appDeploymentId, deploymentType: HOOK_WORKFLOW_TYPES.retire };
  }

  // ---- helpers ----

  /** A spec built from the profile, normalised: by the recorded local activity, or (operations started before) here. */
  async function specOf(raw: unknown): Promise<SpecResult> {
    return specsRecorded ? normalizeSpec(raw) : validateSpec(raw);
  }

  async function snapshot(configPath: string): Promise<ConfigSnapshot> {
    return quickApiCall.snapshotConfig({
      configPath,
      configRoots: input.roots.config,
      application: input.application,
      operationId: call.operationId,
      buildsRoot: input.buildsRoot,
    });
  }

  /**
   * Runs the release as the child `deploy-<environment>-<application>`: the profile's deployment (blue-green or
   * canary), or a configuration-only rolling update (same version; the configuration is what rolls). Records the
   * release as live when it succeeds.
   */
  async function deploy(
    kind: DeployKind,
    prepare: () => Promise<ReleaseRecord>,
  ): Promise<Omit<HookOperationResult, 'resultFile' | 'content'>> {
    setState('waiting-for-application');
    let release: ReleaseRecord | undefined;
    let deploymentType: string = WORKFLOW_TYPES.blueGreen;
    const child = await startExclusive(exclusive, async () => {
      release = await prepare();
      const options = { workflowId: appDeploymentId, parentClosePolicy: ParentClosePolicy.ABANDON, memo: hookMemo() };
      if (kind === 'configuration-only' && patched(CONFIGS_AS_ROLLING_UPDATE_PATCH)) {
        const spec = await deploymentSpec(release, configUpdateStrategy);
        deploymentType = WORKFLOW_TYPES.rolling;
        return startChild(rollingUpdateDeployment, {
          ...options,
          args: [{ spec, specNormalized: specsRecorded || undefined, searchAttributes: input.searchAttributes }],
        });
      }
      const spec = await deploymentSpec(release);
      const args: [DeploymentInput] = [
        { spec, specNormalized: specsRecorded || undefined, searchAttributes: input.searchAttributes },
      ];
      if (kind === 'profile' && spec.strategy.type === 'canary' && patched(CANARY_RUN_PATCH)) {
        deploymentType = WORKFLOW_TYPES.canary;
        return startChild(canaryDeployment, { ...options, args });
      }
      return startChild(blueGreenDeployment, { ...options, args });
    });
    if (!release) throw new StageFailed('no release to deploy');
    const what = deploymentType === WORKFLOW_TYPES.rolling ? 'configuration-only rolling update' : 'deployment';
    setState('deploying', `running as ${appDeploymentId} (${deploymentType})`);
    let result: DeploymentResult;
    let abortedAtDeadline = false;
    try {
      const outcome = child.result();
      if (patched(ABORT_AT_HOOK_DEADLINE_PATCH)) abortedAtDeadline = await abortAtDeadline(exclusive, child, outcome);
      result = await outcome;
    } catch (err) {
      const failed = deploymentResultOf(err);
      if (!failed) throw err;
      const cause = abortedAtDeadline
        ? `the hook deadline (${input.hookDeadline}) passed first, so it was aborted; `
        : '';
      return {
        ok: false,
        message: `${what} ${appDeploymentId} of ${input.application} ${release.version} ${failed.outcome}: ${cause}${failed.reason ?? 'no reason given'}`,
        deploymentId: appDeploymentId,
        deploymentType,
        version: release.version,
        outcome: failed.outcome,
      };
    }
    await quickApiCall.recordRelease({
      buildsRoot: input.buildsRoot,
      release: { ...release, updatedAt: new Date().toISOString() },
    });
    return {
      ok: true,
      deploymentId: appDeploymentId,
      deploymentType,
      version: release.version,
      outcome: result.outcome,
    };
  }

  /**
   * The profile completed into a spec (with `strategyOf`: the strategy it derives from the profile's, e.g. the
   * rolling settings of a configuration-only update); an approval gate is cut to close before the hook times out.
   */
  async function deploymentSpec(
    release: ReleaseRecord,
    strategyOf?: (profileSpec: DeploymentSpec) => DeploymentSpec['strategy'],
  ): Promise<DeploymentSpec> {
    const platform = profile.platform as { kind: string; env?: Record<string, string>; command?: string[] };
    const env: Record<string, string> = {
      ...(platform.env ?? {}),
      CUTOVER_BUNDLE_DIR: release.bundleDir,
      CUTOVER_OPERATION_ID: release.operationId,
      OUTSYSTEMS_APPLICATION_KEY: call.applicationKey,
      ...(release.config
        ? { CUTOVER_CONFIG_DIR: release.config.dir, CUTOVER_CONFIG_REVISION: release.config.revision }
        : {}),
    };
    const raw = {
      ...profile,
      application: input.application,
      version: release.version,
      modules: release.modules,
      platform: { ...platform, env, ...(release.command ? { command: release.command } : {}) },
    };
    let validated = await specOf(raw);
    if (validated.ok && strategyOf) validated = await specOf({ ...raw, strategy: strategyOf(validated.spec) });
    if (!validated.ok)
      throw new StageFailed(`the deployment profile is invalid: ${formatSpecIssues(validated.issues)}`);
    const spec = validated.spec;
    const approval = (spec.strategy as { approval?: { mode: string; timeout: number } }).approval;
    if (approval?.mode === 'required') {
      const remaining = deadline - Date.now() - input.finishMarginMs;
      if (remaining <= 0) throw new StageFailed('the hook deadline has passed before the deployment could start');
      approval.timeout = Math.min(approval.timeout, remaining);
    }
    return spec;
  }

  function hookMemo(): Record<string, unknown> {
    return {
      hookDeadline: input.hookDeadline,
      hookWorkflowId: status.workflowId,
      hookStage: stage,
      operationId: call.operationId,
    };
  }

  function setState(state: HookOperationState, detail?: string): void {
    status.state = state;
    status.detail = detail;
  }
}
