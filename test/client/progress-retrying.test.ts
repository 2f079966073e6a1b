/**
 * Retried steps as `cutover status` and `--watch` show them: read from the server's pending activities (attempt, the
 * retry policy's maximum, the last failure and its causes, the next attempt's time) and printed once per attempt.
 */
import { optionalDateToTs } from '@temporalio/common/lib/time';
import { formatRetrying, formatStatus, ProgressPrinter } from '../../client/progress';
import { failureText, retryingSteps } from '../../client/retrying';
import type { RetryingStep } from '../../client/retrying';
import type { DeploymentStatus } from '../../workflows/types';

const NEXT = new Date('2026-12-02T16:30:05.000Z');

function pending(attempt: number, extra: Record<string, unknown> = {}) {
  return {
    activityId: '1',
    activityType: { name: 'readRoutes' },
    attempt,
    maximumAttempts: 10,
    lastFailure:
      attempt > 1
        ? {
            message: 'router admin API GET http://127.0.0.1:18081/rules failed',
            cause: { message: 'connect ECONNREFUSED 127.0.0.1:18081' },
          }
        : undefined,
    nextAttemptScheduleTime: optionalDateToTs(NEXT),
    ...extra,
  };
}

function status(retrying?: RetryingStep[]): DeploymentStatus & { retrying?: RetryingStep[] } {
  return {
    deploymentId: 'deploy-production-shop',
    application: 'shop',
    environment: 'production',
    strategy: 'blue-green',
    version: '2.0.0',
    phase: 'Discovering',
    steps: [{ name: 'discover live version', state: 'running' }],
    events: [],
    replicas: { desired: 3, launched: 0, healthy: 0 },
    approval: { mode: 'required', pending: false },
    ...(retrying ? { retrying } : {}),
  } as unknown as DeploymentStatus & { retrying?: RetryingStep[] };
}

describe('retried steps', () => {
  test('a pending activity past its first attempt becomes a retrying step with its error chain and next time', () => {
    expect(retryingSteps([pending(2)])).toEqual([
      {
        activity: 'readRoutes',
        attempt: 2,
        maximumAttempts: 10,
        lastError: 'router admin API GET http://127.0.0.1:18081/rules failed: connect ECONNREFUSED 127.0.0.1:18081',
        nextAttemptAt: '2026-12-02T16:30:05.000Z',
      },
    ]);
  });

  test('a first attempt still running is not retrying; unlimited attempts leave the maximum out', () => {
    expect(retryingSteps([pending(1, { nextAttemptScheduleTime: null })])).toEqual([]);
    expect(retryingSteps(undefined)).toEqual([]);
    const [step] = retryingSteps([pending(3, { maximumAttempts: 0, nextAttemptScheduleTime: null })]);
    expect(step).not.toHaveProperty('maximumAttempts');
    expect(step).not.toHaveProperty('nextAttemptAt');
    expect(formatRetrying(step!)).toMatch(/attempt 3 \(no attempt limit\), last error: .*ECONNREFUSED.*, running now$/);
  });

  test('a cause already quoted in the message is not repeated, and a long error is cut', () => {
    expect(failureText({ message: 'GET failed: ECONNREFUSED', cause: { message: 'ECONNREFUSED' } })).toBe(
      'GET failed: ECONNREFUSED',
    );
    expect(failureText({ message: 'x'.repeat(1000) })!.length).toBe(400);
    expect(failureText(undefined)).toBeUndefined();
  });

  test('formatRetrying reads "attempt N of M, last error: ..., next attempt at ..."', () => {
    const [step] = retryingSteps([pending(2)]);
    expect(formatRetrying(step!)).toBe(
      'retrying readRoutes: attempt 2 of 10, last error: router admin API GET http://127.0.0.1:18081/rules failed: ' +
        'connect ECONNREFUSED 127.0.0.1:18081, next attempt at 2026-12-02T16:30:05.000Z',
    );
  });

  test('cutover status shows the retried step beneath the steps, and nothing when none is retried', () => {
    const [step] = retryingSteps([pending(2)]);
    const text = formatStatus(status([step!]));
    const lines = text.split('\n');
    const at = lines.indexOf('  … discover live version');
    expect(at).toBeGreaterThan(0);
    expect(lines[at + 1]).toMatch(/^ {4}⟳ retrying readRoutes: attempt 2 of 10, last error: .*ECONNREFUSED/);
    expect(formatStatus(status())).not.toContain('retrying');
  });

  test('--watch prints each attempt once, whether first seen waiting or running', () => {
    const lines: string[] = [];
    const printer = new ProgressPrinter((l) => lines.push(l));
    const waiting2 = retryingSteps([pending(2)]);
    const running2 = retryingSteps([pending(2, { nextAttemptScheduleTime: null })]);
    const waiting3 = retryingSteps([pending(3)]);
    printer.update(status(waiting2));
    printer.update(status(running2));
    printer.update(status(waiting2));
    printer.update(status(waiting3));
    printer.update(status());
    const retryLines = lines.filter((l) => l.includes('retrying'));
    expect(retryLines).toHaveLength(2);
    expect(retryLines[0]).toContain('attempt 2 of 10');
    expect(retryLines[1]).toContain('attempt 3 of 10');
  });
});
