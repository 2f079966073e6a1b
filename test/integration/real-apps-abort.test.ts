/**
 * Issue 15: an abort acts at once in every step a deployment spends time in, and the reason names who aborted and
 * why. The Python application (slow to start, slow to warm up, slow pages: whatever keeps the step running) is
 * deployed blue-green and rolling, one attempt per step, each aborted while that step runs, under one strict load.
 *
 * From each history: the abort signal, then the cancellation of the step's activity (requested, then
 * acknowledged: the activity saw it in the answer to a heartbeat) or of the gate's timer, then the first activity
 * of the compensation — in that order. How long after the signal the compensation's first activity was scheduled
 * is printed (the server's clock), not asserted.
 */
import type { Phase } from '../../workflows/types';
import { abortTrace } from '../support/history';
import type { AbortTrace } from '../support/history';
import { expectZeroDowntime } from '../support/load';
import type { Load } from '../support/load';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';
import { pythonSpec } from '../support/python-app';
import type { PythonAppBehaviour } from '../support/python-app';

jest.setTimeout(420_000);

const modules = ['Catalog', 'Cart', 'Checkout', 'Search'];
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface AbortCase {
  step: string;
  phase: Phase;
  behaviour: PythonAppBehaviour;
  strategy?: Record<string, unknown>;
  /** The activity the abort cancels (none: a gate or a timer). */
  cancels?: string;
  /** The first activity of the compensation. */
  compensation: string;
  /** Versions answering while the attempt runs (the new one once it got traffic). */
  versions: string[];
  /** Before the deployment starts. */
  prepare?: (f: Fixture) => void;
  /** Until the step is really under way, after its phase is reported. */
  underway?: (f: Fixture) => Promise<void>;
  /** Once rolled back, before the next case. */
  settle?: () => Promise<void>;
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The new version's processes run (the launch is waiting for them to listen). */
const launching = (count: number) => (f: Fixture) =>
  until(() => f.replicaProcesses().filter((p) => p.version === '2.0.0').length >= count, 'v2 processes');
/** Give the activity of the phase a moment to start running (its phase is set just before it is scheduled). */
const running = () => sleep(1500);

interface Outcome {
  step: string;
  trace: AbortTrace;
}

/**
 * Runs each case as one deployment of v2 aborted in its step, each in its own load phase; checks the reason, the
 * order of events and that v1 serves again; returns the traces.
 */
async function abortEach(
  f: Fixture,
  load: Load,
  deploy: (c: AbortCase) => Promise<string>,
  cases: AbortCase[],
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const c of cases) {
    await load.next(`aborted at ${c.step}`);
    c.prepare?.(f);
    const id = await deploy(c);
    await f.waitForPhase(id, c.phase, 120_000);
    await c.underway?.(f);
    await f.client.abort(id, { by: 'erin', reason: `abort at ${c.step}` });
    const result = await f.result(id);
    await c.settle?.();

    expect({ step: c.step, outcome: result.outcome, reason: result.reason }).toEqual({
      step: c.step,
      outcome: 'rolled-back',
      reason: `aborted by erin: abort at ${c.step}`,
    });
    const trace = await abortTrace(f.client.temporal, id);
    const first = trace.after.findIndex((e) => e.startsWith('ActivityTaskScheduled'));
    if (c.cancels) {
      expect({ step: c.step, cancelled: trace.cancelled?.type }).toEqual({ step: c.step, cancelled: c.cancels });
      const requested = trace.after.indexOf('ActivityTaskCancelRequested');
      const acknowledged = trace.after.indexOf('ActivityTaskCanceled');
      expect({
        step: c.step,
        requested,
        acknowledgedAfter: acknowledged > requested,
        compensationAfter: first > acknowledged,
      }).toEqual({
        step: c.step,
        requested: 0,
        acknowledgedAfter: true,
        compensationAfter: true,
      });
    } else {
      expect({ step: c.step, cancelled: trace.cancelled }).toEqual({ step: c.step, cancelled: undefined });
    }
    expect({ step: c.step, compensation: trace.firstCompensation?.type }).toEqual({
      step: c.step,
      compensation: c.compensation,
    });
    await until(() => f.replicaProcesses().every((p) => p.version === '1.0.0'), 'v2 retired');
    for (const m of f.modules) expect(await f.versionOf(m)).toBe('1.0.0');
    outcomes.push({ step: c.step, trace });
  }
  return outcomes;
}

function report(strategy: string, outcomes: Outcome[]): void {
  const lines = outcomes.map(({ step, trace }) => {
    const cancelled = trace.cancelled
      ? `${trace.cancelled.type} cancel requested +${trace.cancelled.requestedAfterMs} ms, acknowledged +${trace.cancelled.canceledAfterMs} ms`
      : trace.timerCanceled
        ? 'timer cancelled'
        : 'nothing running';
    return `  ${step}: ${cancelled}; first compensation ${trace.firstCompensation?.type} +${trace.firstCompensation?.afterMs} ms`;
  });
  process.stdout.write(`abort latency, ${strategy} (from the abort signal's event):\n${lines.join('\n')}\n`);
}

