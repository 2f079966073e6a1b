/**
 * Benchmark: orchestration overhead per activity (issue 13, item 1).
 *
 * Subject: Cutover deployments on the local platform and the local router (examples/local-stack.ts), the worker in
 * this process (createWorker), started with a CutoverClient on a private Temporal dev server (scripts/dev-server.ts):
 *   a. blue-green upgrade of an application of 20 modules × 3 replicas (after an untimed migration that sets up v1);
 *   b. rolling update of 60 replicas (after an untimed first deployment of v1), maxSurge/maxUnavailable 25 %.
 * Spec settings keep the mandatory waits small and known: health probes every 100 ms, 2 successes in a row (one
 * probe interval per health wait), rollback window 200 ms, automatic approval, no preview, no pauses, minReadySeconds
 * 0; drains end at once (no traffic: the local router counts 0 requests in flight).
 * "What the steps must take" (mandatory) = the timers (rollback window), as long as they took to fire on this server
 * (the dev server fires a 200 ms timer after about 1 s; the baseline's identical timer too) + one probe interval per
 * health wait + the run time (ActivityTaskStarted → Completed) of the activities that start or stop replicas: the
 * local platform's real process start-up and graceful stop, which no orchestrator can skip. Overhead = wall −
 * mandatory. Everything else an activity does (HTTP probes, rule writes with fsync and read-back, verification
 * requests through the router, state-file reads) counts as overhead, as do the workflow tasks between activities.
 *
 * Baseline, in the same run on the same server, with a worker of the same options in the same process: a bare
 * Temporal workflow (bench/workflows/noop.ts, its own bundle and task queue) running as many no-op activities as the
 * Cutover run scheduled (ActivityTaskScheduled events of its history), in the same shape: one step per workflow task
 * of the Cutover run that scheduled something (its activities and timers side by side), the steps one after the
 * other (both strategies turn out sequential: one activity at a time). Its per-activity figure is (wall − its timers)
 * / activities. Each Cutover run is followed by its baseline run.
 *
 * Reports per run: wall time, mandatory waits, overhead, activities, workflow tasks, overhead per activity, baseline
 * per activity and their ratio (goal ≤ 1.2×); medians over the repeats. Plus a per-activity-type breakdown from the
 * histories (median scheduled → completed, and how much of it was queueing: scheduled → started), and where the time
 * outside the mandatory waits goes (inside activities, or between them: workflow tasks).
 *
 * Run: `make build && node dist/bench/orchestration.js [--quick|--full]` (quick by default: 1 repeat; full: 5).
 * Knobs (env): BENCH_REPEATS (repeats per scenario), BENCH_BG_MODULES (20), BENCH_BG_REPLICAS (3),
 * BENCH_ROLLING_REPLICAS (60), BENCH_SEARCH_ATTRIBUTES=0 (deployments without search-attribute upserts),
 * BENCH_TIMELINE=1 (print every event of each measured history with its time).
 * Writes bench/results/orchestration.json, docs/img/orchestration-activity-types.png and orchestration-overhead.png.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { temporal } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { newLocalPlatformDriver } from '../activities/drivers/local';
import { CutoverClient } from '../client/client';
import { startLocalStack } from '../examples/local-stack';
import type { LocalStack } from '../examples/local-stack';
import { startDevServer } from '../scripts/dev-server';
import type { DevServer } from '../scripts/dev-server';
import { createWorker } from '../worker';
import type { DeploymentSpecInput } from '../workflows/spec';
import { plot } from './support/plot';
import { machine, percentile, printTable, round, writeResult } from './support/results';
import type { NoopActivities, NoopStep } from './workflows/noop';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const FULL = process.argv.includes('--full') || process.env.BENCH_MODE === 'full';
const REPEATS = Number(process.env.BENCH_REPEATS ?? (FULL ? 5 : 1));
const BG_MODULES = Number(process.env.BENCH_BG_MODULES ?? 20);
const BG_REPLICAS = Number(process.env.BENCH_BG_REPLICAS ?? 3);
const ROLLING_REPLICAS = Number(process.env.BENCH_ROLLING_REPLICAS ?? 60);
const BG_MODULE_NAMES = Array.from({ length: BG_MODULES }, (_, i) => `Module${String(i + 1).padStart(2, '0')}`);
const SEARCH_ATTRIBUTES = process.env.BENCH_SEARCH_ATTRIBUTES !== '0';

/** The mandatory-wait knobs of every spec here. */
const PROBE_INTERVAL_MS = 100;
const SUCCESS_THRESHOLD = 2;
const ROLLBACK_WINDOW_MS = 200;
const HEALTH = {
  interval: `${PROBE_INTERVAL_MS}ms`,
  timeout: '5s',
  successThreshold: SUCCESS_THRESHOLD,
  deadline: '5m',
};

