/**
 * CutoverClient: the typed API the CLI, the hook server and integrators use
 * to start deployments and act on them. Specs are validated here, at the
 * edge, before anything starts.
 */
import { failureConverter } from '../shared/encrypted-failures';
import { Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import type { WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import {
  abortSignal,
  approveSignal,
  metricDryRunSignal,
  promoteUpdate,
  rejectSignal,
  rollbackSignal,
  statusQuery,
} from '../workflows/messages';
import type {
  ApproveInput,
  DecisionInput,
  MetricDryRunInput,
  PromoteInput,
  PromoteResult,
} from '../workflows/messages';
import { formatSpecIssues, validateSpec } from '../workflows/spec';
import type { DeploymentSpec } from '../workflows/spec';
import { deploymentId, FINAL_PHASES, WORKFLOW_TYPES } from '../workflows/types';
import type { DeploymentInput, DeploymentResult, DeploymentStatus } from '../workflows/types';
import { HOOK_WORKFLOW_TYPES, hookWorkflowId } from '../workflows/outsystems/types';
import type { HookOperationInput, HookOperationResult, HookOperationStatus } from '../workflows/outsystems/types';
import { hookStatusQuery } from '../workflows/outsystems/messages';
import { closableRetry } from './closable-retry';
import type { ClosableRetry } from './closable-retry';
import { startDetails, startSummary } from './start-summary';
import { connectionOptions, temporalConfigFromEnv } from './connection';
import type { TemporalConfig } from './connection';
import { retryingSteps } from './retrying';
import type { RetryingStep } from './retrying';

export type { DeploymentSpec, DeploymentSpecInput } from '../workflows/spec';
export type { DeploymentResult, DeploymentStatus, Phase } from '../workflows/types';
export type { RetryingStep } from './retrying';

/**
 * What `status` and `watch` return: the workflow's status query, plus what only the server knows — the steps being
 * retried (`retrying`: attempt N of M, last error, next attempt; absent when none is).
 */
export type DeploymentStatusView = DeploymentStatus & { retrying?: RetryingStep[] };

/** The spec failed validation; `issues` names every offending field. Nothing was started. */
export class SpecInvalidError extends Error {
  override readonly name = 'SpecInvalidError';
  constructor(readonly issues: { field: string; message: string }[]) {
    super(`invalid deployment spec: ${formatSpecIssues(issues)}`);
  }
}

/** A deployment of this application and environment is already running. */
export class DeploymentAlreadyRunningError extends Error {
  override readonly name = 'DeploymentAlreadyRunningError';
  constructor(readonly deploymentId: string) {
    super(
      `a deployment is already running as ${deploymentId}; wait for it, or act on it (cutover status ${deploymentId} / abort ${deploymentId})`,
    );
  }
}

export interface DeploymentSummary {
  deploymentId: string;
  runId: string;
  workflowType: string;
  status: string;
  startTime: Date;
  closeTime?: Date;
  application?: string;
  environment?: string;
  version?: string;
  phase?: string;
}

export interface StartOptions {
  /** Override the business id deploy-<environment>-<application> (tests). */
  deploymentId?: string;
  searchAttributes?: boolean;
}

export class CutoverClient {
  private constructor(
    readonly temporal: Client,
    private readonly config: TemporalConfig,
    private readonly owned: { connection: Connection; retry: ClosableRetry } | undefined,
  ) {}

  static async connect(config: Partial<TemporalConfig> = {}): Promise<CutoverClient> {
    const full = { ...temporalConfigFromEnv(), ...config };
    const retry = closableRetry();
    const connection = await Connection.connect({ ...connectionOptions(full), interceptors: [retry.interceptor] });
    const payloadCodecs = full.payloadCodecs ?? [];
    // With encryption on, failure messages are sealed too: the worker's converter (shared/encrypted-failures.ts).
    const dataConverter = { payloadCodecs, ...(payloadCodecs.length ? { failureConverter } : {}) };
    return new CutoverClient(new Client({ connection, namespace: full.namespace, dataConverter }), full, {
      connection,
      retry,
    });
  }

  /** Wraps an existing Temporal client (the caller keeps ownership of its connection). */
  static fromClient(client: Client, config: Partial<TemporalConfig> = {}): CutoverClient {
    return new CutoverClient(client, { ...temporalConfigFromEnv(), ...config }, undefined);
  }

  /** Closes the connection this client opened, after any gRPC retry still waiting has run (see closable-retry.ts). */
  async close(): Promise<void> {
    if (!this.owned) return;
    await this.owned.retry.drain();
    await this.owned.connection.close();
  }

  /** Validates the spec and starts its deployment; refuses a second one for the same application+environment. */
  async deploy(
    raw: unknown,
    options: StartOptions = {},
  ): Promise<{ deploymentId: string; runId: string; spec: DeploymentSpec }> {
    const result = validateSpec(raw);
    if (!result.ok) throw new SpecInvalidError(result.issues);
    const spec = result.spec;
    const id = options.deploymentId ?? deploymentId(spec.environment, spec.application);
    const input: DeploymentInput = { spec, specNormalized: true, searchAttributes: options.searchAttributes };
    try {
      // One workflow per strategy: blue-green, rolling update (batches; also configuration-only updates), canary.
      const workflowType =
        spec.strategy.type === 'rolling'
          ? WORKFLOW_TYPES.rolling
          : spec.strategy.type === 'canary'
            ? WORKFLOW_TYPES.canary
            : WORKFLOW_TYPES.blueGreen;
      const handle = await this.temporal.workflow.start(workflowType, {
        taskQueue: this.config.taskQueue,
        workflowId: id,
        args: [input],
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        // What the Temporal UI shows of it (client/start-summary.ts): names and counts only, nothing secret.
        staticSummary: startSummary(spec),
        staticDetails: startDetails(spec),
      });
      return { deploymentId: id, runId: handle.firstExecutionRunId, spec };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) throw new DeploymentAlreadyRunningError(id);
      throw err;
    }
  }

  handle(id: string): WorkflowHandle {
    return this.temporal.workflow.getHandle(id);
  }

  async status(id: string): Promise<DeploymentStatusView> {
    const handle = this.handle(id);
    // The description is an extra (the hook's memo, the retried steps): the status query is what must answer.
    const [status, description] = await Promise.all([
      handle.query(statusQuery),
      handle.describe().catch(() => undefined),
    ]);
    const hook = this.hookOf(description);
    const retrying = retryingSteps(description?.raw.pendingActivities);
    return { ...status, ...(hook ? { hook } : {}), ...(retrying.length ? { retrying } : {}) };
  }

  /** The steps a deployment is retrying (from the server's pending activities): attempt, maximum, last error. */
  async pendingSteps(id: string): Promise<RetryingStep[]> {
    return retryingSteps((await this.handle(id).describe()).raw.pendingActivities);
  }

  /** For a deployment started by an OutSystems hook: its deadline and operation (from the deployment's memo). */
  private hookOf(description: WorkflowExecutionDescription | undefined): DeploymentStatus['hook'] {
    try {
      const memo = description?.memo ?? {};
      const { hookDeadline, hookWorkflowId, hookStage, operationId } = memo;
      if (typeof hookDeadline !== 'string' || typeof hookWorkflowId !== 'string') return undefined;
      return {
        deadline: hookDeadline,
        workflowId: hookWorkflowId,
        stage: String(hookStage),
        operationId: String(operationId),
      };
    } catch {
      return undefined; // the status query answered; the memo is an extra
    }
  }

  /**
   * Starts the workflow of one OutSystems hook call, or finds the one already started for it (same id:
   * hook-<ApplicationKey>-<OperationId>-<stage>). A closed one is never re-run: `closed` says so.
   */
  async startHookOperation(input: HookOperationInput): Promise<{ workflowId: string; runId: string; closed: boolean }> {
    const workflowId = hookWorkflowId(input.call.applicationKey, input.call.operationId, input.stage);
    try {
      const handle = await this.temporal.workflow.start(HOOK_WORKFLOW_TYPES.operation, {
        taskQueue: this.config.taskQueue,
        workflowId,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      return { workflowId, runId: handle.firstExecutionRunId, closed: false };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      const description = await this.handle(workflowId).describe();
      return { workflowId, runId: description.runId, closed: true };
    }
  }

  /** The state of a hook operation (stage, deadline, child deployment, result once written). */
  async hookStatus(workflowId: string): Promise<HookOperationStatus> {
    return this.handle(workflowId).query(hookStatusQuery);
  }

  /** Waits for a hook operation's result (what it wrote into the result file). */
  async hookResult(workflowId: string): Promise<HookOperationResult> {
    return (await this.handle(workflowId).result()) as HookOperationResult;
  }

  async approve(id: string, input: ApproveInput): Promise<void> {
    await this.handle(id).signal(approveSignal, input);
  }

  async reject(id: string, input: DecisionInput): Promise<void> {
    await this.handle(id).signal(rejectSignal, input);
  }

  /** Approves with an answer: throws (WorkflowUpdateFailedError) if not waiting for exactly this version. */
  async promote(id: string, input: PromoteInput): Promise<PromoteResult> {
    return this.handle(id).executeUpdate(promoteUpdate, { args: [input] });
  }

  /** Canary releases: the metric goes on being measured and shown, but no longer decides. */
  async metricDryRun(id: string, input: MetricDryRunInput): Promise<void> {
    await this.handle(id).signal(metricDryRunSignal, input);
  }

  async abort(id: string, input: DecisionInput): Promise<void> {
    await this.handle(id).signal(abortSignal, input);
  }

  async rollback(id: string, input: DecisionInput): Promise<void> {
    await this.handle(id).signal(rollbackSignal, input);
  }

  /** Waits for the end; resolves with the result for every outcome (succeeded, rolled back, failed). */
  async result(id: string): Promise<DeploymentResult> {
    try {
      return (await this.handle(id).result()) as DeploymentResult;
    } catch (err) {
      if (err instanceof WorkflowFailedError) {
        const details = (err.cause as { details?: unknown[] } | undefined)?.details;
        const result = details?.[0] as DeploymentResult | undefined;
        if (result && typeof result === 'object' && 'outcome' in result) return result;
      }
      throw err;
    }
  }

  /** Deployments, newest first; optionally of one application / environment. */
  async list(
    filter: { application?: string; environment?: string; limit?: number } = {},
  ): Promise<DeploymentSummary[]> {
    const clauses = [`TaskQueue = '${this.config.taskQueue}'`];
    if (filter.application) clauses.push(`CutoverApplication = '${filter.application.replace(/'/g, '')}'`);
    if (filter.environment) clauses.push(`CutoverEnvironment = '${filter.environment.replace(/'/g, '')}'`);
    const out: DeploymentSummary[] = [];
    for await (const wf of this.temporal.workflow.list({ query: clauses.join(' AND ') })) {
      const sa = wf.typedSearchAttributes;
      const get = (name: string) => {
        const pair = sa.getAll().find((p) => p.key.name === name);
        return pair ? String(pair.value) : undefined;
      };
      out.push({
        deploymentId: wf.workflowId,
        runId: wf.runId,
        workflowType: wf.type,
        status: wf.status.name,
        startTime: wf.startTime,
        closeTime: wf.closeTime,
        application: get('CutoverApplication'),
        environment: get('CutoverEnvironment'),
        version: get('CutoverVersion'),
        phase: get('CutoverPhase'),
      });
      if (out.length >= (filter.limit ?? 50)) break;
    }
    return out;
  }

  /**
   * Yields the status each time it changes, until the deployment reaches a
   * final phase (polling the `status` query; `intervalMs` between polls).
   */
  async *watch(id: string, intervalMs = 1000): AsyncGenerator<DeploymentStatusView> {
    let last = '';
    for (;;) {
      // A closed workflow still answers queries, so the final status is seen too.
      const status = await this.status(id);
      const key = JSON.stringify(status);
      if (key !== last) {
        last = key;
        yield status;
      }
      if (FINAL_PHASES.includes(status.phase)) return;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}
