/**
 * The sample app's GET /_drain (examples/sample-app/server.ts), what a Kubernetes preStop hook calls
 * (`platform.preStop: {httpGet: {path: /_drain}}`): from then on answers close their connection, and it answers only
 * once the requests in flight are answered (or after SAMPLE_DRAIN_MAX_MS). Real processes of the built app.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { startSampleApp } from '../activities/drivers/local-support';
import type { SampleApp } from '../activities/drivers/local-support';

interface Answer {
  status: number;
  connection: string | undefined;
  body: string;
  /** The local port of the connection it came on: the same for two answers on one keep-alive connection. */
  localPort: number | undefined;
}

function get(agent: http.Agent, url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers, timeout: 15_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          connection: res.headers.connection,
          body,
          localPort: req.socket?.localPort,
        }),
      );
    });
    req.on('error', reject);
  });
}

describe('sample app GET /_drain', () => {
  let dir = '';
  let app: SampleApp | undefined;
  let agent: http.Agent | undefined;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sample-drain-'));
  });
  afterEach(async () => {
    agent?.destroy();
    await app?.stop();
    app = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('answers once the request in flight is answered; from then on answers close the connection', async () => {
    app = await startSampleApp({ dir, version: '1.0.0', modules: ['Catalog'] });
    agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

    // Given: keep-alive works before the drain (two answers on one connection, no Connection: close).
    const first = await get(agent, `${app.url}/Catalog/a`);
    const second = await get(agent, `${app.url}/Catalog/b`);
    expect(first.connection).toBe('keep-alive');
    expect(second.localPort).toBe(first.localPort);

    // When: /_drain comes while a 1.5 s request is in flight.
    const order: string[] = [];
    const slow = get(agent, `${app.url}/Catalog/slow`, { 'x-sample-delay-ms': '1500' }).then((a) => {
      order.push('slow');
      return a;
    });
    await new Promise((r) => setTimeout(r, 200));
    const drained = get(agent, `${app.url}/_drain`).then((a) => {
      order.push('drain');
      return a;
    });
    const [slowAnswer, drainAnswer] = await Promise.all([slow, drained]);

    // Then: the request in flight is answered first, in full, telling its client to close the connection; the drain
    // answers 200 after it, with nothing left in flight.
    expect(order).toEqual(['slow', 'drain']);
    expect(slowAnswer).toMatchObject({ status: 200, connection: 'close' });
    expect(JSON.parse(slowAnswer.body)).toMatchObject({ path: '/Catalog/slow' });
    expect(drainAnswer.status).toBe(200);
    expect(JSON.parse(drainAnswer.body)).toMatchObject({ drained: true, inFlight: 0 });

    // And: later requests are still answered, each with Connection: close; the health page says it is draining.
    const after = await get(agent, `${app.url}/Catalog/c`);
    expect(after).toMatchObject({ status: 200, connection: 'close' });
    expect((await get(agent, `${app.url}/Catalog/_ping.html`)).status).toBe(503);
  });

  test('waits at most SAMPLE_DRAIN_MAX_MS, then says what is still in flight', async () => {
    app = await startSampleApp({ dir, version: '1.0.0', modules: ['Catalog'], env: { SAMPLE_DRAIN_MAX_MS: '300' } });
    agent = new http.Agent({ keepAlive: true });
    const order: string[] = [];
    const slow = get(agent, `${app.url}/Catalog/slow`, { 'x-sample-delay-ms': '3000' }).then(() => order.push('slow'));
    await new Promise((r) => setTimeout(r, 200));
    const drain = await get(agent, `${app.url}/_drain`);
    order.push('drain');
    expect(JSON.parse(drain.body)).toMatchObject({ drained: false, inFlight: 1 });
    await slow;
    expect(order).toEqual(['drain', 'slow']);
  });
});
