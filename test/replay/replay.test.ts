/**
 * Replay safety: every recorded history in test/replay/histories (real runs on the dev server, recorded by
 * `make record-histories`) replays against the current workflow code without nondeterminism. A change to what a
 * workflow commands that is not behind `patched()` fails here, before it can break a deployment in flight
 * (CONTRIBUTING.md, "Changing workflow code").
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import type { ReplayResult } from '@temporalio/worker';
import { workflowBundle } from '../support/workflow-bundle';

const HISTORIES = join(__dirname, 'histories');

interface RecordedHistory {
  file: string;
  history: temporal.api.history.v1.History;
}

function recorded(): RecordedHistory[] {
  return readdirSync(HISTORIES)
    .filter((f) => f.endsWith('.binpb'))
    .sort()
    .map((file) => ({ file, history: temporal.api.history.v1.History.decode(readFileSync(join(HISTORIES, file))) }));
}

/** Replays one history against the current workflow code; the replay's error, if any. */
async function replay(name: string, history: temporal.api.history.v1.History): Promise<ReplayResult['error']> {
  const results: ReplayResult[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle(), replayName: name }, [
    { workflowId: name, history },
  ])) {
    results.push(result);
  }
  expect(results).toHaveLength(1);
  return results[0]?.error;
}

describe('recorded histories replay against the current workflow code', () => {
  const histories = recorded();

  test('the replay suite has histories of every strategy and hook operation, finished and in flight', () => {
    const names = histories.map((h) => h.file);
    expect(names.some((n) => n.startsWith('blue-green-at-gate'))).toBe(true);
    expect(names.some((n) => n.startsWith('blue-green-in-rollback-window'))).toBe(true);
    expect(names.some((n) => n.startsWith('rolling-paused'))).toBe(true);
    expect(names.some((n) => n.startsWith('rolling-continued-as-new-first-run'))).toBe(true);
    expect(names.some((n) => n.startsWith('rolling-') && n.includes('rolled-back'))).toBe(true);
    // Canary releases at a gate, at a timed pause, with background analysis, promoted, aborted, and failed by analysis;
    // the analysis of rolling updates and blue-green.
    for (const name of ['paused-at-gate', 'paused-timed', 'background-analysis-paused', 'promoted-succeeded']) {
      expect(names.some((n) => n.startsWith(`canary-${name}`))).toBe(true);
    }
    expect(names.some((n) => n.startsWith('canary-aborted') && n.includes('rolled-back'))).toBe(true);
    expect(names.some((n) => n.startsWith('canary-analysis-failed-rolled-back'))).toBe(true);
    expect(names.some((n) => n.startsWith('rolling-analysis-failed-rolled-back'))).toBe(true);
    expect(names.some((n) => n.startsWith('blue-green-post-promotion-analysis'))).toBe(true);
    for (const stage of ['build', 'run-waiting-on-deployment', 'configs-waiting-for-application', 'remove']) {
      expect(names.some((n) => n.startsWith(`hook-${stage}`))).toBe(true);
    }
    // Recorded before and after the wait-for-application-by-result patch: the timer poll and the long-poll activity.
    const waits = histories.filter((h) => h.file.startsWith('hook-configs-waiting-for-application'));
    const scheduled = (h: RecordedHistory) =>
      h.history.events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    expect(waits.some((h) => h.history.events.some((e) => e.timerStartedEventAttributes))).toBe(true);
    expect(waits.some((h) => scheduled(h).includes('awaitWorkflowClosed'))).toBe(true);
    for (const { file, history } of histories) {
      expect({ file, events: (history.events?.length ?? 0) > 3 }).toEqual({ file, events: true });
    }
  });

  test('a history whose commands differ from the code is caught (the check can fail)', async () => {
    // The same run, but its first scheduled activity renamed: the code commands discoverLive, the history says not.
    const original = histories.find((h) => h.file.startsWith('blue-green-at-gate'))!.history;
    const tampered = temporal.api.history.v1.History.decode(temporal.api.history.v1.History.encode(original).finish());
    const scheduled = tampered.events.find((e) => e.activityTaskScheduledEventAttributes)!;
    scheduled.activityTaskScheduledEventAttributes!.activityType = { name: 'notWhatTheCodeCommands' };
    expect((await replay('tampered', tampered))?.name).toBe('DeterminismViolationError');
  });

  test.each(histories.map((h) => [h.file, h.history] as const))(
    '%s replays deterministically',
    async (file, history) => {
      expect(await replay(file, history)).toBeUndefined();
    },
  );
});