/** Activities that start or stop replicas: their run time is the platform's (process start-up, graceful stop). */
const PLATFORM_ACTIVITIES = new Set([
  'scaleUpReplicaSet',
  'provisionReplicaSet',
  'launchReplicas',
  'launchToCount',
  'retireReplicaSet',
  'retireReplicas',
  'retireUnserved',
]);
/** Health waits: each needs SUCCESS_THRESHOLD probe rounds, so SUCCESS_THRESHOLD − 1 probe intervals. */
const HEALTH_ACTIVITIES = new Set([
  'awaitReplicaSetHealthy',
  'awaitHealthy',
  'awaitSetAvailable',
  'awaitReplicasHealthy',
]);

const CUTOVER_QUEUE = 'bench-orchestration-cutover';
const NOOP_QUEUE = 'bench-orchestration-noop';

interface ActivityRecord {
  type: string;
  scheduledToCompletedMs: number;
  scheduledToStartedMs: number;
  startedToCompletedMs: number;
  scheduledAt: number;
  completedAt: number;
}

interface HistoryFigures {
  events: number;
  activities: number;
  workflowTasks: number;
  /** What each workflow task that scheduled something scheduled (activities, timers), in order. */
  steps: NoopStep[];
  /** Configured durations of the timers that fired, and how long they took (started → fired). */
  timersMs: number;
  timersObservedMs: number;
  /** The first workflow task: scheduled → completed (the worker creates the workflow and runs it to its first await). */
  firstWorkflowTaskMs: number;
  activityRecords: ActivityRecord[];
  /** Start → close of the workflow, from its history. */
  historyWallMs: number;
  /** Time covered by at least one activity between scheduled and completed. */
  inActivitiesMs: number;
  /** Workflow tasks: scheduled → started (waiting for the worker's poll) and started → completed (the worker's turn). */
  workflowTaskQueuedMs: number[];
  workflowTaskRunMs: number[];
}

interface RunFigures {
  wallMs: number;
  mandatoryMs: number;
  platformMs: number;
  probeWaitsMs: number;
  /** The timers' configured durations, and how long they took to fire on this server (what is counted). */
  timersMs: number;
  timersObservedMs: number;
  overheadMs: number;
  activities: number;
  workflowTasks: number;
  events: number;
  overheadPerActivityMs: number;
  /** Overhead spent inside activities (their non-mandatory part) and between them (workflow tasks, the client). */
  inActivitiesOverheadMs: number;
  betweenActivitiesMs: number;
  maxParallel: number;
  /** Medians of the workflow tasks: scheduled → started, started → completed. */
  workflowTaskQueuedMs: number;
  workflowTaskRunMs: number;
  firstWorkflowTaskMs: number;
}

interface BaselineFigures {
  wallMs: number;
  activities: number;
  workflowTasks: number;
  events: number;
  perActivityMs: number;
  shape: string;
  timersObservedMs: number;
  workflowTaskQueuedMs: number;
  workflowTaskRunMs: number;
  firstWorkflowTaskMs: number;
}

interface ScenarioResult {
  name: string;
  description: string;
  runs: { cutover: RunFigures; baseline: BaselineFigures; byType: Record<string, ActivityRecord[]> }[];
  noopRecords: ActivityRecord[];
}

const ms = (ts: temporal.api.history.v1.IHistoryEvent['eventTime']): number =>
  ts ? Number(ts.seconds ?? 0) * 1000 + (ts.nanos ?? 0) / 1e6 : Number.NaN;

const durationMs = (d: { seconds?: unknown; nanos?: number | null } | null | undefined): number =>
  d ? Number(d.seconds ?? 0) * 1000 + (d.nanos ?? 0) / 1e6 : 0;

const median = (values: readonly number[]): number => percentile(values, 0.5);

