/**
 * The load accounting itself (examples/load.ts, examples/load/*, test/support/delivery-log.ts): what counts as ok,
 * failed, wrong version or unfinished, by the phase a request started in; what the delivery log proves; and how the
 * two client classes behave against a server that closes its connections — on real sockets (node:http), fast.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { judgeLoad, startLoad } from '../../examples/load';
import { LoadRecorder, NO_VERSION, judgeAnswer } from '../../examples/load/report';
import type { Outcome } from '../../examples/load/report';
import { TrafficPlanner } from '../../examples/load/traffic';
import type { RequestKind } from '../../examples/load/traffic';
import { deliveryProblems, slowRequestsAcross } from '../support/delivery-log';
import type { DeliveryEvent } from '../support/delivery-log';

const ok = (version: string): Outcome => ({ ok: true, version });

/** A recorder with `n` requests of every kind per phase, answered by `version(phase)`. */
function recorded(phases: string[], version: (phase: string) => string, n = 20): LoadRecorder {
  const planner = new TrafficPlanner({ paths: ['/A/'] });
  const recorder = new LoadRecorder(phases[0] as string);
  phases.forEach((phase, i) => {
    if (i > 0) recorder.startPhase(phase);
    for (let k = 0; k < n; k++) {
      const plan = k % 10 === 9 ? planner.nextSlow() : planner.nextOrdinary();
      recorder.finish(recorder.start(plan, 'undici'), ok(version(phase)));
    }
  });
  return recorder;
}

const upgrade = { before: ['1'], during: ['1', '2'], after: ['2'] };

describe('judgeLoad', () => {
  test('passes a load with its minimum per phase, every kind, nothing failed, the expected versions', () => {
    const report = recorded(['before', 'during', 'after'], (p) => (p === 'after' ? '2' : '1')).report(['undici']);
    expect(judgeLoad(report, { versions: upgrade })).toEqual({ problems: [], failed: 0 });
  });

  test('a 2xx from an unexpected version, or without a version header, fails and says where', () => {
    const recorder = recorded(['before', 'during'], () => '1');
    recorder.startPhase('after');
    const planner = new TrafficPlanner({ paths: ['/A/'] });
    for (let k = 0; k < 20; k++) {
      const plan = k === 0 ? planner.nextSlow() : planner.nextOrdinary();
      recorder.finish(recorder.start(plan, 'undici'), ok(k < 3 ? '1' : k === 3 ? NO_VERSION : '2'));
    }
    expect(judgeLoad(recorder.report(['undici']), { versions: upgrade })).toEqual({
      problems: [`phase "after": 4 answers from unexpected versions (1: 3, ${NO_VERSION}: 1; expected 2)`],
      failed: 4,
    });
  });

  test('a request counts in the phase it started in, however late it finishes', () => {
    const recorder = recorded(['before'], () => '1');
    const planner = new TrafficPlanner({ paths: ['/A/'] });
    const slow = recorder.start(planner.nextSlow(), 'undici'); // started on 1 before the switch
    recorder.startPhase('during');
    recorder.finish(slow, ok('1'));
    expect(recorder.report(['undici']).phases.map((p) => [p.phase, p.sent, p.byKind.slow])).toEqual([
      ['before', 21, 3],
      ['during', 0, 0],
    ]);
  });

  test('too few requests, a kind or a client class missing, failures, unfinished requests, unknown phases', () => {
    const recorder = recorded(['before'], () => '1');
    recorder.startPhase('during');
    const planner = new TrafficPlanner({ paths: ['/A/'] });
    recorder.finish(recorder.start(planner.nextOrdinary(), 'undici'), { ok: false, failure: 'HTTP 502' });
    recorder.start(planner.nextOrdinary(), 'undici'); // never answered
    recorder.startPhase('later');
    const report = recorder.report(['undici', 'autocannon']);
    expect(judgeLoad(report, { versions: { before: ['1'], during: ['1'], gone: ['1'] } }).problems).toEqual([
      'phase "gone" never started',
      'phase "before": no request from autocannon',
      'phase "during": only 2 requests started (minimum 20)',
      'phase "during": no post or slow request started',
      'phase "during": no request from autocannon',
      'phase "during": 1 failed (HTTP 502: 1)',
      'phase "during": 1 unfinished (never answered)',
      'phase "later" has no expected versions',
    ]);
  });
});

