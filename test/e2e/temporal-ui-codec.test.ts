/**
 * The Temporal UI shows decrypted payloads through `cutover codec-server`: a dev server of its own whose UI is
 * configured with the codec endpoint (`--ui-codec-endpoint`), a codec server allowing only that UI's origin, and
 * real Chromium on the workflow page of an encrypted deployment. The browser calls the codec server's /decode (the UI
 * adds `?preserveStorageRefs=true`) and
 * the page shows the spec's marker value, which the stored history holds only as ciphertext.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/chromium';
import { CODEC_KEYS_FILE_ENV } from '../../shared/codec';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';
import { freePort, startDevServer } from '../support/temporal';
import type { DevServer } from '../support/temporal';

const CLI = path.join(__dirname, '..', '..', 'bin', 'cutover.js');
const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts', 'ui');
const SPEC_MARKER = `ui-spec-MARKER-${randomBytes(4).toString('hex')}`;

let dir: string;
let server: DevServer;
let codec: ChildProcess;
let browser: Browser;
let f: Fixture;
const saved = process.env[CODEC_KEYS_FILE_ENV];

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-ui-codec-'));
  const keyFile = path.join(dir, 'keys.yaml');
  fs.writeFileSync(keyFile, `current: k1\nkeys:\n  k1: ${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  process.env[CODEC_KEYS_FILE_ENV] = keyFile;

  const [uiPort, codecPort] = [await freePort(), await freePort()];
  codec = spawn(
    process.execPath,
    [CLI, 'codec-server', '--port', String(codecPort), '--cors-origin', `http://127.0.0.1:${uiPort}`],
    { env: { ...process.env, [CODEC_KEYS_FILE_ENV]: keyFile }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const first = await new Promise<string>((resolve) => {
    readline.createInterface({ input: codec.stderr! }).once('line', resolve);
    codec.once('exit', () => resolve(''));
  });
  expect(first).toContain(`codec-server on http://127.0.0.1:${codecPort}`);
  server = await startDevServer({ uiPort, extraArgs: ['--ui-codec-endpoint', `http://127.0.0.1:${codecPort}`] });
  f = await createFixture('uicodec', ['Catalog'], { temporalAddress: server.address });
  await f.startInProcessWorker();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await f?.close();
  await server?.stop();
  if (codec && codec.exitCode === null) codec.kill('SIGTERM');
  if (saved === undefined) delete process.env[CODEC_KEYS_FILE_ENV];
  else process.env[CODEC_KEYS_FILE_ENV] = saved;
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the workflow page shows the decrypted input, decoded by the codec server from the browser', async () => {
  const id = await f.deploy('1.0.0', {
    strategy: { approval: { mode: 'required', timeout: '10m' } },
    env: { CUTOVER_TEST_MARKER: SPEC_MARKER },
  });
  await f.waitForPhase(id, 'AwaitingApproval');

  const page = await browser.newPage({ viewport: { width: 1400, height: 2400 } });
  const decoded = page.waitForResponse(
    (r) => new URL(r.url()).pathname === '/decode' && r.request().method() === 'POST',
    {
      timeout: 60_000,
    },
  );
  await page.goto(`${server.uiUrl}/namespaces/default/workflows/${id}`, { waitUntil: 'domcontentloaded' });
  const response = await decoded;
  expect(response.status()).toBe(200);
  expect(await response.headerValue('access-control-allow-origin')).toBe(server.uiUrl);
  await page.getByText(SPEC_MARKER).first().waitFor({ timeout: 60_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'codec-decoded-input.png'), fullPage: true });
  expect(await page.getByText('binary/encrypted').count()).toBe(0);
});
