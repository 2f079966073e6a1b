/**
 * Faults between Cutover and the local router's admin API, during real deployments: the real Temporal dev server, the
 * real local platform and router, a worker in this process, and a faulty link (Toxiproxy for TCP faults, the HTTP
 * fault layer for HTTP answers: test/support/http-faults.ts) between the router driver and the admin API. The load
 * generator goes straight to the router's public port: the faults are on the control path only, and traffic must not
 * notice them.
 *
 * Transient faults (resets after a write was applied, 502/503, 429, a black hole) are retried to success with every
 * replica launched once; permanent ones (403/404/400, every time) end the deployment at once, naming the router and
 * what it answered, and compensation puts the rules back on the old version.
 */
import { faultyLink, answer, blackHole, latency, request, resetAfterApplied } from '../../support/http-faults';
import type { FaultyLink } from '../../support/http-faults';
import { activityRuns, retried, runsOf } from '../../support/history';
import { launchesInHistory, localStarts } from '../../support/launches';
import { createFixture } from '../../support/local-fixture';
import type { Fixture } from '../../support/local-fixture';
import { useToxiproxy } from '../../support/toxiproxy';

jest.setTimeout(120_000);

const toxiproxy = useToxiproxy();

const json = (body: unknown) => JSON.stringify(body);
const jsonHeaders = { 'content-type': 'application/json' };

/** The rules as the router itself has them (read straight from the admin API, not through the link). */
async function rulesOf(f: Fixture): Promise<Record<string, string>> {
  const res = await fetch(`${f.stack.adminUrl}/rules`);
  const { rules } = (await res.json()) as {
    rules: Record<string, { backends: { backend: string; weight: number }[] }>;
  };
  return Object.fromEntries(
    Object.entries(rules).map(([m, r]) => [m, r.backends.map((b) => `${b.backend}=${b.weight}`).join(' ')]),
  );
}

