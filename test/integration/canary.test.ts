/**
 * Canary releases end to end on real parts: the Temporal dev server, the local platform (real processes), the local
 * router (real proxy, its /metrics scraped every second by a real Prometheus), and the analysis querying that
 * Prometheus; a load through the router judged with the strict accounting of the other zero-downtime tests.
 *
 * - A good canary is promoted 10 -> 50 -> 100 with 0 failed requests; every split is measured through the router.
 * - A bad canary (the sample app answering 30 % of pages with 500) is rolled back at its first analysis: no failed
 *   request beyond the canary's own injected errors, and the stable version serves every request afterwards.
 * - The same template in a rolling update (`steps: [{afterBatch: 1, analysis}]`): a good version goes on with 0 failed
 *   requests; a bad one is rolled back after its first batch, only its own injected errors failing.
 */
import { errorRateAnalysis } from '../support/analysis';
import { expectOnlyInjectedErrors, expectZeroDowntime } from '../support/load';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';
import { startPrometheus } from '../support/prometheus';
import type { PrometheusServer } from '../support/prometheus';
import type { DeploymentSpecInput } from '../../workflows/spec';
import type { DeploymentResult } from '../../workflows/types';

jest.setTimeout(420_000);

function canarySpec(
  f: Fixture,
  prometheus: PrometheusServer,
  version: string,
  env: Record<string, string> = {},
): DeploymentSpecInput {
  const base = f.spec(version, { env });
  return {
    ...base,
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

function printLedger(title: string, result: DeploymentResult): void {
  const c = result.status.canary;
  const lines = [`${title}: ${result.outcome}${result.reason ? ` (${result.reason})` : ''}`];
  for (const s of c?.splits ?? []) lines.push(`  split step ${s.step} weight ${s.weight}%: ${s.detail}`);
  for (const run of [...(c?.analyses ?? []), ...(result.status.analyses ?? [])]) {
    lines.push(`  analysis ${run.label}: ${run.outcome} — ${run.reason ?? ''}`);
    for (const m of run.metrics) {
      for (const x of m.measurements) {
        lines.push(`    ${m.name} ${x.measuredAt} value ${JSON.stringify(x.value)} samples ${x.samples}: ${x.phase}`);
      }
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

describe('canary with analysis on the local router and a real Prometheus', () => {
  let f: Fixture;
  let prometheus: PrometheusServer;

  beforeEach(async () => {
    f = await createFixture('canary');
    await f.startInProcessWorker();
    prometheus = await startPrometheus({ targets: [new URL(f.stack.adminUrl).host] });
    // Given: v1 serves every module from containers (migrated by blue-green).
    const v1 = await f.result(await f.deploy('1.0.0'));
    expect(v1.outcome).toBe('succeeded');
  });

  afterEach(async () => {
    await prometheus?.stop();
    await f.close();
  });

  test('a good canary is promoted 10 -> 50 -> 100 with 0 failed requests; each split measured', async () => {
    const load = f.load();
    await load.next('during');
    const result = await f.result(await f.deploySpec(canarySpec(f, prometheus, '2.0.0')));
    await load.next('after');
    await load.waitForRequests();
    const report = await load.stop();
    printLedger('good canary', result);

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
        expect(m.value).toBe(0);
      }
    }
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['2.0.0'] },
    });
  });

  test('a bad canary is rolled back at its first analysis; only its own injected errors fail', async () => {
    const load = f.load();
    await load.next('during');
    const spec = canarySpec(f, prometheus, '2.0.0-bad', { SAMPLE_ERROR_RATE: '0.3' });
    const result = await f.result(await f.deploySpec(spec));
    await load.next('after');
    await load.waitForRequests();
    const report = await load.stop();
    printLedger('bad canary', result);

    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/analysis step 2 failed: error-rate/);
    expect(result.liveVersion).toBe('1.0.0');
    const first = result.status.canary?.analyses[0];
    expect(first?.outcome).toBe('failed');
    const failedMeasurement = first?.metrics[0]?.measurements.find((m) => m.phase === 'failed');
    expect(failedMeasurement?.value).toBeGreaterThan(0.1);
    expect(result.status.canary?.splits.map((s) => s.weight)).toEqual([10]);
    // The stable version answers every request afterwards, verified by the workflow and here.
    for (const m of f.modules) for (let i = 0; i < 20; i++) expect(await f.versionOf(m)).toBe('1.0.0');

    // Strict accounting, the injected errors aside: nothing else failed, nothing unanswered, no other version.

    expectOnlyInjectedErrors(report, 'HTTP 500 from 2.0.0-bad', '1.0.0');
  });

  /** A rolling update of 2 replicas, one at a time, analysed with the same template after its first batch. */
  function rollingAnalysed(version: string, env: Record<string, string> = {}): DeploymentSpecInput {
    return {
      ...f.rollingSpec(version, {
        env,
        replicas: 2,
        strategy: {
          maxSurge: 1,
          maxUnavailable: 0,
          steps: [{ afterBatch: 1, analysis: { templates: ['error-rate'] } }],
        },
      }),
      analysis: errorRateAnalysis(prometheus.url),
    } as DeploymentSpecInput;
  }

  test('a rolling update analysed after its first batch goes on with 0 failed requests', async () => {
    const load = f.load();
    await load.next('during');
    const result = await f.result(await f.deploySpec(rollingAnalysed('2.0.0')));
    await load.next('after');
    await load.waitForRequests();
    const report = await load.stop();
    printLedger('rolling analysed', result);
    expect(result.outcome).toBe('succeeded');
    expect(result.status.analyses?.map((a) => [a.label, a.outcome])).toEqual([['after batch 1', 'successful']]);
    const measured = result.status.analyses?.[0]?.metrics[0]?.measurements ?? [];
    // A measurement taken before Prometheus has scraped the new batch is insufficient (the minimum-sample gate extends
    // the analysis); only measurements of at least minSamples decide.
    const deciding = measured.filter((m) => m.phase !== 'insufficient');
    expect(deciding.length).toBeGreaterThanOrEqual(2);
    expect(deciding.every((m) => (m.samples ?? 0) >= 20)).toBe(true);
    expect(measured.filter((m) => m.phase === 'insufficient').every((m) => (m.samples ?? 0) < 20)).toBe(true);
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['2.0.0'] },
      deliveries: f.deliveries(),
    });
  });

  test('a bad version is rolled back by the analysis after its first batch; only its own injected errors fail', async () => {
    const load = f.load();
    await load.next('during');
    const result = await f.result(await f.deploySpec(rollingAnalysed('2.0.0-bad', { SAMPLE_ERROR_RATE: '0.3' })));
    await load.next('after');
    await load.waitForRequests();
    const report = await load.stop();
    printLedger('rolling bad version', result);
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/^analysis after batch 1\/2 failed: error-rate/);
    expect(result.liveVersion).toBe('1.0.0');
    for (const m of f.modules) for (let i = 0; i < 20; i++) expect(await f.versionOf(m)).toBe('1.0.0');
    expectOnlyInjectedErrors(report, 'HTTP 500 from 2.0.0-bad', '1.0.0');
  });
});