describe('an abort at every step acts at once and keeps its reason', () => {
  let f: Fixture;

  beforeEach(async () => {
    f = await createFixture('pyabort', modules);
    await f.startInProcessWorker();
  });

  afterEach(async () => {
    await f.close();
  });

  test('blue-green: scaling up, waiting for health, at the gate, verifying, in the rollback window', async () => {
    const cases: AbortCase[] = [
      {
        step: 'scale up (a 30 s start)',
        phase: 'ScalingUp',
        behaviour: { startDelayMs: 30_000 },
        cancels: 'scaleUpReplicaSet',
        compensation: 'drainReplicaSets',
        versions: ['1.0.0'],
        underway: launching(2),
      },
      {
        step: 'wait for health (30 s warm-up)',
        phase: 'AwaitingHealthy',
        behaviour: { warmupMs: 30_000 },
        cancels: 'awaitReplicaSetHealthy',
        compensation: 'drainReplicaSets',
        versions: ['1.0.0'],
        underway: running,
      },
      {
        step: 'approval gate',
        phase: 'AwaitingApproval',
        behaviour: {},
        strategy: { approval: { mode: 'required', timeout: '10m' } },
        compensation: 'drainReplicaSets',
        versions: ['1.0.0'],
      },
      {
        step: 'verification (2 s pages)',
        phase: 'Verifying',
        behaviour: { pageMs: 2_000 },
        cancels: 'verifyTraffic',
        compensation: 'restoreRules',
        versions: ['1.0.0', '2.0.0'],
        underway: running,
      },
      {
        step: 'rollback window',
        phase: 'RollbackWindow',
        behaviour: {},
        strategy: { rollbackWindow: '10m' },
        compensation: 'restoreRules',
        versions: ['1.0.0', '2.0.0'],
      },
    ];
    expect((await f.result(await f.deploy('1.0.0', pythonSpec(f, { pageMs: 100 })))).outcome).toBe('succeeded');
    const load = f.load();

    const outcomes = await abortEach(
      f,
      load,
      (c) => f.deploy('2.0.0', pythonSpec(f, c.behaviour, { strategy: c.strategy ?? {} })),
      cases,
    );
    await load.next('after');
    await load.waitForRequests();

    expectZeroDowntime(await load.stop(), {
      versions: {
        before: ['1.0.0'],
        ...Object.fromEntries(cases.map((c) => [`aborted at ${c.step}`, c.versions])),
        after: ['1.0.0'],
      },
      deliveries: f.deliveries(),
    });
    report('blue-green', outcomes);
  });

  test('rolling: launching, waiting for health, draining, paused after the first batch', async () => {
    const oneAtATime = { maxSurge: 1, maxUnavailable: 0 };
    const long: Promise<Response>[] = [];
    const cases: AbortCase[] = [
      {
        step: 'launch (a 30 s start)',
        phase: 'ScalingUp',
        behaviour: { startDelayMs: 30_000 },
        cancels: 'launchToCount',
        compensation: 'retireUnserved',
        versions: ['1.0.0'],
        underway: launching(1),
      },
      {
        step: 'wait for health (30 s warm-up)',
        phase: 'AwaitingHealthy',
        behaviour: { warmupMs: 30_000 },
        cancels: 'awaitSetAvailable',
        compensation: 'retireUnserved',
        versions: ['1.0.0'],
        underway: running,
      },
      {
        step: 'drain (a 20 s request in flight)',
        phase: 'Draining',
        behaviour: {},
        strategy: { drainTimeout: '60s' },
        // Requests of 20 s on both v1 replicas (round robin): the replica the first batch drains keeps one in flight.
        prepare: (fx) => {
          for (const i of [1, 2]) {
            long.push(
              fetch(`${fx.stack.publicUrl}/Catalog/`, {
                headers: { 'x-sample-delay-ms': '20000', 'x-request-id': `long-${i}` },
              }),
            );
          }
        },
        // They finish on v1 (registered again by the rollback) before the next attempt drains that replica again.
        settle: async () => {
          expect((await Promise.all(long)).map((r) => r.status)).toEqual([200, 200]);
        },
        cancels: 'drainUnserved',
        compensation: 'registerSetTargets',
        versions: ['1.0.0', '2.0.0'],
        underway: running,
      },
      {
        step: 'pause after batch 1',
        phase: 'AwaitingApproval',
        behaviour: {},
        strategy: { steps: [{ afterBatch: 1, pause: { approval: true } }] },
        // Rolling back within the same bounds: a v1 replica comes back first (surge), then v2's goes.
        compensation: 'launchToCount',
        versions: ['1.0.0', '2.0.0'],
      },
    ];
    expect((await f.result(await f.deployRolling('1.0.0', pythonSpec(f, { pageMs: 100 })))).outcome).toBe('succeeded');
    const load = f.load();

    const outcomes = await abortEach(
      f,
      load,
      (c) => f.deployRolling('2.0.0', pythonSpec(f, c.behaviour, { strategy: { ...oneAtATime, ...c.strategy } })),
      cases,
    );
    await load.next('after');
    await load.waitForRequests();

    expectZeroDowntime(await load.stop(), {
      versions: {
        before: ['1.0.0'],
        ...Object.fromEntries(cases.map((c) => [`aborted at ${c.step}`, c.versions])),
        after: ['1.0.0'],
      },
      deliveries: f.deliveries(),
    });
    report('rolling', outcomes);
  });
});