describe('LoadRecorder.waitForRequests', () => {
  test('waits for a request from every client class, not only for the minimum and every kind', async () => {
    const planner = new TrafficPlanner({ paths: ['/A/'] });
    const recorder = new LoadRecorder('after');
    for (let k = 0; k < 20; k++) recorder.finish(recorder.start(planner.nextOrdinary(), 'undici'), ok('2'));
    let resolved = false;
    const waiting = recorder.waitForRequests(20, ['get'], 5_000, ['undici', 'autocannon']).then(() => {
      resolved = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(resolved).toBe(false);
    recorder.finish(recorder.start(planner.nextOrdinary(), 'autocannon'), ok('2'));
    await waiting;
    expect(resolved).toBe(true);
  });

  test('names the silent client class when it times out', async () => {
    const planner = new TrafficPlanner({ paths: ['/A/'] });
    const recorder = new LoadRecorder('after');
    for (let k = 0; k < 20; k++) recorder.finish(recorder.start(planner.nextOrdinary(), 'undici'), ok('2'));
    await expect(recorder.waitForRequests(20, ['get'], 50, ['undici', 'autocannon'])).rejects.toThrow(
      'load phase "after": 20/20 finished, no request from autocannon within 50 ms',
    );
  });
});

describe('judgeAnswer', () => {
  const planner = new TrafficPlanner({ paths: ['/A/'], postEvery: 1 });
  const answer = (status: number, headers: Record<string, string>, body = '{}') => ({
    status,
    body,
    header: (name: string) => headers[name],
  });

  test('ok only for a 2xx echoing the request id, with the whole POST body received', () => {
    const post = planner.nextOrdinary();
    const bytes = Buffer.byteLength(post.body ?? '');
    const echo = { 'x-request-id': post.id, 'x-cutover-version': '2' };
    expect(judgeAnswer(post, answer(200, echo, JSON.stringify({ bodyBytes: bytes })))).toEqual(ok('2'));
    expect(judgeAnswer(post, answer(200, echo, JSON.stringify({ bodyBytes: bytes - 1 })))).toEqual({
      ok: false,
      failure: 'POST body not received whole',
    });
    expect(judgeAnswer(post, answer(200, { ...echo, 'x-request-id': 'someone-else' }))).toEqual({
      ok: false,
      failure: 'answer to another request',
    });
    expect(judgeAnswer(post, answer(200, { 'x-cutover-version': '2' }))).toEqual({
      ok: false,
      failure: 'answer without x-request-id',
    });
    expect(judgeAnswer(post, answer(502, echo))).toEqual({ ok: false, failure: 'HTTP 502 from 2' }); // an error names the version that gave it;
  });
});

describe('the delivery log', () => {
  /** A report of one slow POST (id s) answered by 1, and one GET (id g) answered by 2. */
  function report() {
    const recorder = new LoadRecorder('only');
    const plan = (id: string, kind: RequestKind, method: 'GET' | 'POST') =>
      ({ id, kind, method, path: '/A/', headers: {} }) as const;
    recorder.finish(recorder.start(plan('s', 'slow', 'POST'), 'undici'), ok('1'));
    recorder.finish(recorder.start(plan('g', 'get', 'GET'), 'undici'), ok('2'));
    return recorder.report(['undici']);
  }
  const at = (replica: string, version: string) => ({
    received: (id: string, method = 'GET'): DeliveryEvent => ({ event: 'received', id, method, version, replica }),
    answered: (id: string): DeliveryEvent => ({ event: 'answered', id, status: 200, version, replica }),
    stopping: (): DeliveryEvent => ({ event: 'stopping', version, replica }),
  });
  const blue = at('blue-0', '1');
  const blue1 = at('blue-1', '1');
  const green = at('green-0', '2');

  test('a slow request running on the old version while the new one got traffic, finished there, crossed the switch', () => {
    const log = [
      blue.received('s', 'POST'),
      green.received('g'),
      green.answered('g'),
      blue.answered('s'),
      blue.stopping(),
    ];
    expect(slowRequestsAcross(log, report(), { from: '1', to: '2' })).toEqual(['s']);
    expect(deliveryProblems(log, report(), { slowAcross: [{ from: '1', to: '2' }] })).toEqual([]);
    // Finished before the new version got traffic: proves nothing.
    const before = [blue.received('s', 'POST'), blue.answered('s'), green.received('g'), green.answered('g')];
    expect(slowRequestsAcross(before, report(), { from: '1', to: '2' })).toEqual([]);
  });

  test('a POST delivered twice, a stop with a request in flight, a request after the stop are each reported', () => {
    const log = [
      blue.received('s', 'POST'),
      blue.stopping(),
      blue1.received('s', 'POST'), // the same POST replayed on another replica
      blue1.answered('s'),
      blue.answered('s'),
      green.received('g'),
      green.stopping(),
      green.answered('g'),
      green.received('late'),
    ];
    expect(deliveryProblems(log, report())).toEqual([
      'POST s was delivered 2 times: blue-0 (1), blue-1 (1)',
      'replica blue-0 (1) was stopped with 1 request(s) in flight: s',
      'replica green-0 (2) was stopped with 1 request(s) in flight: g',
      'request late reached replica green-0 after it was stopped',
    ]);
    expect(deliveryProblems(log, report(), { drained: false })).toEqual([
      'POST s was delivered 2 times: blue-0 (1), blue-1 (1)',
    ]);
  });

  test('an ok answer no replica logged means the log cannot be trusted', () => {
    expect(deliveryProblems([blue.received('s', 'POST'), blue.answered('s')], report())).toEqual([
      '1 ok answers have no delivery by the version that answered (e.g. g): the delivery log is incomplete, ' +
        'or an answer was not what it claimed',
    ]);
  });
});

describe('the client classes against a server that closes every connection after one answer', () => {
  let server: http.Server;
  let url: string;
  let answers = 0;

  beforeAll(async () => {
    // Answers like the sample app (request id echoed, body bytes counted), each with `Connection: close`.
    server = http.createServer((req, res) => {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => (bytes += chunk.length));
      req.on('end', () => {
        const delay = Number(req.headers['x-sample-delay-ms'] ?? 0);
        setTimeout(() => {
          answers++;
          res.writeHead(200, {
            connection: 'close',
            'x-cutover-version': '1',
            'x-request-id': String(req.headers['x-request-id']),
          });
          res.end(JSON.stringify({ bodyBytes: bytes }));
        }, delay);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const run = async (client: 'undici' | 'autocannon') => {
    const load = startLoad({ url, paths: ['/A/'], clients: [client], slowConnections: 1, slowMs: 300 });
    await load.waitForRequests(40);
    return load.stop();
  };

  test('undici honours Connection: close: every request answered, stop() waited for the slow one', async () => {
    const report = await run('undici');
    expect(judgeLoad(report, { versions: { before: ['1'] } })).toEqual({ problems: [], failed: 0 });
  });

  test('autocannon writes its next request on the closing connection: each such request is counted, none lost', async () => {
    const before = answers;
    const report = await run('autocannon');
    // Every request it started has an outcome: an answer, or a failure ("no answer", a reset); none unfinished.
    expect(report.unfinished).toBe(0);
    expect(report.failed).toBeGreaterThan(0);
    expect(Object.keys(report.errors).length).toBeGreaterThan(0);
    expect(report.ok + report.failed).toBe(report.sent);
    expect(report.ok).toBeLessThanOrEqual(answers - before);
  });
});

describe('stop()', () => {
  test('waits for the requests in flight at most about the request timeout; what is left is unfinished', async () => {
    // Accepts requests and never answers them.
    const sockets = new Set<Socket>();
    const server = http.createServer(() => undefined);
    server.on('connection', (s) => sockets.add(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const load = startLoad({ url, paths: ['/A/'], clients: ['undici', 'autocannon'], timeoutMs: 60_000 });
      await new Promise((r) => setTimeout(r, 200));
      const stopping = load.stop();
      // A request timeout of 60 s bounds the wait; the test ends it by closing the server's sockets instead.
      for (const s of sockets) s.destroy();
      const report = await stopping;
      expect(report.ok).toBe(0);
      expect(report.sent).toBe(report.failed + report.unfinished);
      expect(report.sent).toBeGreaterThan(0);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
