/**
 * Payload encryption end to end, on the real Temporal dev server with the local platform and router: with keys
 * configured (CUTOVER_CODEC_KEYS_FILE), a blue-green deployment whose spec carries a recognisable env value is
 * approved through the CLI with a recognisable comment. The history the Temporal service stores, read through the
 * raw API by a client without the codec, holds neither string anywhere (every byte of every event), while the CLI
 * (`status --json`, with the keys) shows the comment and `cutover codec-server` decodes the stored payloads back to
 * the spec. The codec server answers the UI's CORS preflight for the allowed origin only and refuses calls without
 * the right bearer token.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter, METADATA_ENCODING_KEY } from '@temporalio/common';
import type { Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { payloadsFromJson, payloadsToJson } from '../../client/codec-server';
import { CODEC_KEYS_FILE_ENV, EncryptionCodec, parseKeyList } from '../../shared/codec';
import { createFixture, temporalAddress } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';

const CLI = path.join(__dirname, '..', '..', 'bin', 'cutover.js');
const SPEC_MARKER = `spec-value-MARKER-${randomBytes(4).toString('hex')}`;
const FAILURE_MARKER = `failure-MARKER-${randomBytes(4).toString('hex')}`;
const COMMENT_MARKER = `approval-comment-MARKER-${randomBytes(4).toString('hex')}`;
const UI_ORIGIN = 'http://localhost:8233';
const TOKEN = randomBytes(16).toString('hex');

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/**
 * Runs the CLI without blocking this process (the in-process worker must keep answering while it waits).
 */
function cutover(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ status: code, stdout, stderr });
    });
  });
}

/** Every payload anywhere in an event (input, result, signal and update arguments, memo, ...), found by shape. */
function payloadsIn(value: unknown, found: Payload[] = []): Payload[] {
  if (Array.isArray(value)) {
    for (const v of value) payloadsIn(v, found);
  } else if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const o = value as Record<string, unknown>;
    if (o.metadata && typeof o.metadata === 'object' && o.data instanceof Uint8Array) found.push(o);
    else for (const v of Object.values(o)) payloadsIn(v, found);
  }
  return found;
}