/** Reads what a workflow's history says of its activities, workflow tasks and timers. */
function readHistory(events: HistoryEvent[]): HistoryFigures {
  const scheduled = new Map<string, { type: string; at: number; wft: string }>();
  const started = new Map<string, number>();
  const records: ActivityRecord[] = [];
  const steps = new Map<string, NoopStep>();
  const stepOf = (wft: string): NoopStep => {
    let step = steps.get(wft);
    if (!step) steps.set(wft, (step = { activities: 0, timersMs: [] }));
    return step;
  };
  const timers = new Map<string, { ms: number; at: number }>();
  let timersMs = 0;
  let timersObservedMs = 0;
  let firstWorkflowTaskMs = Number.NaN;
  let workflowTasks = 0;
  const wftScheduled = new Map<string, number>();
  const wftStarted = new Map<string, number>();
  const workflowTaskQueuedMs: number[] = [];
  const workflowTaskRunMs: number[] = [];
  for (const e of events) {
    const id = String(e.eventId);
    const at = ms(e.eventTime);
    if (e.workflowTaskScheduledEventAttributes) wftScheduled.set(id, at);
    const wst = e.workflowTaskStartedEventAttributes;
    if (wst) {
      wftStarted.set(id, at);
      workflowTaskQueuedMs.push(at - (wftScheduled.get(String(wst.scheduledEventId)) ?? at));
    }
    const wc = e.workflowTaskCompletedEventAttributes;
    if (wc) {
      workflowTasks++;
      if (workflowTasks === 1) firstWorkflowTaskMs = at - ms(events[0]?.eventTime);
      workflowTaskRunMs.push(at - (wftStarted.get(String(wc.startedEventId)) ?? at));
    }
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      const wft = String(s.workflowTaskCompletedEventId);
      scheduled.set(id, { type: s.activityType?.name ?? '?', at, wft });
      stepOf(wft).activities++;
    }
    const st = e.activityTaskStartedEventAttributes;
    if (st) started.set(String(st.scheduledEventId), at);
    const done =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes ??
      e.activityTaskCanceledEventAttributes;
    if (done) {
      const key = String(done.scheduledEventId);
      const sched = scheduled.get(key);
      const startedAt = started.get(key) ?? at;
      if (sched) {
        records.push({
          type: sched.type,
          scheduledToCompletedMs: at - sched.at,
          scheduledToStartedMs: startedAt - sched.at,
          startedToCompletedMs: at - startedAt,
          scheduledAt: sched.at,
          completedAt: at,
        });
      }
    }
    const ts = e.timerStartedEventAttributes;
    if (ts) {
      const configured = durationMs(ts.startToFireTimeout);
      timers.set(id, { ms: configured, at });
      stepOf(String(ts.workflowTaskCompletedEventId)).timersMs.push(configured);
    }
    const tf = e.timerFiredEventAttributes;
    const timer = tf ? timers.get(String(tf.startedEventId)) : undefined;
    if (timer) {
      timersMs += timer.ms;
      timersObservedMs += at - timer.at;
    }
  }
  const first = ms(events[0]?.eventTime);
  const last = ms(events.at(-1)?.eventTime);
  return {
    events: events.length,
    activities: scheduled.size,
    workflowTasks,
    steps: [...steps.values()],
    timersMs,
    timersObservedMs,
    firstWorkflowTaskMs,
    activityRecords: records,
    historyWallMs: last - first,
    inActivitiesMs: unionMs(records.map((r) => [r.scheduledAt, r.completedAt])),
    workflowTaskQueuedMs,
    workflowTaskRunMs,
  };
}

function unionMs(intervals: [number, number][]): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = Number.NEGATIVE_INFINITY;
  let startAt = 0;
  for (const [a, b] of sorted) {
    if (a > end) {
      if (end > Number.NEGATIVE_INFINITY) total += end - startAt;
      startAt = a;
      end = b;
    } else end = Math.max(end, b);
  }
  if (end > Number.NEGATIVE_INFINITY) total += end - startAt;
  return total;
}

async function historyOf(client: CutoverClient, workflowId: string, runId: string): Promise<HistoryEvent[]> {
  const history = await client.temporal.workflow.getHandle(workflowId, runId).fetchHistory();
  return history.events ?? [];
}

