/**
 * Graceful shutdown: a worker process (dist/worker/main.js) gets SIGTERM while a deployment's activity is in flight
 * (green becomes healthy only seconds after it starts, so the worker is probing it). The worker stops polling, lets
 * the activity finish within CUTOVER_SHUTDOWN_GRACE, and exits 0; the activity's result is in history (completed on
 * its first attempt, not cancelled, failed or timed out), and another worker finishes the deployment.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { temporal } from '@temporalio/proto';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';

const EventType = temporal.api.enums.v1.EventType;

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Waits until the green probe is running on a worker (a pending activity in state STARTED). */
async function probing(f: Fixture, id: string): Promise<void> {
  const until = Date.now() + 30_000;
  for (;;) {
    const { raw } = await f.client.temporal.workflow.getHandle(id).describe();
    const started = (raw.pendingActivities ?? []).some(
      (a) =>
        a.activityType?.name === 'awaitReplicaSetHealthy' &&
        a.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED,
    );
    if (started) return;
    if (Date.now() > until) throw new Error(`${id}: the green probe never started`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('worker SIGTERM', () => {
  let f: Fixture;

  beforeAll(async () => {
    f = await createFixture('sigterm');
  });

  afterAll(async () => {
    await f.close();
  });

  test('while probing: the in-flight activity completes, the worker exits 0, the next worker finishes', async () => {
    // Given: v1 live; v2's replicas become healthy only 6 s after they start, and a worker is probing them.
    let worker = await f.startWorkerProcess({ env: { CUTOVER_SHUTDOWN_GRACE: '60s' } });
    expect((await f.result(await f.deploy('1.0.0'))).outcome).toBe('succeeded');
    const id = await f.deploy('2.0.0', {
      env: { SAMPLE_HEALTHY_AFTER_MS: '6000' },
      health: { deadline: '5m', interval: '200ms' },
    });
    await f.waitForPhase(id, 'AwaitingHealthy');
    await probing(f, id);

    // When: SIGTERM.
    const exited = exitOf(worker);
    worker.kill('SIGTERM');
    const { code, signal } = await exited;

    // Then: exit 0, and the probe's result is already in history (before any other worker ran).
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    const history = await f.client.temporal.workflow.getHandle(id).fetchHistory();
    const events = history.events ?? [];
    const scheduled = events.filter(
      (e) =>
        e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED &&
        e.activityTaskScheduledEventAttributes?.activityType?.name === 'awaitReplicaSetHealthy',
    );
    const green = scheduled.at(-1);
    expect(green).toBeDefined();
    const outcomes = events.filter(
      (e) =>
        [
          EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
          EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
          EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
          EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
        ].includes(e.eventType ?? 0) &&
        [
          e.activityTaskCompletedEventAttributes?.scheduledEventId,
          e.activityTaskFailedEventAttributes?.scheduledEventId,
          e.activityTaskTimedOutEventAttributes?.scheduledEventId,
          e.activityTaskCanceledEventAttributes?.scheduledEventId,
        ].some((s) => s !== undefined && s !== null && String(s) === String(green?.eventId)),
    );
    expect(outcomes.map((e) => EventType[e.eventType ?? 0])).toEqual(['EVENT_TYPE_ACTIVITY_TASK_COMPLETED']);
    const startedEvent = events.find(
      (e) =>
        e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED &&
        String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(green?.eventId),
    );
    expect(startedEvent?.activityTaskStartedEventAttributes?.attempt).toBe(1);

    // The worker said what it was doing, as JSON.
    const lines = fs
      .readFileSync(path.join(f.stateDir, 'worker.log'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg?: string; inFlightActivities?: number; signal?: string });
    const shutdown = lines.find((l) => l.msg?.startsWith('shutting down'));
    expect(shutdown).toMatchObject({ signal: 'SIGTERM' });
    expect(shutdown?.inFlightActivities).toBeGreaterThanOrEqual(1);
    expect(lines.some((l) => l.msg === 'worker stopped' && l.inFlightActivities === 0)).toBe(true);

    // And: another worker finishes the deployment.
    worker = await f.startWorkerProcess();
    expect((await f.result(id)).outcome).toBe('succeeded');
    const live = f.replicaProcesses();
    expect(live.map((p) => p.version)).toEqual(['2.0.0', '2.0.0']);
    const exitedAgain = exitOf(worker);
    worker.kill('SIGTERM');
    expect((await exitedAgain).code).toBe(0);
  });
});
