/**
 * Cutover's own metrics in the worker (prom-client, on a registry of its own; docs/operations.md lists them):
 *
 *   cutover_deployments_started_total{strategy}                  counter   (sink, from the workflow interceptor)
 *   cutover_deployments_finished_total{strategy,outcome}         counter   outcome succeeded|rolled-back|failed|cancelled
 *   cutover_rollbacks_total{strategy}                            counter   deployments that ended rolled back
 *   cutover_step_duration_seconds{activity,outcome}              histogram every activity (a runbook step), ok|error
 *   cutover_rule_switches_total{activity,outcome}                counter   switchTraffic / restoreRules calls
 *   cutover_activities_in_flight                                 gauge     activities running in this worker now
 *   cutover_approvals_waiting                                    gauge     deployments waiting at an approval gate
 *   cutover_approval_oldest_wait_seconds                         gauge     how long the oldest of them has waited
 *   cutover_approvals_poll_errors_total                          counter   visibility/query polls that failed
 *
 * Nothing here runs in workflow code: workflows are replayed, so they only call a sink (workflows/metrics-interceptor.ts),
 * which the worker skips during replay; activities are measured by an activity interceptor; approvals are read from
 * visibility (the CutoverPhase search attribute) and each waiting deployment's status query, on a timer.
 */
import type { Client } from '@temporalio/client';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DeploymentStatus } from '../workflows/types';
import type { DeploymentMetricsSinks } from '../workflows/metrics-interceptor';

/** The activities that change live traffic rules (a switch forward, or a restore on rollback). */
export const RULE_SWITCH_ACTIVITIES: ReadonlySet<string> = new Set(['switchTraffic', 'restoreRules']);

/** Runbook steps last from milliseconds (a rule switch) to many minutes (waiting for replicas to become healthy). */
export const STEP_DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/** The visibility query of deployments at a gate (the tracker upserts CutoverPhase at every phase change). */
export const AWAITING_APPROVAL_QUERY = `CutoverPhase = 'AwaitingApproval' AND ExecutionStatus = 'Running'`;

export interface WorkerMetrics {
  registry: Registry;
  /** For `Worker.create({ sinks })`. */
  sinks: InjectedSinks<DeploymentMetricsSinks>;
  /** For `Worker.create({ interceptors: { activity: [...] } })`. */
  activityInterceptor: ActivityInterceptorsFactory;
  /** Number of activities running now (the graceful shutdown waits for them). */
  inFlight(): number;
  /** Reads the approvals now (also done by `startApprovalPolling`). */
  pollApprovals(client: Client): Promise<void>;
  /** Polls the approvals every `intervalMs` until the returned function is called. */
  startApprovalPolling(client: Client, intervalMs: number, onError?: (err: unknown) => void): () => void;
}

const WAITING_EVENT = /^waiting for approval\b/;

/** When the deployment's gate opened: the tracker's "waiting for approval" event (its newest), if any. */
export function gateOpenedAt(status: Pick<DeploymentStatus, 'approval' | 'events'>): number | undefined {
  if (!status.approval.pending) return undefined;
  for (let i = status.events.length - 1; i >= 0; i--) {
    const event = status.events[i];
    if (event && WAITING_EVENT.test(event.message)) return Date.parse(event.at);
  }
  return undefined;
}