function figuresOf(wallMs: number, h: HistoryFigures): RunFigures {
  const platformMs = h.activityRecords
    .filter((r) => PLATFORM_ACTIVITIES.has(r.type))
    .reduce((sum, r) => sum + r.startedToCompletedMs, 0);
  const healthWaits = h.activityRecords.filter((r) => HEALTH_ACTIVITIES.has(r.type)).length;
  const probeWaitsMs = healthWaits * (SUCCESS_THRESHOLD - 1) * PROBE_INTERVAL_MS;
  // A timer is counted as long as it took to fire here (the dev server fires short timers late: see the report).
  const mandatoryMs = platformMs + probeWaitsMs + h.timersObservedMs;
  const overheadMs = wallMs - mandatoryMs;
  const inActivitiesOverheadMs = h.inActivitiesMs - platformMs - probeWaitsMs;
  return {
    wallMs: round(wallMs),
    mandatoryMs: round(mandatoryMs),
    platformMs: round(platformMs),
    probeWaitsMs,
    timersMs: round(h.timersMs),
    timersObservedMs: round(h.timersObservedMs),
    overheadMs: round(overheadMs),
    activities: h.activities,
    workflowTasks: h.workflowTasks,
    events: h.events,
    overheadPerActivityMs: round(overheadMs / h.activities, 2),
    inActivitiesOverheadMs: round(inActivitiesOverheadMs),
    betweenActivitiesMs: round(overheadMs - inActivitiesOverheadMs),
    maxParallel: Math.max(...h.steps.map((st) => st.activities)),
    workflowTaskQueuedMs: round(median(h.workflowTaskQueuedMs)),
    workflowTaskRunMs: round(median(h.workflowTaskRunMs)),
    firstWorkflowTaskMs: round(h.firstWorkflowTaskMs),
  };
}

function byType(records: ActivityRecord[]): Record<string, ActivityRecord[]> {
  const out: Record<string, ActivityRecord[]> = {};
  for (const r of records) (out[r.type] ??= []).push(r);
  return out;
}

interface Bench {
  client: CutoverClient;
  stack: LocalStack;
  platformDir: string;
}

function blueGreenSpec(b: Bench, version: string): DeploymentSpecInput {
  return {
    application: 'bgbench',
    environment: 'bench',
    version,
    modules: BG_MODULE_NAMES,
    replicas: BG_REPLICAS,
    platform: { kind: 'local', stateDir: b.platformDir },
    router: { kind: 'local', adminUrl: b.stack.adminUrl, publicUrl: b.stack.publicUrl },
    strategy: {
      type: 'blue-green',
      rollbackWindow: `${ROLLBACK_WINDOW_MS}ms`,
      approval: { mode: 'automatic' },
      preview: { enabled: false },
    },
    health: HEALTH,
  };
}

function rollingSpec(b: Bench, version: string): DeploymentSpecInput {
  return {
    application: 'rollbench',
    environment: 'bench',
    version,
    modules: ['Fleet'],
    replicas: ROLLING_REPLICAS,
    platform: { kind: 'local', stateDir: b.platformDir },
    router: { kind: 'local', adminUrl: b.stack.adminUrl, publicUrl: b.stack.publicUrl },
    strategy: { type: 'rolling', maxSurge: '25%', maxUnavailable: '25%', drainTimeout: '5s', minReadySeconds: 0 },
    health: HEALTH,
  };
}

/** Deploys and waits for the end; the wall time is the client's, from the start call to the result. */
async function deploy(b: Bench, spec: DeploymentSpecInput): Promise<{ wallMs: number; history: HistoryFigures }> {
  const t0 = performance.now();
  const started = await b.client.deploy(spec, { searchAttributes: SEARCH_ATTRIBUTES });
  const result = await b.client.result(started.deploymentId);
  const wallMs = performance.now() - t0;
  if (result.outcome !== 'succeeded') {
    throw new Error(`${started.deploymentId} ended ${result.outcome}: ${result.reason ?? ''}`);
  }
  const events = await historyOf(b.client, started.deploymentId, started.runId);
  if (process.env.BENCH_TIMELINE === '1') printTimeline(started.deploymentId, events, t0);
  if (events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes) {
    throw new Error(`${started.deploymentId} continued as new: this benchmark reads one history run`);
  }
  return { wallMs, history: readHistory(events) };
}

