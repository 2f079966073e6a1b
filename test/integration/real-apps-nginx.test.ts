/**
 * Issue 15 through a real nginx: the Python application (not Cutover's code; it listens on PORT) with pages of
 * 300 ms on 10 modules, deployed blue-green and rolling under the strict load through nginx, with server-sent event
 * streams open across the switch and the retire. An open stream keeps the nginx worker that accepted it alive after
 * a reload; the reload waits for old workers only up to `router.reload.timeout` (here 5 s, above every ordinary
 * request of the load) and leaves the stream to its worker, which keeps it on the old replica until that replica is
 * retired and ends it with "bye"; the reconnect reaches a new worker and the new version.
 */
import { activityTimings, formatTimings } from '../support/history';
import { expectZeroDowntime, underLoad } from '../support/load';
import type { Load } from '../support/load';
import { createNginxFixture } from '../support/nginx-fixture';
import type { NginxFixture } from '../support/nginx-fixture';
import { moduleNames, pythonSpec, readyFilesUnder } from '../support/python-app';
import { startStreams, streamProblems } from '../support/streams';
import type { Streams } from '../support/streams';

jest.setTimeout(300_000);

const PAGE_MS = 300;
const modules = moduleNames(10);
/** Old workers holding streams are waited for this long at a reload (ordinary requests here last at most 2.8 s). */
const router = { reload: { drain: '300ms', timeout: '5s' } };

async function until(check: () => boolean, what: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function openStreams(f: NginxFixture, load: Load): Promise<Streams> {
  const streams = startStreams({
    url: f.nginx.url,
    modules: modules.slice(0, 2),
    lanes: 4,
    phase: () => load.currentPhase,
  });
  await until(() => streams.records().filter((r) => r.version === '1.0.0').length >= 4, 'four streams open');
  return streams;
}

async function closeStreams(streams: Streams) {
  await until(() => {
    const last = new Map(streams.records().map((r) => [r.lane, r]));
    return [...last.values()].every((r) => r.version === '2.0.0' && r.ended === undefined);
  }, 'every stream on 2.0.0');
  return streams.stop();
}

describe('a Python application with slow pages and long-lived connections, through nginx', () => {
  let f: NginxFixture;

  beforeEach(async () => {
    f = await createNginxFixture('pyngx', modules);
  });

  afterEach(async () => {
    await f.close();
  });

  test('blue-green v1 -> v2: 0 failed requests, streams end gracefully on v1 and reconnect to v2', async () => {
    const v1 = await f.result(await f.deploy('1.0.0', pythonSpec(f, { pageMs: PAGE_MS }, { router })));
    expect(v1.outcome).toBe('succeeded');
    const load = f.load();
    const streams = await openStreams(f, load);

    let id = '';
    const { value: result, report } = await underLoad(load, async () => {
      id = await f.deploy('2.0.0', pythonSpec(f, { pageMs: PAGE_MS }, { router, strategy: { rollbackWindow: '2s' } }));
      return f.result(id);
    });
    const records = await closeStreams(streams);

    expect(result.outcome).toBe('succeeded');
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['2.0.0'] },
      slowAcross: [{ from: '1.0.0', to: '2.0.0' }],
      deliveries: f.deliveries(),
    });
    expect(streamProblems(records, { from: '1.0.0', to: '2.0.0', deliveries: f.deliveries() })).toEqual([]);
    expect(readyFilesUnder(f.platformDir)).toEqual([]);
    process.stdout.write(
      `nginx blue-green, ${modules.length} modules at ${PAGE_MS} ms: ${records.length} streams; took ${formatTimings(await activityTimings(f.client.temporal, id))}\n`,
    );
  });

  test('rolling v1 -> v2, one replica at a time: 0 failed requests, streams reconnect until they reach v2', async () => {
    const v1 = await f.result(await f.deployRolling('1.0.0', pythonSpec(f, { pageMs: PAGE_MS }, { router })));
    expect(v1.outcome).toBe('succeeded');
    const load = f.load();
    const streams = await openStreams(f, load);

    let id = '';
    const { value: result, report } = await underLoad(load, async () => {
      id = await f.deployRolling(
        '2.0.0',
        pythonSpec(f, { pageMs: PAGE_MS }, { router, strategy: { maxSurge: 1, maxUnavailable: 0 } }),
      );
      return f.result(id);
    });
    const records = await closeStreams(streams);

    expect(result.outcome).toBe('succeeded');
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['2.0.0'] },
      deliveries: f.deliveries(),
    });
    expect(streamProblems(records, { from: '1.0.0', to: '2.0.0', deliveries: f.deliveries() })).toEqual([]);
    process.stdout.write(
      `nginx rolling, ${modules.length} modules at ${PAGE_MS} ms: ${records.length} streams; took ${formatTimings(await activityTimings(f.client.temporal, id))}\n`,
    );
  });
});
