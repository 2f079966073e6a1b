/**
 * The harness of the workflow unit tests: one time-skipping test server (with Cutover's search attributes
 * registered) and one workflow bundle per test file, a worker per run on a task queue of its own over stubbed
 * activities, and the helpers the tests read a run with (outcome, status polling, refused updates).
 */
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { statusQuery } from '../../workflows/messages';
import type { DeploymentResult, DeploymentStatus, Phase } from '../../workflows/types';
import { createTimeSkippingEnv } from '../support/temporal';
import { workflowBundle } from '../support/workflow-bundle';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface Outcome {
  result: DeploymentResult;
  failed: boolean;
  failureType?: string;
}

/** A started workflow, with the stubbed world its activities act on. */
export interface Run<W> {
  world: W;
  handle: WorkflowHandle;
  /** Resolves with the result, or with the DeploymentResult carried by the failure. */
  outcome: () => Promise<Outcome>;
  /** Polls the status query until `predicate` holds. */
  waitFor: (predicate: (s: DeploymentStatus) => boolean, what: string) => Promise<DeploymentStatus>;
  waitForPhase: (phase: Phase) => Promise<DeploymentStatus>;
}

export interface RunOptions<W extends { activities: object }> {
  workflowType: string;
  /** The workflow's single argument. */
  input: unknown;
  /** The stubbed world: its `activities` are the worker's. */
  world: W;
  /** Prefixes of this run's task queue and workflow id (`-<n>` is appended). */
  taskQueue: string;
  workflowId: string;
  /** How the result is read; default `handle.result()`. */
  result?: (handle: WorkflowHandle) => Promise<DeploymentResult>;
  /** Status queries before waitFor gives up (25 ms apart, time not skipped). Default 400. */
  pollAttempts?: number;
}

export interface WorkflowHarness {
  /** The time-skipping environment (set by the harness's beforeAll). */
  readonly env: TestWorkflowEnvironment;
  /**
   * Starts the workflow on a fresh task queue and runs a worker over the world's activities until `body` ends; then
   * terminates the workflow: one left running without its worker would stop the test server from skipping time for
   * later tests.
   */
  run<W extends { activities: object }>(options: RunOptions<W>, body: (run: Run<W>) => Promise<void>): Promise<void>;
}

/** Sets up the harness for the calling test file (beforeAll / afterAll). */
export function useWorkflowHarness(): WorkflowHarness {
  let env: TestWorkflowEnvironment | undefined;
  let bundle: WorkflowBundleWithSourceMap;
  let seq = 0;

  beforeAll(async () => {
    env = await createTimeSkippingEnv();
    bundle = await workflowBundle();
  });

  afterAll(async () => {
    await env?.teardown();
  });

  const harness: WorkflowHarness = {
    get env() {
      if (!env) throw new Error('the workflow harness is used before its beforeAll ran');
      return env;
    },
    async run(options, body) {
      const { env } = harness;
      const n = ++seq;
      const taskQueue = `${options.taskQueue}-${n}`;
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowBundle: bundle,
        activities: options.world.activities,
      });
      await worker.runUntil(async () => {
        const handle = await env.client.workflow.start(options.workflowType, {
          taskQueue,
          workflowId: `${options.workflowId}-${n}`,
          args: [options.input],
        });
        const readResult = options.result ?? ((h: WorkflowHandle) => h.result() as Promise<DeploymentResult>);
        const waitFor = (predicate: (s: DeploymentStatus) => boolean, what: string) =>
          waitForStatus(handle, predicate, what, options.pollAttempts);
        const run = {
          world: options.world,
          handle,
          outcome: () => outcomeOf(readResult(handle)),
          waitFor,
          waitForPhase: (phase: Phase) => waitFor((s) => s.phase === phase, `phase ${phase}`),
        };
        try {
          await body(run);
        } finally {
          await handle.terminate('test finished').catch(() => undefined);
        }
      });
    },
  };
  return harness;
}

/** The result, or the DeploymentResult carried by the workflow's failure (with the failure's type). */
export async function outcomeOf(result: Promise<DeploymentResult>): Promise<Outcome> {
  try {
    return { result: await result, failed: false };
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const cause = err.cause as { type?: string; details?: unknown[] } | undefined;
    return { result: cause?.details?.[0] as DeploymentResult, failed: true, failureType: cause?.type };
  }
}

/** Polls the status query (25 ms apart) until `predicate` holds; `attempts` queries at the most. */
export async function waitForStatus(
  handle: WorkflowHandle,
  predicate: (s: DeploymentStatus) => boolean,
  what: string,
  attempts = 400,
): Promise<DeploymentStatus> {
  let last: DeploymentStatus | undefined;
  for (let i = 0; i < attempts; i++) {
    try {
      // The time-skipping server may leave a query unanswered when it lands on a run continuing as new: the
      // deadline ends that call (DEADLINE_EXCEEDED is not retried), so no abandoned call outlives the test, where
      // a gRPC retry of it would fire on the closed connection and fail the suite from a timer.
      const answer = await handle.client.withDeadline(Date.now() + 3000, () => handle.query(statusQuery));
      last = answer;
      if (predicate(answer)) return answer;
    } catch {
      // between runs (continue-as-new) a query may find no run to answer it, or the deadline passed
    }
    await sleep(25);
  }
  throw new Error(`never saw ${what} (last phase ${last?.phase})`);
}

/** The validator's message of a refused update (the client wraps it in WorkflowUpdateFailedError). */
export async function updateRefusal(update: Promise<unknown>): Promise<string> {
  try {
    await update;
  } catch (err) {
    if (!(err instanceof WorkflowUpdateFailedError)) throw err;
    return err.cause?.message ?? err.message;
  }
  throw new Error('the update was accepted');
}

/** The size of one run of a workflow's history. */
export interface RunSize {
  runId: string;
  events: number;
  /** The history as the server sends it (protobuf), in bytes. */
  bytes: number;
  /** The largest single event: bounded by its payloads (workflow input, an activity's input or result...). */
  largestEventBytes: number;
}

/**
 * Events and bytes of every run of a workflow, first to last, walking back from the latest run through each start
 * event's `continuedExecutionRunId` (the time-skipping server does not always close a run with its
 * continued-as-new event, so the chain is followed from its end).
 */
export async function historyRuns(client: Client, workflowId: string): Promise<RunSize[]> {
  const runs: RunSize[] = [];
  let runId: string | undefined = (await client.workflow.getHandle(workflowId).describe()).runId;
  while (runId) {
    const history: temporal.api.history.v1.IHistory = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events: temporal.api.history.v1.IHistoryEvent[] = history.events ?? [];
    runs.unshift({
      runId,
      events: events.length,
      bytes: temporal.api.history.v1.History.encode(history).finish().length,
      largestEventBytes: Math.max(
        0,
        ...events.map((e) => temporal.api.history.v1.HistoryEvent.encode(e).finish().length),
      ),
    });
    runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  return runs;
}