/** BENCH_TIMELINE=1: every event of each measured history, with its time since the client's start call. */
function printTimeline(id: string, events: HistoryEvent[], t0: number): void {
  const origin = performance.timeOrigin + t0;
  process.stdout.write(`timeline of ${id} (ms since the client's start call):\n`);
  for (const e of events) {
    const kind = Object.keys(e).find((k) => k.endsWith('EventAttributes') && e[k as keyof HistoryEvent]) ?? '?';
    const attrs = e.activityTaskScheduledEventAttributes;
    const detail = attrs ? ` ${attrs.activityType?.name ?? ''}` : '';
    process.stdout.write(
      `  ${round(ms(e.eventTime) - origin)
        .toFixed(1)
        .padStart(8)}  ${kind.replace('EventAttributes', '')}${detail}\n`,
    );
  }
}

let baselineRuns = 0;

async function baseline(b: Bench, steps: NoopStep[]): Promise<{ wallMs: number; history: HistoryFigures }> {
  const workflowId = `bench-noop-${process.pid}-${++baselineRuns}`;
  const t0 = performance.now();
  const handle = await b.client.temporal.workflow.start('noopActivitiesWorkflow', {
    taskQueue: NOOP_QUEUE,
    workflowId,
    args: [steps],
  });
  await handle.result();
  const wallMs = performance.now() - t0;
  return { wallMs, history: readHistory(await historyOf(b.client, workflowId, handle.firstExecutionRunId)) };
}

function shapeOf(steps: NoopStep[]): string {
  const parallel = steps.filter((st) => st.activities + st.timersMs.length > 1);
  const timers = steps.reduce((n, st) => n + st.timersMs.length, 0);
  const activities = steps.reduce((n, st) => n + st.activities, 0);
  const what = `${activities} activities${timers ? ` + ${timers} timer${timers > 1 ? 's' : ''}` : ''}`;
  return parallel.length === 0 ? `${what}, one at a time` : `${what}, in ${steps.length} steps`;
}

async function scenario(
  b: Bench,
  name: string,
  description: string,
  spec: (version: string) => DeploymentSpecInput,
): Promise<ScenarioResult> {
  process.stdout.write(`${name}: setting up v1 (untimed)...\n`);
  await deploy(b, spec('1.0.0'));
  const result: ScenarioResult = { name, description, runs: [], noopRecords: [] };
  for (let i = 0; i < REPEATS; i++) {
    const version = `${i + 2}.0.0`;
    const run = await deploy(b, spec(version));
    const base = await baseline(b, run.history.steps);
    const cutover = figuresOf(run.wallMs, run.history);
    const baselineFigures: BaselineFigures = {
      wallMs: round(base.wallMs),
      activities: base.history.activities,
      workflowTasks: base.history.workflowTasks,
      events: base.history.events,
      // The baseline runs the same timers: they are not its activities' cost either.
      perActivityMs: round((base.wallMs - base.history.timersObservedMs) / base.history.activities, 2),
      shape: shapeOf(run.history.steps),
      timersObservedMs: round(base.history.timersObservedMs),
      firstWorkflowTaskMs: round(base.history.firstWorkflowTaskMs),
      workflowTaskQueuedMs: round(median(base.history.workflowTaskQueuedMs)),
      workflowTaskRunMs: round(median(base.history.workflowTaskRunMs)),
    };
    result.runs.push({ cutover, baseline: baselineFigures, byType: byType(run.history.activityRecords) });
    result.noopRecords.push(...base.history.activityRecords);
    process.stdout.write(
      `${name} #${i + 1} (${version}): ${cutover.wallMs} ms, mandatory ${cutover.mandatoryMs} ms, ` +
        `${cutover.activities} activities, ${cutover.overheadPerActivityMs} ms overhead each; ` +
        `baseline ${baselineFigures.perActivityMs} ms each\n`,
    );
  }
  return result;
}

