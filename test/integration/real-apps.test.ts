/**
 * Issue 15 on the local platform and router: a real application that is not Cutover's code (the Python application,
 * examples/python-app, started as platform.command: it only listens on PORT, never writes the ready file) with 30
 * modules whose pages take 300 ms each, deployed blue-green and rolling under the strict load (every phase, 0
 * failed, 0 unfinished, expected versions, POSTs at most once, drained stops), with server-sent event streams open
 * across the switch and the retire: they end gracefully when their old replica stops and reconnect to the new one.
 */
import { activityTimings, formatTimings } from '../support/history';
import { expectZeroDowntime, underLoad } from '../support/load';
import type { Load } from '../support/load';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';
import { moduleNames, pythonSpec, readyFilesUnder } from '../support/python-app';
import { startStreams, streamProblems } from '../support/streams';
import type { Streams } from '../support/streams';

jest.setTimeout(300_000);

const PAGE_MS = 300;
const modules = moduleNames(30);

/** Streams on two modules, two each, opened on the live version before the deployment starts. */
async function openStreams(f: Fixture, load: Load, version: string): Promise<Streams> {
  const streams = startStreams({
    url: f.stack.publicUrl,
    modules: modules.slice(0, 2),
    lanes: 4,
    phase: () => load.currentPhase,
  });
  await until(() => streams.records().filter((r) => r.version === version).length >= 4, 'four streams open');
  return streams;
}

/** Waits until every lane's stream is on `version` (the reconnects after the retire), then ends them. */
async function closeStreams(streams: Streams, version: string) {
  await until(() => {
    const last = new Map(streams.records().map((r) => [r.lane, r]));
    return [...last.values()].every((r) => r.version === version && r.ended === undefined);
  }, `every stream on ${version}`);
  return streams.stop();
}

async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('a Python application with 30 modules at 300 ms per page, on the local platform and router', () => {
  let f: Fixture;

  beforeEach(async () => {
    f = await createFixture('pyapp', modules);
    await f.startInProcessWorker();
  });

  afterEach(async () => {
    await f.close();
  });

  test('blue-green v1 -> v2 under load, streams open across the switch and the retire', async () => {
    // Given: v1 of the Python application serves all 30 modules.
    const v1 = await f.result(await f.deploy('1.0.0', pythonSpec(f, { pageMs: PAGE_MS })));
    expect(v1.outcome).toBe('succeeded');
    const load = f.load();
    const streams = await openStreams(f, load, '1.0.0');

    // When: v2 is deployed blue-green (blue kept 2 s after the switch, then drained and retired).
    let id = '';
    const { value: result, report } = await underLoad(load, async () => {
      id = await f.deploy('2.0.0', pythonSpec(f, { pageMs: PAGE_MS }, { strategy: { rollbackWindow: '2s' } }));
      return f.result(id);
    });
    const records = await closeStreams(streams, '2.0.0');

    // Then
    expect(result.outcome).toBe('succeeded');
    expect(result.status.steps.find((s) => s.name.startsWith('verify'))?.detail).toContain('verified');
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['2.0.0'] },
      slowAcross: [{ from: '1.0.0', to: '2.0.0' }],
      deliveries: f.deliveries(),
    });
    expect(streamProblems(records, { from: '1.0.0', to: '2.0.0', deliveries: f.deliveries() })).toEqual([]);
    expect(readyFilesUnder(f.platformDir)).toEqual([]);
    process.stdout.write(
      `blue-green, 30 modules at ${PAGE_MS} ms: ${records.length} streams; took ${formatTimings(await activityTimings(f.client.temporal, id))}\n`,
    );
  });

  test('rolling v1 -> v2 under load (one replica at a time), streams open across each retire', async () => {
    const v1 = await f.result(await f.deployRolling('1.0.0', pythonSpec(f, { pageMs: PAGE_MS })));
    expect(v1.outcome).toBe('succeeded');
    const load = f.load();
    const streams = await openStreams(f, load, '1.0.0');

    let id = '';
    const { value: result, report } = await underLoad(load, async () => {
      id = await f.deployRolling(
        '2.0.0',
        pythonSpec(f, { pageMs: PAGE_MS }, { strategy: { maxSurge: 1, maxUnavailable: 0 } }),
      );
      return f.result(id);
    });
    const records = await closeStreams(streams, '2.0.0');

    expect(result.outcome).toBe('succeeded');
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['2.0.0'] },
      deliveries: f.deliveries(),
    });
    expect(streamProblems(records, { from: '1.0.0', to: '2.0.0', deliveries: f.deliveries() })).toEqual([]);
    expect(readyFilesUnder(f.platformDir)).toEqual([]);
    process.stdout.write(
      `rolling, 30 modules at ${PAGE_MS} ms: ${records.length} streams; took ${formatTimings(await activityTimings(f.client.temporal, id))}\n`,
    );
  });
});
