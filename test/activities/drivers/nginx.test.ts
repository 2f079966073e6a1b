/**
 * The nginx driver with a real nginx (started here on a loopback port) and real sample-app replicas from the local
 * platform behind it: files written atomically, `nginx -t` refusing a change leaves the old files byte for byte,
 * graceful reloads, routing by weight and preview header, register/deregister, verify — and reloads under load
 * (GETs, POSTs, slow requests) judged by expectZeroDowntime.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { newLocalPlatformDriver } from '../../../activities/drivers/local';
import { FLAG_FILE, newNginxDriver } from '../../../activities/drivers/nginx';
import type { Platform, Replica, ReplicaSetSpec, Router } from '../../../activities/ports';
import { DELIVERY_LOG_ENV, readDeliveryLog } from '../../support/delivery-log';
import { expectZeroDowntime, startLoad } from '../../support/load';
import { startNginx } from '../../support/nginx';
import type { NginxServer } from '../../support/nginx';
import type { SampleApp } from './local-support';
import { get, killAll, replicaPids, startSampleApp, tally, tempDir } from './local-support';

jest.setTimeout(120_000);

const MODULES = ['Shop', 'Cart', 'Orders'];
const dir = tempDir('nginx');
/** Every replica and the platform server log their deliveries here (test/support/delivery-log.ts). */
const deliveryLog = path.join(dir, 'deliveries.jsonl');
const appEnv = { [DELIVERY_LOG_ENV]: deliveryLog };
let platform: Platform;
let platformServer: SampleApp;
let nginx: NginxServer;
let driver: Router;
let blue: Replica[];
let green: Replica[];

function spec(name: string, version: string, replicas: number): ReplicaSetSpec {
  return { name, application: 'shop', version, slot: 'blue', modules: MODULES, replicas, env: appEnv };
}

const addresses = (rs: Replica[]) => rs.map((r) => r.address);

async function many(n: number, urlPath: string, headers?: Record<string, string>) {
  return Promise.all(Array.from({ length: n }, () => get(`${nginx.url}${urlPath}`, headers)));
}

/** Every file Cutover wrote, name -> content. */
function snapshot(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(nginx.confDir).sort()) {
    if (name === '.cutover.lock') continue;
    out[name] = fs.readFileSync(path.join(nginx.confDir, name), 'utf8');
  }
  return out;
}

beforeAll(async () => {
  platform = newLocalPlatformDriver({ stateDir: path.join(dir, 'platform'), stopTimeoutMs: 5_000 });
  platformServer = await startSampleApp({ dir, version: 'platform-server', modules: MODULES, env: appEnv });
  [blue, green] = await Promise.all([
    platform.ensureReplicaSet(spec('shop-1-blue', '1.0.0', 2)).then((s) => s.replicas),
    platform.ensureReplicaSet(spec('shop-2-green', '2.0.0', 2)).then((s) => s.replicas),
  ]);
  nginx = await startNginx({ platformServer: platformServer.url, dir: path.join(dir, 'nginx') });
  driver = newNginxDriver(nginx.routerConfig());
});