function summaryRow(s: ScenarioResult) {
  const m = (f: (r: ScenarioResult['runs'][number]) => number) => median(s.runs.map(f));
  const perActivity = m((r) => r.cutover.overheadPerActivityMs);
  const basePerActivity = m((r) => r.baseline.perActivityMs);
  return {
    scenario: s.name,
    wallMs: m((r) => r.cutover.wallMs),
    mandatoryMs: m((r) => r.cutover.mandatoryMs),
    platformMs: m((r) => r.cutover.platformMs),
    waitsMs: m((r) => r.cutover.probeWaitsMs + r.cutover.timersObservedMs),
    timersMs: m((r) => r.cutover.timersMs),
    timersObservedMs: m((r) => r.cutover.timersObservedMs),
    baselineTimersObservedMs: m((r) => r.baseline.timersObservedMs),
    firstWorkflowTaskMs: m((r) => r.cutover.firstWorkflowTaskMs),
    baselineFirstWorkflowTaskMs: m((r) => r.baseline.firstWorkflowTaskMs),
    overheadMs: m((r) => r.cutover.overheadMs),
    inActivitiesOverheadMs: m((r) => r.cutover.inActivitiesOverheadMs),
    betweenActivitiesMs: m((r) => r.cutover.betweenActivitiesMs),
    activities: m((r) => r.cutover.activities),
    workflowTasks: m((r) => r.cutover.workflowTasks),
    events: m((r) => r.cutover.events),
    overheadPerActivityMs: perActivity,
    baselineWallMs: m((r) => r.baseline.wallMs),
    baselineWorkflowTasks: m((r) => r.baseline.workflowTasks),
    baselinePerActivityMs: basePerActivity,
    ratio: round(perActivity / basePerActivity, 2),
    shape: s.runs[0]?.baseline.shape ?? '',
    workflowTaskQueuedMs: m((r) => r.cutover.workflowTaskQueuedMs),
    workflowTaskRunMs: m((r) => r.cutover.workflowTaskRunMs),
    baselineWorkflowTaskQueuedMs: m((r) => r.baseline.workflowTaskQueuedMs),
    baselineWorkflowTaskRunMs: m((r) => r.baseline.workflowTaskRunMs),
  };
}

