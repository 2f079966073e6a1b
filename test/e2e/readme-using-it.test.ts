/**
 * The README's "Using it" block, run as a new user would: exactly its command lines, in order, from the repository
 * root — `cutover dev` in the background (in its own process group, stopped at the end by SIGINT as Ctrl-C would),
 * each other line to its end. Then the deployment of examples/specs/blue-green.yaml must have succeeded with
 * alice's approval recorded, and `cutover dev` must have stopped everything it started.
 *
 * The one line not run is the `make provision build` set-up: jest's global setup already requires the build (and the
 * provisioned Temporal CLI), and rebuilding dist/ under the other suites would break them. The only change to the
 * environment: TEMPORAL_ADDRESS and TEMPORAL_UI_PORT name free ports, so `cutover dev` starts its own Temporal server
 * there (not the global setup's) without taking 7233/8233 from anyone; the router keeps the spec's 18080/18081.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { freePort } from '../support/temporal';

const root = path.join(__dirname, '..', '..');

/** The command lines of the first ```sh block under "## Using it", comments removed. */
function usingItCommands(): string[] {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Using it\n'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('README.md: no ```sh block under "## Using it"');
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

function run(command: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', command], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => resolve({ code, out }));
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

let dev: ChildProcess | undefined;

afterAll(async () => {
  if (dev && dev.exitCode === null && dev.signalCode === null) {
    const exited = new Promise((r) => dev!.once('exit', r));
    process.kill(-dev.pid!, 'SIGINT');
    const timer = setTimeout(() => process.kill(-dev!.pid!, 'SIGKILL'), 60_000);
    await exited;
    clearTimeout(timer);
  }
});

test("the README's Using it commands deploy blue-green.yaml, wait at the gate and complete after approval", async () => {
  const commands = usingItCommands();
  // Given the block as written: set-up, then `dev`, then commands that each end by themselves
  expect(commands[0]).toBe('make provision build');
  const devLine = commands.find((c) => /cutover(\.js)? dev\b/.test(c));
  expect(devLine).toBeDefined();
  const rest = commands.filter((c) => c !== devLine && !c.startsWith('make '));
  expect(rest.length).toBeGreaterThanOrEqual(4);
  expect(rest.some((c) => / approve /.test(c))).toBe(true);

  const temporalPort = await freePort();
  const env = {
    ...process.env,
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    TEMPORAL_UI_PORT: String(await freePort()),
  };

  // When `cutover dev` runs in the background
  dev = spawn('bash', ['-c', devLine!], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let devOut = '';
  dev.stdout!.on('data', (d: Buffer) => (devOut += d.toString()));
  dev.stderr!.on('data', (d: Buffer) => (devOut += d.toString()));
  const devExit = new Promise<number | null>((resolve) => dev!.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const tick = setInterval(() => {
      if (devOut.includes('cutover dev: ready')) {
        clearInterval(tick);
        resolve();
      } else if (dev!.exitCode !== null) {
        clearInterval(tick);
        reject(new Error(`cutover dev exited before it was ready:\n${devOut}`));
      }
    }, 100);
  });
  expect(devOut).toContain('router public    http://127.0.0.1:18080');
  expect(devOut).toContain('router admin     http://127.0.0.1:18081');
  expect(devOut).toContain(`Temporal gRPC    127.0.0.1:${temporalPort} (started here`);

  // and every other line runs, in order, to its end
  const outputs: string[] = [];
  for (const command of rest) {
    const { code, out } = await run(command, env);
    outputs.push(out);
    if (code !== 0) throw new Error(`\`${command}\` exited ${code}:\n${out}\n--- cutover dev:\n${devOut.slice(-4000)}`);
  }

  // Then the watch before the approval stopped at the gate, and the last one saw the end
  const gate = outputs[rest.findIndex((c) => c.includes('--until-approval'))]!;
  expect(gate).toContain('AwaitingApproval');
  expect(gate).toContain('waiting for approval');
  expect(outputs[outputs.length - 1]).toContain('[deploy-production-shop] SUCCEEDED');

  // and the deployment succeeded with alice's approval recorded
  const status = await run('node bin/cutover.js status deploy-production-shop --json', env);
  expect(status.code).toBe(0);
  const parsed = JSON.parse(status.out) as {
    outcome?: string;
    version: string;
    approval: { approved?: { by: string } };
  };
  expect(parsed.outcome).toBe('succeeded');
  expect(parsed.version).toBe('2.0.0');
  expect(parsed.approval.approved?.by).toBe('alice');

  // When Ctrl-C reaches `cutover dev`
  process.kill(-dev.pid!, 'SIGINT');
  // Then it stops everything it started and exits 0: the ports are free, no replica is left
  expect(await devExit).toBe(0);
  for (const port of [18080, 18081, 18090, temporalPort]) expect(await portFree(port)).toBe(true);
  const sets = path.join(root, '.cutover', 'dev', 'state', 'platform');
  expect(fs.existsSync(sets) ? fs.readdirSync(sets) : []).toEqual([]);
}, 600_000);