export function createWorkerMetrics(options: { defaultMetrics?: boolean } = {}): WorkerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const started = new Counter({
    name: 'cutover_deployments_started_total',
    help: 'Deployments started, by strategy (counted once per deployment, by the worker that ran its first task live)',
    labelNames: ['strategy'] as const,
    registers: [registry],
  });
  const finished = new Counter({
    name: 'cutover_deployments_finished_total',
    help: 'Deployments finished, by strategy and outcome (succeeded, rolled-back, failed, cancelled)',
    labelNames: ['strategy', 'outcome'] as const,
    registers: [registry],
  });
  const rollbacks = new Counter({
    name: 'cutover_rollbacks_total',
    help: 'Deployments that ended rolled back, by strategy',
    labelNames: ['strategy'] as const,
    registers: [registry],
  });
  const steps = new Histogram({
    name: 'cutover_step_duration_seconds',
    help: 'Duration of each activity attempt (a runbook step), by activity type and outcome (ok, error)',
    labelNames: ['activity', 'outcome'] as const,
    buckets: STEP_DURATION_BUCKETS,
    registers: [registry],
  });
  const switches = new Counter({
    name: 'cutover_rule_switches_total',
    help: 'Traffic rule changes (switchTraffic forward, restoreRules on rollback), by activity and outcome (ok, error)',
    labelNames: ['activity', 'outcome'] as const,
    registers: [registry],
  });
  let running = 0;
  new Gauge({
    name: 'cutover_activities_in_flight',
    help: 'Activities running in this worker now',
    registers: [registry],
    collect() {
      this.set(running);
    },
  });
  const waiting = new Gauge({
    name: 'cutover_approvals_waiting',
    help: 'Deployments waiting at an approval gate (visibility: CutoverPhase = AwaitingApproval, status pending)',
    registers: [registry],
  });
  const oldest = new Gauge({
    name: 'cutover_approval_oldest_wait_seconds',
    help: 'How long the longest-waiting deployment at an approval gate has waited (0 when none waits)',
    registers: [registry],
  });
  const pollErrors = new Counter({
    name: 'cutover_approvals_poll_errors_total',
    help: 'Approval polls (visibility list or status query) that failed',
    registers: [registry],
  });

  const sinks: InjectedSinks<DeploymentMetricsSinks> = {
    cutoverMetrics: {
      deploymentStarted: { fn: (_info, strategy) => started.inc({ strategy }), callDuringReplay: false },
      deploymentFinished: {
        fn: (_info, strategy, outcome) => {
          finished.inc({ strategy, outcome });
          if (outcome === 'rolled-back') rollbacks.inc({ strategy });
        },
        callDuringReplay: false,
      },
    },
  };

  const activityInterceptor: ActivityInterceptorsFactory = (ctx) => ({
    inbound: {
      async execute(input, next) {
        const activity = ctx.info.activityType;
        const stop = steps.startTimer({ activity });
        running++;
        let outcome = 'error';
        try {
          const result = await next(input);
          outcome = 'ok';
          return result;
        } finally {
          running--;
          stop({ outcome });
          if (RULE_SWITCH_ACTIVITIES.has(activity)) switches.inc({ activity, outcome });
        }
      },
    },
  });

  /** First time this worker saw each waiting deployment: the fallback when its status has no gate event. */
  const firstSeen = new Map<string, number>();

  async function pollApprovals(client: Client): Promise<void> {
    const now = Date.now();
    const seen = new Set<string>();
    let count = 0;
    let longest = 0;
    for await (const execution of client.workflow.list({ query: AWAITING_APPROVAL_QUERY })) {
      const id = execution.workflowId;
      let openedAt: number | undefined;
      try {
        const status = await client.workflow.getHandle(id, execution.runId).query<DeploymentStatus>('status');
        if (!status.approval.pending) continue; // automatic mode passes the gate at once
        openedAt = gateOpenedAt(status);
      } catch {
        pollErrors.inc(); // counted as waiting all the same: visibility says it is at the gate
      }
      seen.add(id);
      if (!firstSeen.has(id)) firstSeen.set(id, now);
      count++;
      longest = Math.max(longest, (now - (openedAt ?? firstSeen.get(id) ?? now)) / 1000);
    }
    for (const id of firstSeen.keys()) if (!seen.has(id)) firstSeen.delete(id);
    waiting.set(count);
    oldest.set(longest);
  }

  return {
    registry,
    sinks,
    activityInterceptor,
    inFlight: () => running,
    pollApprovals,
    startApprovalPolling(client, intervalMs, onError) {
      let stopped = false;
      let timer: NodeJS.Timeout | undefined;
      const tick = async () => {
        try {
          await pollApprovals(client);
        } catch (err) {
          pollErrors.inc();
          onError?.(err);
        }
        if (!stopped) timer = setTimeout(() => void tick(), intervalMs).unref();
      };
      void tick();
      return () => {
        stopped = true;
        clearTimeout(timer);
      };
    },
  };
}
