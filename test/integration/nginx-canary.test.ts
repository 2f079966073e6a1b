/**
 * Canary releases through a real nginx, end to end: the Temporal dev server, the canary workflow with the nginx
 * driver selected by `router.kind: nginx` (weights as `split_clients`, a reload per change), local-platform replicas
 * behind nginx, and a load through nginx judged with the strict accounting of the other zero-downtime tests.
 *
 * - A canary promoted 10 -> 50 -> 100 with timed pauses: 0 failed requests, every split measured through nginx and
 *   within its tolerance.
 * - An abort at a `pause: {}` gate: every request back on the stable version with 0 failed requests.
 *
 * With analysis (`router.metricsLog`): nginx logs every module request to a metrics log, a real mtail running
 * activities/drivers/nginx/cutover-router.mtail turns it into the local router's metrics (cutover_router_requests_total
 * and cutover_router_request_duration_seconds, the same names and labels), a real Prometheus scrapes mtail every
 * second, and the analysis uses the very template of test/integration/canary.test.ts (the local router):
 *
 * - A good canary promoted 10 -> 50 -> 100, an analysis after each partial weight: both successful, 0 failed requests.
 * - A bad canary (the sample app answering 30 % of pages with 500) rolled back at its first analysis: no failed
 *   request beyond the canary's own injected errors, and nginx sends every request to the stable version afterwards.
 */
import * as path from 'node:path';
import { errorRateAnalysis } from '../support/analysis';
import { expectOnlyInjectedErrors, expectZeroDowntime, underLoad } from '../support/load';
import type { LoadReport } from '../support/load';
import { startMtail } from '../support/mtail';
import type { MtailServer } from '../support/mtail';
import { createNginxFixture } from '../support/nginx-fixture';
import type { NginxFixture } from '../support/nginx-fixture';
import { startPrometheus } from '../support/prometheus';
import type { PrometheusServer } from '../support/prometheus';
import type { DeploymentSpecInput } from '../../workflows/spec';
import type { DeploymentResult, DeploymentStatus } from '../../workflows/types';

jest.setTimeout(300_000);

function canarySpec(f: NginxFixture, version: string, steps: unknown[]): DeploymentSpecInput {
  return {
    ...f.spec(version),
    strategy: { type: 'canary', steps, abortScaleDownDelay: '2s' },
  } as DeploymentSpecInput;
}

