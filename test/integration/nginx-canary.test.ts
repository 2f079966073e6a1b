/**
 * Canary releases through a real nginx, end to end: the Temporal dev server, the canary workflow with the nginx
 * driver selected by `router.kind: nginx` (weights as `split_clients`, a reload per change), local-platform replicas
 * behind nginx, and a load through nginx judged with the strict accounting of the other zero-downtime tests.
 *
 * - A canary promoted 10 -> 50 -> 100 with timed pauses: 0 failed requests, every split measured through nginx and
 *   within its tolerance.
 * - An abort at a `pause: {}` gate: every request back on the stable version with 0 failed requests.
 *
 * No analysis here: open-source nginx exposes no per-backend request metrics (the analysis needs a metrics source
 * outside nginx, docs/canary.md); test/integration/canary.test.ts covers the analysis on the local router.
 */
import { expectZeroDowntime, underLoad } from '../support/load';
import type { LoadReport } from '../support/load';
import { createNginxFixture } from '../support/nginx-fixture';
import type { NginxFixture } from '../support/nginx-fixture';
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
});