describe('payload encryption: the history holds ciphertext, the CLI and the codec server show the values', () => {
  let f: Fixture;
  let dir: string;
  let keyFile: string;
  let env: NodeJS.ProcessEnv;
  let raw: Client;
  let id: string;
  let events: HistoryEvent[];
  let codecServer: { child: ChildProcess; url: string } | undefined;
  const saved = process.env[CODEC_KEYS_FILE_ENV];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-codec-it-'));
    keyFile = path.join(dir, 'keys.yaml');
    // Two keys, as after a rotation: "2026-12" encrypts, "2026-06" still decrypts.
    fs.writeFileSync(
      keyFile,
      `current: "2026-12"\nkeys:\n  "2026-06": ${randomBytes(32).toString('base64')}\n  "2026-12": ${randomBytes(32).toString('base64')}\n`,
      { mode: 0o600 },
    );
    fs.writeFileSync(path.join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
    // The fixture's client and in-process worker read the keys from the environment, as the CLI and worker do.
    process.env[CODEC_KEYS_FILE_ENV] = keyFile;
    env = { ...process.env, TEMPORAL_ADDRESS: temporalAddress(), [CODEC_KEYS_FILE_ENV]: keyFile };
    f = await createFixture('codec');
    await f.startInProcessWorker();
    raw = new Client({ connection: await Connection.connect({ address: temporalAddress() }) });

    // Given: a deployment with a recognisable spec value, approved through the CLI with a recognisable comment.
    id = await f.deploy('2.0.0', {
      strategy: { approval: { mode: 'required', timeout: '10m' } },
      env: { CUTOVER_TEST_MARKER: SPEC_MARKER },
    });
    await f.waitForPhase(id, 'AwaitingApproval');
    const approve = await cutover(
      ['approve', id, '--by', 'alice', '--version', '2.0.0', '--reason', COMMENT_MARKER],
      env,
    );
    expect(approve.stderr).toBe('');
    expect(approve.status).toBe(0);
    const result = await f.result(id);
    expect(result.outcome).toBe('succeeded');
    events = (await raw.workflow.getHandle(id).fetchHistory()).events ?? [];
  });

  afterAll(async () => {
    if (codecServer && codecServer.child.exitCode === null) codecServer.child.kill('SIGKILL');
    await f?.close();
    await raw?.connection.close();
    if (saved === undefined) delete process.env[CODEC_KEYS_FILE_ENV];
    else process.env[CODEC_KEYS_FILE_ENV] = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the stored history holds neither the spec value nor the approval comment, in any byte', () => {
    const signal = events.find((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'approve');
    expect(signal).toBeDefined();
    // Search attributes must stay readable for the server to index them (application, environment, version, phase),
    // and a patch marker holds only the patch's name: neither goes through a codec. Every other payload is sealed.
    const unsealable = (e: HistoryEvent) =>
      Boolean(e.upsertWorkflowSearchAttributesEventAttributes) ||
      e.markerRecordedEventAttributes?.markerName === 'core_patch';
    const payloads = payloadsIn(events.filter((e) => !unsealable(e)));
    // Workflow input, activity inputs and results, the approve signal, the result: all of them sealed.
    expect(payloads.length).toBeGreaterThan(10);
    const encodings = new Set(payloads.map((p) => Buffer.from(p.metadata![METADATA_ENCODING_KEY]!).toString()));
    expect([...encodings]).toEqual(['binary/encrypted']);
    // And no byte of the whole history, those events included, holds either string, plain or in base64.
    const bytes = Buffer.from(temporal.api.history.v1.History.encode({ events }).finish());
    expect(bytes.length).toBeGreaterThan(1000);
    for (const marker of [SPEC_MARKER, COMMENT_MARKER]) {
      expect(bytes.includes(marker)).toBe(false);
      expect(bytes.includes(Buffer.from(marker).toString('base64'))).toBe(false);
    }
  });

  test('the CLI, with the keys, shows the approval comment; without them it cannot read the deployment', async () => {
    const status = await cutover(['status', id, '--json'], env);
    expect(status.status).toBe(0);
    const shown = JSON.parse(status.stdout) as { approval: { approved?: { by: string; reason?: string } } };
    expect(shown.approval.approved).toMatchObject({ by: 'alice', reason: COMMENT_MARKER });

    const { [CODEC_KEYS_FILE_ENV]: _keys, ...withoutKeys } = env;
    const blind = await cutover(['status', id, '--json'], withoutKeys);
    expect(blind.status).not.toBe(0);
    expect(blind.stderr).toMatch(/binary\/encrypted/);
    expect(blind.stdout).not.toContain(COMMENT_MARKER);
  });

  test('a failed deployment: the failure messages are sealed too, and the client still reads them', async () => {
    // The health path (here with a token in its query) is a spec value that the probe's error message repeats.
    const failing = await f.deploy('3.0.0', {
      env: { SAMPLE_HEALTH: 'fail' },
      health: { path: `/{module}/_ping.html?token=${FAILURE_MARKER}`, deadline: '3s' },
    });
    const result = await f.result(failing);
    expect(result.outcome).not.toBe('succeeded');
    const history = (await raw.workflow.getHandle(failing).fetchHistory()).events ?? [];
    const failures = history.filter((e) => e.activityTaskFailedEventAttributes);
    expect(failures.length).toBeGreaterThan(0);
    // The Temporal service keeps the failure, but only as "Encoded failure" with the message in a sealed payload.
    for (const e of failures) {
      const failure = e.activityTaskFailedEventAttributes?.failure;
      expect(failure?.message).toBe('Encoded failure');
      expect(Buffer.from(failure?.encodedAttributes?.metadata?.[METADATA_ENCODING_KEY] ?? []).toString()).toBe(
        'binary/encrypted',
      );
    }
    const bytes = Buffer.from(temporal.api.history.v1.History.encode({ events: history }).finish());
    expect(bytes.includes(FAILURE_MARKER)).toBe(false);
    // The CLI, with the keys, shows the reason with the marker in it.
    const status = await cutover(['status', failing, '--json'], env);
    expect(status.status).toBe(0);
    expect(status.stdout).toContain(FAILURE_MARKER);
  });

  describe('cutover codec-server', () => {
    beforeAll(async () => {
      const child = spawn(
        process.execPath,
        [CLI, 'codec-server', '--port', '0', '--cors-origin', UI_ORIGIN, '--token-file', path.join(dir, 'token')],
        { env, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      const first = await new Promise<string>((resolve) => {
        const lines = readline.createInterface({ input: child.stderr });
        lines.once('line', resolve);
        child.once('exit', () => resolve(''));
      });
      const url = /codec-server on (http:\/\/\S+) /.exec(first)?.[1];
      codecServer = { child, url: url ?? '' };
      expect(first).toContain('current key 2026-12, 2 key(s)');
      expect(first).not.toContain(TOKEN);
      expect(url).toBeDefined();
    });

    afterAll(async () => {
      const child = codecServer?.child;
      if (!child || child.exitCode !== null) return;
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    });

    const post = (route: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${codecServer!.url}${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
        body: JSON.stringify(body),
      });

    test('POST /decode turns the stored workflow input back into the spec, with its env value', async () => {
      const started = events[0]!.workflowExecutionStartedEventAttributes!;
      const stored = started.input!.payloads! as Payload[];
      const res = await post('/default/decode', payloadsToJson(stored), {
        origin: UI_ORIGIN,
        'x-namespace': 'default',
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
      const decoded = payloadsFromJson(await res.json());
      expect(Buffer.from(decoded[0]!.metadata![METADATA_ENCODING_KEY]!).toString()).toBe('json/plain');
      const input = defaultPayloadConverter.fromPayload<{ spec: { platform: { env: Record<string, string> } } }>(
        decoded[0]!,
      );
      expect(input.spec.platform.env.CUTOVER_TEST_MARKER).toBe(SPEC_MARKER);
    });

    test('POST /decode opens the approve signal: its comment is there', async () => {
      const signal = events.find((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'approve')!;
      const stored = signal.workflowExecutionSignaledEventAttributes!.input!.payloads! as Payload[];
      const res = await post('/decode', payloadsToJson(stored));
      expect(res.status).toBe(200);
      const [decoded] = payloadsFromJson(await res.json());
      expect(defaultPayloadConverter.fromPayload(decoded!)).toMatchObject({ by: 'alice', comment: COMMENT_MARKER });
    });

    test('POST /encode seals with the current key, and /decode opens it again', async () => {
      const plain = [defaultPayloadConverter.toPayload({ hello: SPEC_MARKER })];
      const sealed = await post('/encode', payloadsToJson(plain));
      expect(sealed.status).toBe(200);
      const body = (await sealed.json()) as ReturnType<typeof payloadsToJson>;
      expect(Buffer.from(body.payloads[0]!.metadata!['encryption-key-id']!, 'base64').toString()).toBe('2026-12');
      expect(Buffer.from(body.payloads[0]!.data!, 'base64').includes(SPEC_MARKER)).toBe(false);
      const opened = payloadsFromJson(await (await post('/decode', body)).json());
      expect(defaultPayloadConverter.fromPayload(opened[0]!)).toEqual({ hello: SPEC_MARKER });
    });

    test("the UI's CORS preflight is answered for the allowed origin only, without a token", async () => {
      const preflight = (origin: string) =>
        fetch(`${codecServer!.url}/decode`, {
          method: 'OPTIONS',
          headers: {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'content-type,x-namespace,authorization',
          },
        });
      const allowed = await preflight(UI_ORIGIN);
      expect(allowed.status).toBe(204);
      expect(allowed.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
      expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
      expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('x-namespace');
      expect(allowed.headers.get('access-control-allow-methods')).toContain('POST');
      const other = await preflight('http://evil.example:8233');
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    });

    test('a missing or wrong bearer token is refused with 401, and nothing is decoded', async () => {
      const stored = events[0]!.workflowExecutionStartedEventAttributes!.input!.payloads! as Payload[];
      const missing = await fetch(`${codecServer!.url}/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payloadsToJson(stored)),
      });
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toBe('Bearer');
      const wrong = await post('/decode', payloadsToJson(stored), { authorization: `Bearer ${TOKEN}x` });
      expect(wrong.status).toBe(401);
      const text = await wrong.text();
      expect(text).not.toContain(SPEC_MARKER);
      expect(text).toContain('wrong bearer token');
    });

    test('a payload sealed with a key the server does not hold is refused naming the key id; bad JSON names the field', async () => {
      const stranger = new EncryptionCodec(parseKeyList(`2025-01:${randomBytes(32).toString('base64')}`));
      const sealed = await stranger.encode([defaultPayloadConverter.toPayload('x')]);
      const res = await post('/decode', payloadsToJson(sealed));
      expect(res.status).toBe(422);
      expect(((await res.json()) as { error: string }).error).toMatch(/key id "2025-01", which is not configured/);
      const bad = await post('/decode', { payloads: [{ metadata: { encoding: '%%%' }, data: '' }] });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: string }).error).toBe('payloads[0].metadata.encoding: must be base64');
    });
  });
});