function typeRows(s: ScenarioResult) {
  const all: Record<string, ActivityRecord[]> = {};
  for (const run of s.runs) for (const [type, rs] of Object.entries(run.byType)) (all[type] ??= []).push(...rs);
  return Object.entries(all)
    .map(([type, rs]) => ({
      type,
      perRun: round(rs.length / s.runs.length, 1),
      medianMs: round(median(rs.map((r) => r.scheduledToCompletedMs))),
      queuedMs: round(median(rs.map((r) => r.scheduledToStartedMs))),
      runMs: round(median(rs.map((r) => r.startedToCompletedMs))),
      mandatory: PLATFORM_ACTIVITIES.has(type)
        ? 'run time (platform)'
        : HEALTH_ACTIVITIES.has(type)
          ? `${(SUCCESS_THRESHOLD - 1) * PROBE_INTERVAL_MS} ms (probe interval)`
          : '-',
    }))
    .sort((a, b) => b.medianMs * b.perRun - a.medianMs * a.perRun);
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-bench-orch-'));
  const platformDir = path.join(dir, 'platform');
  const platform = newLocalPlatformDriver({ stateDir: platformDir });
  let server: DevServer | undefined;
  let stack: LocalStack | undefined;
  let client: CutoverClient | undefined;
  let closeCutover: (() => Promise<void>) | undefined;
  let noopConnection: NativeConnection | undefined;
  let cleaned: Promise<void> | undefined;
  const workers: Worker[] = [];
  const cleanup = () =>
    (cleaned ??= (async () => {
      // Workers first: an activity still launching replicas (Ctrl-C mid-run) is cancelled and has recorded them by the
      // time its worker stops, so the retire below finds them.
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      const deadline = Date.now() + 20_000;
      while (
        workers.some((w) => !['STOPPED', 'FAILED', 'INITIALIZED'].includes(w.getState())) &&
        Date.now() < deadline
      ) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await client?.close().catch(() => undefined);
      await closeCutover?.().catch(() => undefined);
      await noopConnection?.close().catch(() => undefined);
      for (const app of ['bgbench', 'rollbench']) {
        for (const set of await platform.listReplicaSets(app).catch(() => [])) {
          await platform.retireReplicaSet(set.name).catch(() => undefined);
        }
      }
      await stack?.stop().catch(() => undefined);
      await server?.stop().catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: cleaning up\n`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const benchStart = performance.now();
    server = await startDevServer();
    const modules = [...BG_MODULE_NAMES, 'Fleet'];
    stack = await startLocalStack({ stateDir: path.join(dir, 'stack'), modules, application: 'bench' });
    const temporalConfig = { address: server.address, taskQueue: CUTOVER_QUEUE };
    // Both workers get the same options (the SDK's defaults, plus Cutover's heartbeat throttle).
    const sharedOptions = { maxHeartbeatThrottleInterval: '1 second' } as const;
    const cutoverWorker = await createWorker({ temporal: temporalConfig, options: { ...sharedOptions } });
    closeCutover = cutoverWorker.close;
    noopConnection = await NativeConnection.connect({ address: server.address });
    workers.push(cutoverWorker.worker);
    const noopActivities: NoopActivities = { noop: () => Promise.resolve() };
    const noopWorker = await Worker.create({
      connection: noopConnection,
      taskQueue: NOOP_QUEUE,
      workflowsPath: require.resolve('./workflows/noop'),
      activities: noopActivities,
      ...sharedOptions,
    });
    workers.push(noopWorker);
    client = await CutoverClient.connect(temporalConfig);
    const b: Bench = { client, stack, platformDir };
    const m = machine();
    process.stdout.write(
      `${FULL ? 'full' : 'quick'} mode: ${REPEATS} repeat(s); ${m.cpus} × ${m.cpuModel}; load ${m.loadAverage}; ` +
        `search attributes ${SEARCH_ATTRIBUTES ? 'on' : 'off'}\n`,
    );

    const scenarios = await cutoverWorker.worker.runUntil(() =>
      noopWorker.runUntil(async () => [
        await scenario(
          b,
          `blue-green ${BG_MODULES}×${BG_REPLICAS}`,
          `blue-green upgrade, ${BG_MODULES} modules × ${BG_REPLICAS} replicas`,
          (v) => blueGreenSpec(b, v),
        ),
        await scenario(b, `rolling ${ROLLING_REPLICAS}`, `rolling update of ${ROLLING_REPLICAS} replicas`, (v) =>
          rollingSpec(b, v),
        ),
      ]),
    );
    report(scenarios);
    const rows = scenarios.map(summaryRow);
    writeResult('orchestration', `node dist/bench/orchestration.js ${FULL ? '--full' : '--quick'}`, {
      mode: FULL ? 'full' : 'quick',
      repeats: REPEATS,
      searchAttributes: SEARCH_ATTRIBUTES,
      settings: {
        probeIntervalMs: PROBE_INTERVAL_MS,
        successThreshold: SUCCESS_THRESHOLD,
        rollbackWindowMs: ROLLBACK_WINDOW_MS,
        blueGreen: { modules: BG_MODULES, replicas: BG_REPLICAS },
        rolling: { replicas: ROLLING_REPLICAS, maxSurge: '25%', maxUnavailable: '25%' },
      },
      summary: rows,
      activityTypes: Object.fromEntries(scenarios.map((s) => [s.name, typeRows(s)])),
      noopMedianMs: Object.fromEntries(
        scenarios.map((s) => [s.name, round(median(s.noopRecords.map((r) => r.scheduledToCompletedMs)))]),
      ),
      runs: Object.fromEntries(
        scenarios.map((s) => [s.name, s.runs.map((r) => ({ cutover: r.cutover, baseline: r.baseline }))]),
      ),
      totalSeconds: round((performance.now() - benchStart) / 1000),
    });
    await plots(scenarios);
    process.stdout.write(`done in ${round((performance.now() - benchStart) / 1000)} s\n`);
  } finally {
    await cleanup();
  }
}

function report(scenarios: ScenarioResult[]): void {
  const rows = scenarios.map(summaryRow);
  process.stdout.write(`\nOrchestration overhead per activity (medians of ${REPEATS} run(s); ms)\n\n`);
  printTable(
    [
      'run',
      'wall',
      'mandatory (platform + waits)',
      'overhead',
      'activities',
      'workflow tasks',
      'overhead / activity',
      'baseline / activity',
      'ratio (goal ≤ 1.2)',
    ],
    rows.map((r) => [
      r.scenario,
      r.wallMs,
      `${r.mandatoryMs} (${r.platformMs} + ${r.waitsMs})`,
      r.overheadMs,
      r.activities,
      `${r.workflowTasks} (baseline ${r.baselineWorkflowTasks})`,
      r.overheadPerActivityMs,
      r.baselinePerActivityMs,
      `${r.ratio.toFixed(2)}x`,
    ]),
  );
  process.stdout.write(
    '\nWhere the overhead goes (ms): inside activities (their work beyond the mandatory part) or between them\n\n',
  );
  printTable(
    [
      'run',
      'overhead',
      'inside activities',
      'between activities',
      'first workflow task',
      'workflow task queued / run (median)',
      'timers: configured / fired after',
      'baseline: wall',
      'baseline: first workflow task',
      'baseline: workflow task queued / run',
      'baseline: timers fired after',
      'baseline shape',
    ],
    rows.map((r) => [
      r.scenario,
      r.overheadMs,
      r.inActivitiesOverheadMs,
      r.betweenActivitiesMs,
      r.firstWorkflowTaskMs,
      `${r.workflowTaskQueuedMs} / ${r.workflowTaskRunMs}`,
      `${r.timersMs} / ${r.timersObservedMs}`,
      r.baselineWallMs,
      r.baselineFirstWorkflowTaskMs,
      `${r.baselineWorkflowTaskQueuedMs} / ${r.baselineWorkflowTaskRunMs}`,
      r.baselineTimersObservedMs,
      r.shape,
    ]),
  );
  for (const s of scenarios) {
    const noop = s.noopRecords.map((r) => r.scheduledToCompletedMs);
    process.stdout.write(
      `\n${s.description}: activity types (median ms, scheduled → completed; of which queued = scheduled → started, ` +
        `run = started → completed). A no-op activity of the baseline: ${round(median(noop))} ms\n\n`,
    );
    printTable(
      ['activity type', 'per run', 'median', 'queued', 'run', 'mandatory part'],
      typeRows(s).map((t) => [t.type, t.perRun, t.medianMs, t.queuedMs, t.runMs, t.mandatory]),
    );
  }
}

async function plots(scenarios: ScenarioResult[]): Promise<void> {
  // Per activity type, its median split into what the step must take (platform run time, probe interval) and the rest.
  const values = scenarios.flatMap((s) => [
    ...typeRows(s).flatMap((t) => {
      const mandatory = PLATFORM_ACTIVITIES.has(t.type)
        ? t.runMs
        : HEALTH_ACTIVITIES.has(t.type)
          ? (SUCCESS_THRESHOLD - 1) * PROBE_INTERVAL_MS
          : 0;
      return [
        { scenario: s.name, type: t.type, part: 'mandatory', ms: round(Math.min(mandatory, t.medianMs)) },
        { scenario: s.name, type: t.type, part: 'the rest', ms: round(Math.max(0, t.medianMs - mandatory)) },
      ];
    }),
    {
      scenario: s.name,
      type: '(baseline no-op)',
      part: 'the rest',
      ms: round(median(s.noopRecords.map((r) => r.scheduledToCompletedMs))),
    },
  ]);
  await plot('orchestration-activity-types', {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Median duration per activity type (scheduled → completed): mandatory part and the rest',
    data: { values },
    facet: { row: { field: 'scenario', type: 'nominal', title: null } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 520,
      mark: { type: 'bar' },
      encoding: {
        y: { field: 'type', type: 'nominal', sort: '-x', title: null },
        x: { field: 'ms', type: 'quantitative', stack: 'zero', title: 'ms' },
        color: {
          field: 'part',
          type: 'nominal',
          title: null,
          scale: { domain: ['mandatory', 'the rest'], range: ['#bab0ac', '#4c78a8'] },
        },
      },
    },
  });
  const rows = scenarios.map(summaryRow);
  await plot('orchestration-overhead', {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Overhead per activity (total − mandatory, / activities) against a bare workflow of no-ops',
    data: {
      values: rows.flatMap((r) => [
        { scenario: r.scenario, run: 'Cutover', ms: r.overheadPerActivityMs },
        { scenario: r.scenario, run: 'no-op baseline', ms: r.baselinePerActivityMs },
      ]),
    },
    width: 360,
    height: 220,
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'scenario', type: 'nominal', title: null, axis: { labelAngle: 0 } },
      xOffset: { field: 'run' },
      y: { field: 'ms', type: 'quantitative', title: 'ms per activity' },
      color: { field: 'run', type: 'nominal', title: null },
    },
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
