/**
 * Where a deployment's time went, read from its workflow history, on the load's clock: one span per activity (from
 * scheduled to closed, by the server's event times) with what kind of work it is — a rule switch, another router
 * write, replica start-up, verification traffic, retirement — so a request of the "during" phase can be attributed to
 * the work that was going on when it started (bench/switch-traffic.ts). Also: the machine's CPU busy share over time,
 * from /proc/stat, to show start-up contention beside the latency.
 */
import * as fs from 'node:fs';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { RequestResult } from '../../examples/load';
import { percentile, round } from './results';

/** In the order a request is attributed: the first kind whose (padded) span holds its start wins. */
export const SPAN_KINDS = ['switch', 'router write', 'start-up', 'verification', 'retirement', 'other'] as const;
export type SpanKind = (typeof SPAN_KINDS)[number];

const KIND_OF: Record<string, SpanKind> = {
  switchTraffic: 'switch',
  restoreRules: 'switch',
  registerTargets: 'switch',
  deregisterTargets: 'switch',
  registerSetTargets: 'switch',
  deregisterSetTargets: 'switch',
  publishBackend: 'router write',
  publishReplicaSet: 'router write',
  publishSets: 'router write',
  removeBackend: 'router write',
  setPreview: 'router write',
  removePreview: 'router write',
  provisionReplicaSet: 'start-up',
  scaleUpReplicaSet: 'start-up',
  ensureRollingReplicaSet: 'start-up',
  launchReplicas: 'start-up',
  launchToCount: 'start-up',
  awaitHealthy: 'start-up',
  awaitReplicaSetHealthy: 'start-up',
  awaitReplicasHealthy: 'start-up',
  awaitSetAvailable: 'start-up',
  verifyTraffic: 'verification',
  measureSplit: 'verification',
  drainTargets: 'retirement',
  drainReplicaSets: 'retirement',
  drainUnserved: 'retirement',
  retireReplicaSet: 'retirement',
  retireReplicas: 'retirement',
  retireUnserved: 'retirement',
};

export interface ActivitySpan {
  type: string;
  kind: SpanKind;
  /** ms on the load's clock (RequestResult.startedMs). */
  startMs: number;
  endMs: number;
  /** For switches: what moved ("→green", "25%", "+1", "−1"). */
  label?: string;
}

type Timestamp = { seconds?: unknown; nanos?: number | null } | null | undefined;
const millis = (t: Timestamp): number => (t ? Number(t.seconds ?? 0) * 1000 + Math.round((t.nanos ?? 0) / 1e6) : 0);

function switchLabel(type: string, input: unknown): string {
  const i = (input ?? {}) as { backends?: { backend: string; weight: number }[]; targets?: unknown[] };
  // registerTargets names the targets; registerSetTargets (the bounded path) says how many of each set serve.
  if (type.startsWith('register')) return i.targets ? `+${i.targets.length}` : '+';
  if (type.startsWith('deregister')) return i.targets ? `−${i.targets.length}` : '−';
  if (type === 'restoreRules') return 'restore';
  const backends = i.backends ?? [];
  if (backends.length > 1) return `${backends[backends.length - 1]?.weight ?? '?'}%`;
  return `→${backends[0]?.backend.split('-').pop() ?? '?'}`;
}

/**
 * Every activity of the workflow's (single) run as a span on the load's clock: `originWallMs` is the wall-clock time
 * (Date.now()) at which the load's clock read 0.
 */
export async function activitySpans(client: Client, workflowId: string, originWallMs: number): Promise<ActivitySpan[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const open = new Map<string, { type: string; at: number; input: unknown }>();
  const spans: ActivitySpan[] = [];
  for (const e of history.events ?? []) {
    const at = millis(e.eventTime) - originWallMs;
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const payload = scheduled.input?.payloads?.[0];
      open.set(String(e.eventId), {
        type: scheduled.activityType?.name ?? '?',
        at,
        input: payload ? defaultPayloadConverter.fromPayload(payload) : undefined,
      });
      continue;
    }
    const closedId =
      e.activityTaskCompletedEventAttributes?.scheduledEventId ??
      e.activityTaskFailedEventAttributes?.scheduledEventId ??
      e.activityTaskTimedOutEventAttributes?.scheduledEventId ??
      e.activityTaskCanceledEventAttributes?.scheduledEventId;
    const started = closedId !== undefined && closedId !== null ? open.get(String(closedId)) : undefined;
    if (!started) continue;
    const kind = KIND_OF[started.type] ?? 'other';
    spans.push({
      type: started.type,
      kind,
      startMs: started.at,
      endMs: at,
      ...(kind === 'switch' ? { label: switchLabel(started.type, started.input) } : {}),
    });
  }
  return spans;
}

/**
 * What was going on when a request started at `t`: the activity running then (SPAN_KINDS order if several were), or
 * — between activities — a switch that ended less than `afterSwitchMs` before (its effects: new connections, a cold
 * backend), else "other" (workflow tasks, pauses). A request started up to `beforeMs` before an activity counts in it.
 */
export function attribute(
  t: number,
  spans: readonly ActivitySpan[],
  pad: { beforeMs: number; afterSwitchMs: number },
): SpanKind {
  const running = spans.filter((s) => t >= s.startMs - pad.beforeMs && t <= s.endMs);
  for (const kind of SPAN_KINDS) if (running.some((s) => s.kind === kind)) return kind;
  const afterSwitch = spans.some((s) => s.kind === 'switch' && t > s.endMs && t <= s.endMs + pad.afterSwitchMs);
  return afterSwitch ? 'switch' : 'other';
}

/** Whether `t` is in one of the windows, each widened by `beforeMs` before and `afterMs` after. */
export function inWindow(
  t: number,
  windows: readonly { startMs: number; endMs: number }[],
  pad: { beforeMs: number; afterMs: number },
): boolean {
  return windows.some((w) => t >= w.startMs - pad.beforeMs && t <= w.endMs + pad.afterMs);
}

export interface LatencyFigures {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

/** Latency (ms) of the ok GETs and POSTs among `requests` (the slow ones last seconds by design: left out). */
export function latencyOf(requests: readonly RequestResult[]): LatencyFigures | null {
  const ms = requests
    .filter((r) => r.kind !== 'slow' && r.version !== undefined && r.finishedMs !== undefined)
    .map((r) => (r.finishedMs as number) - r.startedMs);
  if (ms.length === 0) return null;
  return {
    n: ms.length,
    p50: round(percentile(ms, 0.5)),
    p99: round(percentile(ms, 0.99)),
    max: round(percentile(ms, 1)),
  };
}

/** Samples the whole machine's CPU busy share (all cores, 0..100 %) every `everyMs`, on the caller's clock. */
export function sampleMachineCpu(now: () => number, everyMs = 250): { stop(): { atMs: number; busyPct: number }[] } {
  const read = (): { busy: number; total: number } => {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  };
  const samples: { atMs: number; busyPct: number }[] = [];
  let last = read();
  const timer = setInterval(() => {
    const cur = read();
    const dt = cur.total - last.total;
    if (dt > 0) samples.push({ atMs: now(), busyPct: round((100 * (cur.busy - last.busy)) / dt) });
    last = cur;
  }, everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      return samples;
    },
  };
}
