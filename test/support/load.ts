/**
 * The load generator for tests (examples/load: the one the demo runs) and the one assertion every zero-downtime
 * test makes with it.
 */
import { formatLoadReport, judgeLoad } from '../../examples/load';
import type { Load, LoadExpectation, LoadReport } from '../../examples/load';
import { deliveryProblems } from './delivery-log';
import type { DeliveryEvent, DeliveryExpectation } from './delivery-log';

export { MIN_REQUESTS_PER_PHASE, formatLoadReport, startLoad } from '../../examples/load';
export type { Load, LoadClient, LoadOptions, LoadReport } from '../../examples/load';

export interface ZeroDowntimeExpectation extends LoadExpectation, DeliveryExpectation {
  /** The sample app's delivery log (fixture.deliveries()): adds the at-most-once, drain and slowAcross checks. */
  deliveries?: DeliveryEvent[];
  /** Printed with the report after the test's name, when a test judges more than one load. */
  label?: string;
}

/**
 * The zero-downtime assertion: every phase has its minimum of requests (of every kind and client class), nothing
 * is unfinished, nothing failed, every answer came from a version expected in the phase its request started in;
 * with a delivery log, no POST was delivered twice and every stopped replica had been drained. Prints the report
 * (counts and p50/p99 per phase) under the test's name; fails listing every problem.
 */
export function expectZeroDowntime(report: LoadReport, expectation: ZeroDowntimeExpectation): void {
  const { deliveries, label, ...rest } = expectation;
  const problems = [
    ...judgeLoad(report, rest).problems,
    ...(deliveries ? deliveryProblems(deliveries, report, rest) : []),
  ];
  const title = [expect.getState().currentTestName ?? 'load', label].filter(Boolean).join(' — ');
  process.stdout.write(`${title}\n${formatLoadReport(report)}\n`);
  expect(problems).toEqual([]);
}

/**
 * The usual shape of a zero-downtime scenario: the load's first phase ("before") gets its minimum, `work` runs in
 * "during" (start the deployment, approve it...), then "after" (from when `work` returned) gets its minimum too.
 */
export async function underLoad<T>(load: Load, work: () => Promise<T>): Promise<{ value: T; report: LoadReport }> {
  try {
    await load.next('during');
    const value = await work();
    await load.next('after');
    await load.waitForRequests();
    return { value, report: await load.stop() };
  } finally {
    await load.stop();
  }
}

/**
 * A bad version's strict accounting: its own injected errors (`injected`, e.g. "HTTP 500 from 2.0.0-bad") did occur
 * while it took traffic, and nothing else failed or went unanswered in any phase; afterwards only `stable` answers.
 */
export function expectOnlyInjectedErrors(report: LoadReport, injected: string, stable: string): void {
  process.stdout.write(`${expect.getState().currentTestName ?? 'load'}\n${formatLoadReport(report)}\n`);
  const during = report.phases.find((p) => p.phase === 'during');
  expect(during?.errors[injected] ?? 0).toBeGreaterThan(0);
  for (const phase of report.phases) {
    const others = Object.entries(phase.errors).filter(([key]) => key !== injected);
    expect({ phase: phase.phase, others, unfinished: phase.unfinished }).toEqual({
      phase: phase.phase,
      others: [],
      unfinished: 0,
    });
  }
  const after = report.phases.find((p) => p.phase === 'after');
  expect(after?.failed).toBe(0);
  expect(Object.keys(after?.byVersion ?? {})).toEqual([stable]);
}