describe('faults on the local router admin API', () => {
  let f: Fixture;
  let link: FaultyLink;

  beforeEach(async () => {
    f = await createFixture('fltlocal');
    await f.startInProcessWorker();
    link = await faultyLink(toxiproxy(), 'local-admin', { url: f.stack.adminUrl });
  });

  afterEach(async () => {
    await f.close();
    await link.close();
  });

  test('blue-green v1 -> v2 through a 503, a 429, resets after applied writes, a 502 and a black hole: succeeds, every replica launched once, rules on v2, 0 failed requests', async () => {
    // Given: v1 live (a migration takes green, so v2 comes up as blue), and faults scripted on the admin API.
    expect((await f.result(await f.deploy('1.0.0'))).outcome).toBe('succeeded');
    const app = f.application;
    const [oldColor, newColor] = ['green', 'blue'];
    link.http.inject(
      { name: '503 on discover', match: request('GET', '/rules'), effect: answer(503, 'upstream unavailable') },
      {
        name: '429 on publishing the new backend',
        match: request('PUT', `/backends/${app}-${newColor}`),
        effect: answer(429, json({ message: 'slow down' }), { ...jsonHeaders, 'retry-after': '1' }),
      },
      // The switch sets both modules' rules in one PUT /rules (the driver's batch).
      { name: 'reset after switching', match: request('PUT', '/rules'), effect: resetAfterApplied() },
      { name: 'black hole on the read-back', match: request('GET', '/rules'), effect: blackHole(3_000) },
      { name: '502 while draining', match: request('GET', '/stats'), effect: answer(502, '<html>bad gateway</html>') },
      {
        name: 'reset after removing the old backend',
        match: request('DELETE', `/backends/${app}-${oldColor}`),
        effect: resetAfterApplied(),
      },
    );
    const load = f.load();

    // When: v2, with the router section pointing at the faulty link.
    const id = await f.deploy('2.0.0', { adminUrl: link.url });
    const result = await f.result(id);
    const report = await load.stop();

    // Then: it succeeded, and every fault hit the request it names, once.
    expect(result.outcome).toBe('succeeded');
    expect(link.http.pending()).toEqual([]);
    expect(Object.values(link.http.hits())).toEqual([1, 1, 1, 1, 1, 1]);
    // Each fault cost its activity a retry, and nothing more (switchTraffic met two: the reset, then the black hole).
    const runs = await activityRuns(f.client.temporal, id);
    expect(retried(runs)).toEqual([
      'discoverLiveSets x2',
      'publishReplicaSet x2',
      'switchTraffic x3',
      'drainReplicaSets x2',
      'removeBackend x2',
    ]);
    // Its last failure was the black hole: no answer, then the connection dropped when the hole closed.
    expect(runsOf(runs, 'switchTraffic')[0]?.failure?.message).toMatch(
      new RegExp(`^local router admin API at ${link.url}: GET /rules failed: UND_ERR_SOCKET: other side closed$`),
    );
    // Every replica of v2 was launched exactly once: by one completed activity, as one process.
    const set = `${app}-2-0-0-${newColor}`;
    expect(launchesInHistory(runs)).toEqual({ [`${set}-0`]: 1, [`${set}-1`]: 1 });
    expect(localStarts(f.platformDir, set)).toEqual({ [`${set}-0`]: 1, [`${set}-1`]: 1 });
    expect(f.replicaProcesses().map((p) => `${p.replica} ${p.version}`)).toEqual([`${set}-0 2.0.0`, `${set}-1 2.0.0`]);
    // The rules read back from the router point at v2's backend; traffic never failed.
    expect(await rulesOf(f)).toEqual({ Cart: `${app}-${newColor}=100`, Catalog: `${app}-${newColor}=100` });
    for (const m of f.modules) expect(await f.versionOf(m)).toBe('2.0.0');
    expect(report.failed).toBe(0);
    expect(report.byVersion['2.0.0']).toBeGreaterThan(0);
  });

  test('rolling v1 -> v2 with latency on every admin call, resets after register/deregister, a 503 and a 429: succeeds, every replica launched once, 0 failed requests', async () => {
    // Given: v1 live from the rolling backend, and 150 ms of latency on every answer of the admin API.
    const strategy = { maxSurge: 1, maxUnavailable: 0, drainTimeout: '2s' };
    expect((await f.result(await f.deployRolling('1.0.0', { strategy }))).outcome).toBe('succeeded');
    const backend = `${f.application}-rolling`;
    await link.tcp.addToxic({
      name: 'steady-latency',
      type: 'latency',
      stream: 'downstream',
      attributes: { latency: 150, jitter: 50 },
    });
    link.http.inject(
      {
        name: 'reset after registering',
        match: request('POST', `/backends/${backend}/register`),
        effect: resetAfterApplied(),
      },
      {
        name: '503 on the read-back',
        match: request('GET', `/backends/${backend}`),
        effect: answer(503, json({ message: 'busy' }), jsonHeaders),
      },
      {
        name: 'reset after deregistering',
        match: request('POST', `/backends/${backend}/deregister`),
        effect: resetAfterApplied(),
      },
      {
        name: '429 on registering (second batch)',
        match: request('POST', `/backends/${backend}/register`),
        effect: answer(429, json({ message: 'too many requests' }), jsonHeaders),
      },
      {
        name: '2 s more latency on deregistering (second batch)',
        match: request('POST', `/backends/${backend}/deregister`),
        effect: latency(2_000, 2_500),
      },
    );
    const load = f.load();

    // When
    const id = await f.deployRolling('2.0.0', { strategy, adminUrl: link.url });
    const result = await f.result(id);
    const report = await load.stop();

    // Then
    expect(result.outcome).toBe('succeeded');
    expect(link.http.pending()).toEqual([]);
    expect(Object.values(link.http.hits())).toEqual([1, 1, 1, 1, 1]);
    const runs = await activityRuns(f.client.temporal, id);
    // Batch 1: register met the reset, then the 503 on its read-back; deregister met a reset. Batch 2: the 429. The
    // latency cost nothing but time (below the driver's 10 s deadline).
    expect(retried(runs)).toEqual(['registerSetTargets x3', 'deregisterSetTargets x2', 'registerSetTargets x2']);
    const launched = launchesInHistory(runs);
    const ids = Object.keys(launched).sort();
    expect(ids).toHaveLength(2);
    expect(Object.values(launched)).toEqual([1, 1]);
    const set = ids[0]?.replace(/-\d+$/, '') ?? '';
    expect(localStarts(f.platformDir, set)).toEqual(launched);
    expect(f.replicaProcesses().map((p) => p.replica)).toEqual(ids);
    expect((await f.backendTargets(backend))?.length).toBe(2);
    expect(await rulesOf(f)).toEqual({ Cart: `${backend}=100`, Catalog: `${backend}=100` });
    for (const m of f.modules) expect(await f.versionOf(m)).toBe('2.0.0');
    expect(report.failed).toBe(0);
  });

  test.each([
    {
      status: 403,
      what: 'the switch to the new backend',
      match: (app: string) => request('PUT', /^\/rules(\/\w+)?$/, `${app}-blue`),
      message: 'rule changes are frozen by policy',
      failing: 'switchTraffic',
    },
    {
      status: 404,
      what: 'publishing the new backend',
      match: (app: string) => request('PUT', `/backends/${app}-blue`),
      message: 'no admin route PUT /backends',
      failing: 'publishReplicaSet',
    },
    {
      status: 400,
      what: 'the switch to the new backend',
      match: (app: string) => request('PUT', /^\/rules(\/\w+)?$/, `${app}-blue`),
      message: 'modules.Catalog.backends[0].weight: expected a number',
      failing: 'switchTraffic',
    },
  ])(
    'a permanent $status on $what: fails fast (one attempt) naming the router and its answer; rules read back on v1, the new side retired',
    async ({ status, match, message, failing }) => {
      // Given: v1 live (green), and the admin API refusing one kind of request, every time.
      expect((await f.result(await f.deploy('1.0.0'))).outcome).toBe('succeeded');
      const app = f.application;
      const before = await rulesOf(f);
      link.http.inject({
        name: `${status} for good`,
        match: match(app),
        times: Infinity,
        effect: answer(status, json({ error: 'refused', message }), jsonHeaders),
      });
      const load = f.load();

      // When
      const id = await f.deploy('2.0.0', { adminUrl: link.url });
      const result = await f.result(id);
      const report = await load.stop();

      // Then: rolled back, with a reason that names the router, the request and what it answered.
      expect(result.outcome).toBe('rolled-back');
      const reason = result.reason ?? '';
      expect(reason).toContain(`local router admin API at ${link.url}: PUT /`);
      expect(reason).toContain(`answered ${status}: ${message}`);
      // One attempt, not a retry loop: the failing activity ran once and was not retried.
      const runs = await activityRuns(f.client.temporal, id);
      expect(runsOf(runs, failing).map((r) => [r.outcome, r.attempt, r.failure?.type])).toEqual([
        ['failed', 1, 'RouterRequestRejectedError'],
      ]);
      expect(retried(runs)).toEqual([]);
      expect(link.http.hits()[`${status} for good`]).toBe(1);
      // Compensation: the rules read back exactly as before (v1's backend), v2's replicas and backend are gone.
      expect(await rulesOf(f)).toEqual(before);
      expect(before).toEqual({ Cart: `${app}-green=100`, Catalog: `${app}-green=100` });
      for (const m of f.modules) expect(await f.versionOf(m)).toBe('1.0.0');
      expect(f.replicaProcesses().map((p) => p.version)).toEqual(['1.0.0', '1.0.0']);
      expect((await f.platform.listReplicaSets(app)).map((s) => s.version)).toEqual(['1.0.0']);
      expect(await f.backendTargets(`${app}-blue`)).toBeUndefined();
      expect(report.failed).toBe(0);
    },
  );
});