function printRun(title: string, result: DeploymentResult, report: LoadReport): void {
  const lines = [
    `${title}: ${result.outcome}${result.reason ? ` (${result.reason})` : ''}`,
    `  load through nginx: ${report.sent} sent, ${report.ok} ok, ${report.failed} failed, ${report.unfinished} unfinished`,
  ];
  for (const s of result.status.canary?.splits ?? []) {
    lines.push(`  split step ${s.step} weight ${s.weight}% (${s.status}): ${s.detail}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** The template of test/integration/canary.test.ts (the local router's own /metrics), unchanged, here on the metrics
 * mtail makes of nginx's metrics log. */
/** 10 -> analysis -> 50 -> analysis -> 100, nginx logging to `metricsLog`, the analysis asking `prometheus`. */
function analysedSpec(
  f: NginxFixture,
  prometheus: PrometheusServer,
  metricsLog: string,
  version: string,
  env: Record<string, string> = {},
): DeploymentSpecInput {
  return {
    ...f.spec(version, { env, router: { metricsLog } }),
    strategy: {
      type: 'canary',
      steps: [
        { setWeight: 10 },
        { analysis: { templates: ['error-rate'] } },
        { setWeight: 50 },
        { analysis: { templates: ['error-rate'] } },
        { setWeight: 100 },
      ],
      abortScaleDownDelay: '2s',
    },
    analysis: errorRateAnalysis(prometheus.url),
  } as DeploymentSpecInput;
}

/** printRun, then every analysis run and its measurements (the ledger). */
function printLedger(title: string, result: DeploymentResult, report: LoadReport): void {
  printRun(title, result, report);
  const lines: string[] = [];
  for (const phase of report.phases) {
    lines.push(
      `  load ${phase.phase}: ${phase.sent} sent, ${phase.failed} failed, ${phase.unfinished} unfinished; ` +
        `by version ${JSON.stringify(phase.byVersion)}; errors ${JSON.stringify(phase.errors)}`,
    );
  }
  for (const run of result.status.canary?.analyses ?? []) {
    lines.push(`  analysis ${run.label}: ${run.outcome} — ${run.reason ?? ''}`);
    for (const m of run.metrics) {
      for (const x of m.measurements) {
        lines.push(`    ${m.name} ${x.measuredAt} value ${JSON.stringify(x.value)} samples ${x.samples}: ${x.phase}`);
      }
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Polls the status until `done` holds (the query is answered once the workflow has started). */
async function waitForStatus(
  f: NginxFixture,
  id: string,
  what: string,
  done: (s: DeploymentStatus) => boolean,
  timeoutMs = 90_000,
): Promise<DeploymentStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: DeploymentStatus | undefined;
  while (Date.now() < deadline) {
    last = await f.client.status(id).catch(() => last);
    if (last && done(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${id} did not reach ${what} (last phase: ${last?.phase ?? 'unknown'})`);
}

describe('canary through nginx', () => {
  let f: NginxFixture;

  beforeEach(async () => {
    f = await createNginxFixture('ngxcanary');
    // Given: v1 serves every module from containers (migrated off the platform server by blue-green).
    const v1 = await f.result(await f.deploy('1.0.0'));
    expect(v1.outcome).toBe('succeeded');
    for (const m of f.modules) expect(await f.versionOf(m)).toBe('1.0.0');
  });

  afterEach(async () => {
    await f.close();
  });

  test('10 -> 50 -> 100 with timed pauses: 0 failed requests; every split measured through nginx', async () => {
    const steps = [
      { setWeight: 10 },
      { pause: { duration: '3s' } },
      { setWeight: 50 },
      { pause: { duration: '3s' } },
      { setWeight: 100 },
    ];
    const { value: result, report } = await underLoad(f.load(), async () =>
      f.result(await f.deploySpec(canarySpec(f, '2.0.0', steps))),
    );
    printRun('nginx canary', result, report);

    expect(result.outcome).toBe('succeeded');
    expect(result.liveVersion).toBe('2.0.0');
    const splits = result.status.canary?.splits ?? [];
    expect(splits.map((s) => s.weight)).toEqual([10, 50, 100]);
    for (const s of splits) {
      expect(s.status).toBe('measured');
      expect(s.requests).toBeGreaterThan(0);
      expect(Math.abs(s.share - s.weight)).toBeLessThanOrEqual(s.tolerance);
    }
    // Both versions really answered the load while the canary took part of the traffic.
    const during = report.phases.find((p) => p.phase === 'during');
    expect(during?.byVersion['2.0.0']).toBeGreaterThan(0);
    expect(during?.byVersion['1.0.0']).toBeGreaterThan(0);
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['2.0.0'] },
      deliveries: f.deliveries(),
    });
    for (const m of f.modules) expect(await f.versionOf(m)).toBe('2.0.0');
    expect(await f.liveVersions()).toEqual(['2.0.0', '2.0.0']);
  });

  test('an abort at a pause {} gate rolls back: 0 failed requests; nginx then sends every request to 1.0.0', async () => {
    const steps = [{ setWeight: 20 }, { pause: {} }, { setWeight: 100 }];
    const { value: result, report } = await underLoad(f.load(), async () => {
      const id = await f.deploySpec(canarySpec(f, '2.0.0', steps));
      const paused = await waitForStatus(f, id, 'the pause {} gate', (s) => s.approval.pending);
      expect(paused.canary?.weight).toBe(20);
      await f.client.abort(id, { by: 'carol', reason: 'customers complain' });
      return f.result(id);
    });
    printRun('nginx canary aborted', result, report);

    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toBe('aborted by carol: customers complain');
    expect(result.liveVersion).toBe('1.0.0');
    const splits = result.status.canary?.splits ?? [];
    expect(splits.map((s) => [s.weight, s.status])).toEqual([[20, 'measured']]);
    expect(report.phases.find((p) => p.phase === 'during')?.byVersion['2.0.0']).toBeGreaterThan(0);
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['1.0.0'] },
      deliveries: f.deliveries(),
    });
    // nginx sends every request to the stable version afterwards; the canary is retired.
    for (const m of f.modules) for (let i = 0; i < 20; i++) expect(await f.versionOf(m)).toBe('1.0.0');
    expect(await f.liveVersions()).toEqual(['1.0.0', '1.0.0']);
  });

  describe('with analysis: nginx metrics log -> mtail -> Prometheus', () => {
    let mtail: MtailServer;
    let prometheus: PrometheusServer;
    let metricsLog: string;

    beforeEach(async () => {
      metricsLog = path.join(f.nginx.dir, 'cutover-metrics.log');
      mtail = await startMtail({ log: metricsLog, dir: path.join(f.stateDir, 'mtail') });
      prometheus = await startPrometheus({ targets: [mtail.host], dir: path.join(f.stateDir, 'prometheus') });
      await prometheus.waitForScrape();
    });

    afterEach(async () => {
      await prometheus?.stop();
      await mtail?.stop();
    });

    test('a good canary is promoted 10 -> 50 -> 100, both analyses successful on the metrics log; 0 failed requests', async () => {
      const { value: result, report } = await underLoad(f.load(), async () =>
        f.result(await f.deploySpec(analysedSpec(f, prometheus, metricsLog, '2.0.0'))),
      );
      printLedger('nginx canary with analysis', result, report);

      expect(result.outcome).toBe('succeeded');
      expect(result.liveVersion).toBe('2.0.0');
      const splits = result.status.canary?.splits ?? [];
      expect(splits.map((s) => s.weight)).toEqual([10, 50, 100]);
      for (const s of splits) {
        expect(s.status).toBe('measured');
        expect(Math.abs(s.share - s.weight)).toBeLessThanOrEqual(s.tolerance);
      }
      const analyses = result.status.canary?.analyses ?? [];
      expect(analyses.map((a) => a.outcome)).toEqual(['successful', 'successful']);
      for (const a of analyses) {
        // Measurements before 20 requests reached the canary do not count (the step extends); the others all pass.
        const counted = a.metrics.flatMap((x) => x.measurements).filter((m) => m.phase !== 'insufficient');
        expect(counted).toHaveLength(2);
        for (const m of counted) {
          expect(m.phase).toBe('successful');
          expect(m.samples).toBeGreaterThanOrEqual(20);
          expect(m.value).toBe(0); // a number, not "no data": mtail exports the 5xx series at 0
        }
      }
      // Both versions' backends have series in Prometheus, from mtail (nothing else is scraped).
      const backends = await prometheus.query('sum by (backend) (cutover_router_requests_total)');
      expect(backends.filter((b) => b.value > 0)).toHaveLength(2);
      expectZeroDowntime(report, {
        versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['2.0.0'] },
        deliveries: f.deliveries(),
      });
      for (const m of f.modules) expect(await f.versionOf(m)).toBe('2.0.0');
      expect(await f.liveVersions()).toEqual(['2.0.0', '2.0.0']);
    });

    test('a bad canary is rolled back at its first analysis; only its own injected errors fail; then all on 1.0.0', async () => {
      const spec = analysedSpec(f, prometheus, metricsLog, '2.0.0-bad', { SAMPLE_ERROR_RATE: '0.3' });
      const { value: result, report } = await underLoad(f.load(), async () => f.result(await f.deploySpec(spec)));
      printLedger('nginx bad canary with analysis', result, report);

      expect(result.outcome).toBe('rolled-back');
      expect(result.reason).toMatch(/analysis step 2 failed: error-rate/);
      expect(result.liveVersion).toBe('1.0.0');
      const first = result.status.canary?.analyses[0];
      expect(first?.outcome).toBe('failed');
      const failedMeasurement = first?.metrics[0]?.measurements.find((m) => m.phase === 'failed');
      expect(failedMeasurement?.value).toBeGreaterThan(0.1);
      expect(result.status.canary?.splits.map((s) => s.weight)).toEqual([10]);
      // nginx sends every request to the stable version afterwards (verified by the workflow, and here).
      for (const m of f.modules) for (let i = 0; i < 20; i++) expect(await f.versionOf(m)).toBe('1.0.0');
      expect(await f.liveVersions()).toEqual(['1.0.0', '1.0.0']);

      // Strict accounting, the injected errors aside: nothing else failed, nothing unanswered, no other version.

      expectOnlyInjectedErrors(report, 'HTTP 500 from 2.0.0-bad', '1.0.0');
    });
  });
});
