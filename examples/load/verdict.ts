/**
 * Judging a load report: the rules every zero-downtime claim has to meet, as plain messages (the tests' assertion,
 * test/support/load.ts, fails with them; the demo prints them).
 */
import type { LoadReport, PhaseReport } from './report';
import { REQUEST_KINDS } from './traffic';

export interface LoadExpectation {
  /**
   * The versions an answer may come from, per phase — the phase a request STARTED in. Every phase of the report must
   * be listed. A 2xx from any other version, or without a version header, counts as failed ("wrong version").
   */
  versions: Record<string, readonly string[]>;
  /** Requests each phase must have started (default 20). */
  minPerPhase?: number;
}

export interface LoadVerdict {
  /** Empty when the report proves zero downtime. */
  problems: string[];
  /** Requests that failed, got no answer, or were answered by an unexpected version. */
  failed: number;
}

const list = (counts: Record<string, number>): string =>
  Object.entries(counts)
    .map(([key, n]) => `${key}: ${n}`)
    .join(', ');

export function judgeLoad(report: LoadReport, expectation: LoadExpectation): LoadVerdict {
  const problems: string[] = [];
  let failed = 0;
  const minimum = expectation.minPerPhase ?? 20;
  const kindsUsed = REQUEST_KINDS.filter((k) => report.phases.some((p) => p.byKind[k] > 0));
  for (const name of Object.keys(expectation.versions)) {
    if (!report.phases.some((p) => p.phase === name)) problems.push(`phase "${name}" never started`);
  }
  for (const phase of report.phases) {
    const expected = expectation.versions[phase.phase];
    const where = `phase "${phase.phase}"`;
    if (!expected) {
      problems.push(`${where} has no expected versions`);
      continue;
    }
    if (phase.sent < minimum) problems.push(`${where}: only ${phase.sent} requests started (minimum ${minimum})`);
    const absentKinds = kindsUsed.filter((k) => phase.byKind[k] === 0);
    if (absentKinds.length) problems.push(`${where}: no ${absentKinds.join(' or ')} request started`);
    const absentClients = report.clients.filter((c) => !phase.byClient[c]);
    if (absentClients.length) problems.push(`${where}: no request from ${absentClients.join(' or ')}`);
    if (phase.failed > 0) problems.push(`${where}: ${phase.failed} failed (${list(phase.errors)})`);
    if (phase.unfinished > 0) problems.push(`${where}: ${phase.unfinished} unfinished (never answered)`);
    const wrong = wrongVersions(phase, expected);
    const wrongCount = Object.values(wrong).reduce((a, b) => a + b, 0);
    if (wrongCount > 0) {
      problems.push(
        `${where}: ${wrongCount} answers from unexpected versions (${list(wrong)}; expected ${expected.join(' or ')})`,
      );
    }
    failed += phase.failed + phase.unfinished + wrongCount;
  }
  return { problems, failed };
}

function wrongVersions(phase: PhaseReport, expected: readonly string[]): Record<string, number> {
  return Object.fromEntries(Object.entries(phase.byVersion).filter(([version]) => !expected.includes(version)));
}

const ms = (n: number): string => (n >= 100 ? `${Math.round(n)} ms` : `${n} ms`);

/** One line for the whole load, then one per phase: counts, versions, p50/p99. */
export function formatLoadReport(report: LoadReport): string {
  const lines = [
    `${report.clients.join(' + ')}: ${report.sent} requests, ${report.failed} failed, ${report.unfinished} unfinished ` +
      `in ${(report.durationMs / 1000).toFixed(1)} s`,
  ];
  for (const p of report.phases) {
    const kinds = REQUEST_KINDS.map((k) => `${k} ${p.byKind[k]}`).join(', ');
    const latency = p.latencyMs ? `p50 ${ms(p.latencyMs.p50)}, p99 ${ms(p.latencyMs.p99)}` : 'no latency';
    const slow = p.slowLatencyMs ? `; slow p50 ${ms(p.slowLatencyMs.p50)}, p99 ${ms(p.slowLatencyMs.p99)}` : '';
    const errors = p.failed ? ` (${list(p.errors)})` : '';
    lines.push(
      `  ${p.phase}: ${p.sent} sent (${kinds}), ${p.failed} failed${errors}, ${p.unfinished} unfinished; ` +
        `answered by ${list(p.byVersion) || 'none'}; ${latency}${slow}`,
    );
  }
  return lines.join('\n');
}
