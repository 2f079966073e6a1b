/**
 * `cutover dev` and `cutover router` refuse a port that is taken before they start anything, naming the port and
 * what wanted it (exit 4); `status --until-approval` without `--watch` is bad input (exit 2). The compiled CLI, as a
 * person runs it.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const bin = path.join(__dirname, '..', '..', 'bin', 'cutover.js');

function cutover(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: process.env }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

let taken: net.Server;
let port: number;
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-dev-cmd-'));
  taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  port = (taken.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => taken.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('cutover dev names the taken router port and what wanted it, and starts nothing', async () => {
  const stateDir = path.join(dir, 'dev');
  const { code, stderr, stdout } = await cutover('dev', '--router-port', String(port), '--state-dir', stateDir);
  expect(code).toBe(4);
  expect(stderr).toContain(`port ${port} on 127.0.0.1 is already in use; the router (public, --router-port`);
  expect(stdout).not.toContain('ready');
  expect(fs.existsSync(path.join(stateDir, 'temporal.log'))).toBe(false);
});

test('cutover dev names a taken platform server port', async () => {
  const { code, stderr } = await cutover('dev', '--platform-port', String(port), '--state-dir', path.join(dir, 'd2'));
  expect(code).toBe(4);
  expect(stderr).toContain(`port ${port} on 127.0.0.1 is already in use; the stand-in platform server`);
});

test('cutover router names its taken admin port', async () => {
  const { code, stderr } = await cutover(
    'router',
    '--port',
    '0',
    '--admin-port',
    String(port),
    '--state-file',
    path.join(dir, 'rules.json'),
    '--default-target',
    'http://127.0.0.1:9',
  );
  expect(code).toBe(4);
  expect(stderr).toContain(`port ${port} on 127.0.0.1 is already in use; the router (admin API, --admin-port)`);
});

test('cutover router refuses a default target that is not a URL, naming the option', async () => {
  const { code, stderr } = await cutover('router', '--default-target', 'nowhere');
  expect(code).toBe(2);
  expect(stderr).toContain("option '--default-target <url>' argument 'nowhere' is invalid");
});

test('status --until-approval needs --watch', async () => {
  const { code, stderr } = await cutover('status', 'deploy-x', '--until-approval');
  expect(code).toBe(2);
  expect(stderr).toContain('--until-approval needs --watch');
});
