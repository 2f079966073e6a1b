/**
 * `cutover dev` supervises what it starts: when the router (or any other part) dies, it says which and stops the
 * rest with exit 1, rather than leaving a half-working stack; and when `cutover dev` itself is SIGKILLed, its
 * watchdog stops every part it had started (Temporal, the worker, the router, the stand-in platform server). Both on
 * free ports, with `cutover dev` starting its own Temporal dev server.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../support/temporal';

const root = path.join(__dirname, '..', '..');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Pids of live processes whose command line contains `needle` (read from /proc). */
function pidsWith(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

interface Dev {
  child: ChildProcess;
  output(): string;
  exit: Promise<number | null>;
  ports: number[];
  stateDir: string;
}

async function startDev(): Promise<Dev> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-dev-supervision-'));
  const [router, admin, platform, temporal, ui] = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
  const args = ['bin/cutover.js', 'dev', '--router-port', String(router), '--admin-port', String(admin)];
  args.push('--platform-port', String(platform), '--ui-port', String(ui), '--state-dir', stateDir);
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${temporal}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for (;;) {
    if (out.includes('cutover dev: ready')) break;
    if (child.exitCode !== null) throw new Error(`cutover dev exited before it was ready:\n${out}`);
    await sleep(100);
  }
  return { child, output: () => out, exit, ports: [router, admin, platform, temporal] as number[], stateDir };
}

/** Waits until every port is free again (the parts' processes are gone), at most `ms`. */
async function expectPortsFreed(ports: number[], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  let taken = ports;
  while (Date.now() < deadline) {
    const free = await Promise.all(ports.map(portFree));
    taken = ports.filter((_, i) => !free[i]);
    if (taken.length === 0) return;
    await sleep(250);
  }
  throw new Error(`ports still taken after ${ms} ms: ${taken.join(', ')}`);
}

let dev: Dev | undefined;

afterEach(async () => {
  if (dev && dev.child.exitCode === null && dev.child.signalCode === null) dev.child.kill('SIGKILL');
  if (dev) fs.rmSync(dev.stateDir, { recursive: true, force: true });
  dev = undefined;
});

test('the router dies: cutover dev names it, stops the rest and exits 1', async () => {
  dev = await startDev();
  const [routerPid] = pidsWith(`router-main.js --port ${dev.ports[0]}`);
  expect(routerPid).toBeDefined();
  process.kill(routerPid!, 'SIGKILL');
  expect(await dev.exit).toBe(1);
  expect(dev.output()).toContain('[dev] the router (exit signal) stopped unexpectedly: stopping the rest');
  await expectPortsFreed(dev.ports, 30_000);
}, 240_000);

test('cutover dev is SIGKILLed: its watchdog stops Temporal, the worker, the router and the platform server', async () => {
  dev = await startDev();
  const parts = [...pidsWith(`--state-file ${path.join(dev.stateDir, 'router-rules.json')}`)];
  expect(parts).toHaveLength(1); // the router, found by its rule file in this state dir
  dev.child.kill('SIGKILL');
  await dev.exit;
  // The watchdog polls every second, then SIGTERMs and, 10 s later, SIGKILLs what is left.
  await expectPortsFreed(dev.ports, 30_000);
  expect(pidsWith(dev.stateDir)).toEqual([]);
}, 240_000);