afterAll(async () => {
  try {
    await nginx?.stop();
    await platformServer?.stop();
    for (const name of fs.readdirSync(path.join(dir, 'platform'))) await platform.retireReplicaSet(name);
  } finally {
    killAll(replicaPids(dir));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('routing through nginx', () => {
  test('before any change: location / serves every module from the platform server', async () => {
    expect((await many(3, '/Shop/')).map((a) => [a.status, a.version])).toEqual(
      Array(3).fill([200, 'platform-server']),
    );
    expect(await driver.readRules(MODULES)).toEqual({});
    expect(await driver.describeBackend('shop-blue')).toBeUndefined();
  });

  test('a backend is an upstream file, a module rule a .location file; only that module moves', async () => {
    await driver.ensureBackend('shop-blue', addresses(blue));
    await driver.setModuleRule('Shop', [{ backend: 'shop-blue', weight: 100 }]);

    const files = snapshot();
    expect(Object.keys(files)).toEqual([
      'Shop.location',
      'backend.shop-blue.upstream',
      'cutover.drain',
      'cutover@close.location',
      'cutover@vars.upstream',
      'module.Shop.upstream',
    ]);
    expect(files['backend.shop-blue.upstream']).toContain(`server ${new URL(blue[0]!.address).host}`);
    expect(files['Shop.location']).toContain('location /Shop/ {\n    set $cutover_upstream $cutover_m_shop_');
    expect(files['Shop.location']).toContain('proxy_pass http://$cutover_upstream;');
    const shop = await many(10, '/Shop/page');
    expect(new Set(shop.map((a) => `${a.status} ${a.version} ${a.backend}`))).toEqual(new Set(['200 1.0.0 shop-blue']));
    expect(tally(shop.map((a) => a.replica))).toEqual(new Map(blue.map((r) => [r.id, 5])));
    expect(await get(`${nginx.url}/Shop`)).toMatchObject({ version: '1.0.0' });
    expect(await get(`${nginx.url}/ShopX/`)).toMatchObject({ version: 'platform-server' });
    expect(await get(`${nginx.url}/Cart/`)).toMatchObject({ version: 'platform-server', backend: 'default' });
    expect(await driver.readRules(MODULES)).toEqual({
      Shop: { module: 'Shop', backends: [{ backend: 'shop-blue', weight: 100 }] },
    });
    expect(await driver.describeBackend('shop-blue')).toEqual(addresses(blue));
  });

  test('weights split traffic (split_clients); weight 0 gets nothing', async () => {
    await driver.ensureBackend('shop-green', addresses(green));
    await driver.setModuleRule('Shop', [
      { backend: 'shop-blue', weight: 80 },
      { backend: 'shop-green', weight: 20 },
    ]);
    const split = tally((await many(400, '/Shop/')).map((a) => a.backend));
    // 400 draws at p = 0.8: mean 320, sd 8; these bounds are more than 6 sd away.
    expect(split.get('shop-blue')).toBeGreaterThan(270);
    expect(split.get('shop-blue')).toBeLessThan(370);
    expect((split.get('shop-blue') ?? 0) + (split.get('shop-green') ?? 0)).toBe(400);

    await driver.setModuleRule('Shop', [
      { backend: 'shop-blue', weight: 100 },
      { backend: 'shop-green', weight: 0 },
    ]);
    expect(tally((await many(100, '/Shop/')).map((a) => a.version))).toEqual(new Map([['1.0.0', 100]]));
    expect((await driver.readRules(['Shop'])).Shop?.backends).toEqual([
      { backend: 'shop-blue', weight: 100 },
      { backend: 'shop-green', weight: 0 },
    ]);
  });

  test('requests with the preview header reach the preview backend, and only those', async () => {
    await driver.preview!.setRule('Shop', 'shop-green');
    await driver.preview!.setRule('Cart', 'shop-green'); // migration: live traffic stays on the platform server

    expect(await get(`${nginx.url}/Shop/`, { 'x-cutover-preview': '1' })).toMatchObject({ version: '2.0.0' });
    expect(await get(`${nginx.url}/Shop/`)).toMatchObject({ version: '1.0.0' });
    expect(await get(`${nginx.url}/Cart/`, { 'x-cutover-preview': 'yes' })).toMatchObject({ version: '2.0.0' });
    expect(await get(`${nginx.url}/Cart/`)).toMatchObject({ version: 'platform-server', backend: 'default' });
    const rules = await driver.readRules(MODULES);
    expect(rules.Shop?.preview).toBe('shop-green');
    expect(rules.Cart).toBeUndefined();

    await driver.preview!.removeRule('Shop');
    await driver.preview!.removeRule('Cart');
    await driver.preview!.removeRule('Cart'); // idempotent
    expect(await get(`${nginx.url}/Shop/`, { 'x-cutover-preview': '1' })).toMatchObject({ version: '1.0.0' });
    expect(await get(`${nginx.url}/Cart/`, { 'x-cutover-preview': '1' })).toMatchObject({ version: 'platform-server' });
    expect(fs.existsSync(path.join(nginx.confDir, 'Cart.location'))).toBe(false);
  });

  test('verify() asks nginx which version answers', async () => {
    await expect(driver.verify('Shop', '1.0.0')).resolves.toMatchObject({
      status: 'verified',
      detail: expect.stringContaining('5/5 answers from 5x version 1.0.0 (backend shop-blue)'),
    });
    const wrong = await driver.verify('Shop', '2.0.0');
    expect(wrong).toMatchObject({ status: 'not-verified', detail: expect.stringContaining('version 1.0.0') });
    expect((await driver.verify('Cart', '1.0.0')).detail).toContain('platform-server');
  });

  test('register/deregister change the upstream; deregister returns once no old worker can use the target', async () => {
    const [b0, b1] = blue as [Replica, Replica];
    await driver.ensureBackend('orders', [b0.address]);
    await driver.setModuleRule('Orders', [{ backend: 'orders', weight: 100 }]);
    await driver.registerTargets('orders', [b1.address]);
    await driver.registerTargets('orders', [b1.address, `${b0.address}/`]); // idempotent, canonical
    expect(await driver.describeBackend('orders')).toEqual([b0.address, b1.address]);
    expect(new Set((await many(20, '/Orders/')).map((a) => a.replica))).toEqual(new Set([b0.id, b1.id]));

    const workersBefore = nginx.workers();
    await driver.deregisterTargets('orders', [b0.address]);
    expect(nginx.workers().filter((pid) => workersBefore.includes(pid))).toEqual([]); // old generation gone
    await driver.deregisterTargets('orders', [b0.address]);
    expect(await driver.describeBackend('orders')).toEqual([b1.address]);
    expect(new Set((await many(20, '/Orders/')).map((a) => a.replica))).toEqual(new Set([b1.id]));
    expect(driver.inFlight).toBeUndefined();

    await expect(driver.removeBackend('orders')).rejects.toMatchObject({
      name: 'RouterRequestRejectedError',
      message: expect.stringContaining('still used by the rule of Orders'),
    });
    await driver.removeModuleRule('Orders');
    await driver.removeModuleRule('Orders'); // idempotent
    await driver.removeBackend('orders');
    expect(await driver.describeBackend('orders')).toBeUndefined();
    expect(await get(`${nginx.url}/Orders/`)).toMatchObject({ version: 'platform-server' });
  });
});

describe('atomic changes, checked by nginx -t', () => {
  test('a change nginx refuses leaves every file as it was, and nginx serving as before', async () => {
    const before = snapshot();
    const workers = nginx.workers();

    await expect(driver.ensureBackend('shop-bad', ['http://no-such-host.invalid:8080'])).rejects.toMatchObject({
      name: 'RouterRequestRejectedError',
      message: expect.stringMatching(/nginx -t refused the new configuration: .*host not found in upstream/),
    });
    expect(snapshot()).toEqual(before);
    expect(fs.readdirSync(nginx.confDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(nginx.workers()).toEqual(workers); // no reload happened
    expect(await get(`${nginx.url}/Shop/`)).toMatchObject({ version: '1.0.0' });
    expect(await driver.describeBackend('shop-bad')).toBeUndefined();
  });

  test('bad requests are refused before anything is written', async () => {
    const before = snapshot();
    await expect(driver.setModuleRule('Shop', [{ backend: 'shop-nope', weight: 100 }])).rejects.toMatchObject({
      name: 'RouterRequestRejectedError',
      message: expect.stringContaining('unknown backend "shop-nope"'),
    });
    await expect(driver.ensureBackend('shop-blue', ['https://10.0.0.1:443'])).rejects.toMatchObject({
      name: 'RouterRequestRejectedError',
    });
    await expect(driver.setModuleRule('Shop', [{ backend: 'shop-blue', weight: 0 }])).rejects.toMatchObject({
      name: 'RouterRequestRejectedError',
    });
    expect(snapshot()).toEqual(before);
  });

  test('a reload that failed after the files were written is done by the next call', async () => {
    const before = (await get(`${nginx.url}/Cart/`)).version;
    const broken = newNginxDriver(nginx.routerConfig({ pidFile: path.join(dir, 'no-such.pid') }));
    await expect(broken.setModuleRule('Cart', [{ backend: 'shop-green', weight: 100 }])).rejects.toMatchObject({
      name: 'Error', // retryable
      message: expect.stringContaining("cannot read nginx's pid file"),
    });
    expect(fs.readFileSync(path.join(nginx.confDir, 'Cart.location'), 'utf8')).toContain('shop-green');
    expect((await get(`${nginx.url}/Cart/`)).version).toBe(before); // written, not live

    await driver.setModuleRule('Cart', [{ backend: 'shop-green', weight: 100 }]); // the activity's retry
    expect(await get(`${nginx.url}/Cart/`)).toMatchObject({ version: '2.0.0', backend: 'shop-green' });
    expect(fs.existsSync(path.join(nginx.confDir, '.cutover.reload-pending'))).toBe(false);
  });

  test('a switch of every module at once is one reload, checked through nginx for each module', async () => {
    for (const m of MODULES) await driver.setModuleRule(m, [{ backend: 'shop-blue', weight: 100 }]);
    const sighups = () => (fs.readFileSync(nginx.errorLog, 'utf8').match(/signal 1 \(SIGHUP\) received/g) ?? []).length;
    const before = sighups();
    await driver.batch!.setModuleRules(MODULES, [{ backend: 'shop-green', weight: 100 }]);
    expect(sighups()).toBe(before + 1);
    for (const m of MODULES) expect(await get(`${nginx.url}/${m}/`)).toMatchObject({ backend: 'shop-green' });
    await driver.batch!.setModuleRules(MODULES, [{ backend: 'shop-green', weight: 100 }]); // a retry: nothing to do
    expect(sighups()).toBe(before + 1);
    await expect(driver.batch!.setModuleRules(MODULES, [{ backend: 'shop-nope', weight: 100 }])).rejects.toMatchObject({
      name: 'RouterRequestRejectedError',
    });
    for (const m of MODULES) await driver.setModuleRule(m, [{ backend: 'shop-blue', weight: 100 }]);
  });

  test('a retried change finds its files written: no second reload', async () => {
    await driver.setModuleRule('Shop', [{ backend: 'shop-blue', weight: 100 }]);
    const workers = nginx.workers();
    await driver.setModuleRule('Shop', [{ backend: 'shop-blue', weight: 100 }]);
    expect(nginx.workers()).toEqual(workers);
  });
});

describe('reloads and keep-alive', () => {
  test('while a reload is under way, responses say Connection: close; otherwise keep-alive', async () => {
    const flag = path.join(nginx.confDir, FLAG_FILE);
    const normal = await fetch(`${nginx.url}/Shop/`);
    await normal.arrayBuffer();
    fs.writeFileSync(flag, 'test');
    try {
      for (const module of ['Shop', 'Cart']) {
        const res = await fetch(`${nginx.url}/${module}/`);
        await res.arrayBuffer();
        expect([module, res.headers.get('connection'), res.status]).toEqual([module, 'close', 200]);
      }
    } finally {
      fs.rmSync(flag);
    }
    expect(normal.headers.get('connection')).toBe('keep-alive');
  });

  /** GETs, POSTs and slow requests through nginx from undici (a client that honours `Connection: close`). */
  const load = (paths: string[]) => startLoad({ url: nginx.url, paths, clients: ['undici'], connections: 4 });

  test('blue -> green -> blue, 12 reloads under load: 0 failed requests', async () => {
    await driver.setModuleRule('Shop', [{ backend: 'shop-blue', weight: 100 }]);
    await driver.setModuleRule('Cart', [{ backend: 'shop-blue', weight: 100 }]);
    const mark = readDeliveryLog(deliveryLog).length;
    const traffic = load(['/Shop/', '/Cart/', '/Shop/item/1', '/Orders/']);
    await traffic.next('flipping');
    for (let i = 0; i < 6; i++) {
      await driver.setModuleRule('Shop', [{ backend: i % 2 === 0 ? 'shop-green' : 'shop-blue', weight: 100 }]);
      await driver.setModuleRule('Cart', [{ backend: i % 2 === 0 ? 'shop-green' : 'shop-blue', weight: 100 }]);
    }
    await traffic.next('after');
    await traffic.waitForRequests();
    const report = await traffic.stop();

    // Orders stays on location / (the platform server) throughout.
    expectZeroDowntime(report, {
      versions: {
        before: ['1.0.0', 'platform-server'],
        flipping: ['1.0.0', '2.0.0', 'platform-server'],
        after: ['1.0.0', 'platform-server'],
      },
      slowAcross: [
        { from: '1.0.0', to: '2.0.0' },
        { from: '2.0.0', to: '1.0.0' },
      ],
      deliveries: readDeliveryLog(deliveryLog).slice(mark),
    });
  });

  test('a rolling replacement (register new, deregister old, retire old) under load: 0 failed requests', async () => {
    await driver.setModuleRule('Shop', [{ backend: 'shop-blue', weight: 100 }]);
    await driver.setModuleRule('Cart', [{ backend: 'shop-blue', weight: 100 }]);
    await platform.ensureReplicaSet(spec('shop-3-rolling', '3.0.0', 0));
    const mark = readDeliveryLog(deliveryLog).length;
    const traffic = load(['/Shop/', '/Cart/']);
    await traffic.next('during');
    for (const [i, old] of blue.entries()) {
      const fresh = await platform.launchReplica('shop-3-rolling', `shop-3-rolling-${i}`);
      await driver.registerTargets('shop-blue', [fresh.address]);
      await driver.deregisterTargets('shop-blue', [old.address]); // returns once no worker can still use it
      await platform.retireReplica('shop-1-blue', old.id);
    }
    await traffic.next('after');
    await traffic.waitForRequests();
    const report = await traffic.stop();

    // deregisterTargets waited for the old nginx workers: each old replica was drained when it was retired.
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0', '3.0.0'], after: ['3.0.0'] },
      slowAcross: [{ from: '1.0.0', to: '3.0.0' }],
      deliveries: readDeliveryLog(deliveryLog).slice(mark),
    });
    await expect(driver.verify('Shop', '3.0.0')).resolves.toMatchObject({ status: 'verified' });
  });
});
