/**
 * The payload codec (shared/codec.ts): AES-256-GCM round trip, rotation (the current key encrypts, every configured
 * key decrypts), refusals (unknown key id, altered ciphertext, relabelled key id) and the key configuration's errors.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultPayloadConverter, METADATA_ENCODING_KEY } from '@temporalio/common';
import type { Payload } from '@temporalio/common';
import {
  CODEC_KEYS_ENV,
  CODEC_KEYS_FILE_ENV,
  codecKeysFromEnv,
  EncryptionCodec,
  METADATA_KEY_ID,
  parseKeyFile,
  parseKeyList,
  payloadCodecsFromEnv,
} from '../../shared/codec';

const key = () => randomBytes(32).toString('base64');
const K1 = key();
const K2 = key();
const MARKER = 'db-password-MARKER-7d1f';

const payload = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);
const valueOf = (p: Payload): unknown => defaultPayloadConverter.fromPayload(p);
const meta = (p: Payload, k: string) => Buffer.from(p.metadata![k]!).toString();

describe('EncryptionCodec', () => {
  const codec = new EncryptionCodec(parseKeyList(`k2:${K2},k1:${K1}`));

  test('a payload round-trips, and its bytes no longer contain the plain value nor its encoding', async () => {
    const original = payload({ env: { SECRET: MARKER }, n: 3 });
    const [sealed] = await codec.encode([original]);
    expect(meta(sealed!, METADATA_ENCODING_KEY)).toBe('binary/encrypted');
    expect(meta(sealed!, METADATA_KEY_ID)).toBe('k2');
    expect(Buffer.from(sealed!.data!).includes(MARKER)).toBe(false);
    expect(Buffer.from(sealed!.data!).includes('json/plain')).toBe(false);
    const [opened] = await codec.decode([sealed!]);
    expect(valueOf(opened!)).toEqual({ env: { SECRET: MARKER }, n: 3 });
    expect(meta(opened!, METADATA_ENCODING_KEY)).toBe('json/plain');
  });

  test('the same value sealed twice gives different ciphertexts (a fresh nonce each time)', async () => {
    const [a, b] = await codec.encode([payload(MARKER), payload(MARKER)]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  test('rotation: the current key encrypts, and a payload sealed with an older key still opens', async () => {
    const before = new EncryptionCodec(parseKeyList(`k1:${K1}`));
    const [old] = await before.encode([payload('sealed before rotation')]);
    expect(meta(old!, METADATA_KEY_ID)).toBe('k1');
    const [fresh] = await codec.encode([payload('after')]);
    expect(meta(fresh!, METADATA_KEY_ID)).toBe('k2');
    const opened = await codec.decode([old!, fresh!]);
    expect(opened.map(valueOf)).toEqual(['sealed before rotation', 'after']);
  });

  test('a payload sealed with a key id that is not configured fails, naming the id', async () => {
    const other = new EncryptionCodec(parseKeyList(`retired-2025:${key()}`));
    const [sealed] = await other.encode([payload('x')]);
    await expect(codec.decode([sealed!])).rejects.toThrow(
      /key id "retired-2025", which is not configured \(configured: k2, k1\)/,
    );
  });

  test('an altered ciphertext fails authentication', async () => {
    const [sealed] = await codec.encode([payload({ reason: MARKER })]);
    const data = Buffer.from(sealed!.data!);
    data[20] = data[20]! ^ 0x01;
    await expect(codec.decode([{ ...sealed!, data }])).rejects.toThrow(/key id "k2"\) failed authentication/);
  });

  test('a payload relabelled with another configured key id fails authentication', async () => {
    const [sealed] = await codec.encode([payload('x')]);
    const relabelled = { ...sealed!, metadata: { ...sealed!.metadata, [METADATA_KEY_ID]: Buffer.from('k1') } };
    await expect(codec.decode([relabelled])).rejects.toThrow(/key id "k1"\) failed authentication/);
  });

  test('a payload that was never encrypted (written before encryption was on) decodes as it is', async () => {
    const plain = payload({ old: true });
    expect(await codec.decode([plain])).toEqual([plain]);
  });
});

describe('key configuration', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-codec-keys-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };

  test('CUTOVER_CODEC_KEYS: the first key is current', () => {
    const keys = parseKeyList(` a:${K1} , b:${K2} `);
    expect(keys.current).toBe('a');
    expect([...keys.keys.keys()]).toEqual(['a', 'b']);
    expect(keys.keys.get('b')!.toString('base64')).toBe(K2);
  });

  test('CUTOVER_CODEC_KEYS_FILE: YAML with the current key named', () => {
    const f = file('keys.yaml', `current: k2\nkeys:\n  k1: ${K1}\n  k2: ${K2}\n`);
    const keys = codecKeysFromEnv({ [CODEC_KEYS_FILE_ENV]: f });
    expect(keys?.current).toBe('k2');
    expect(keys?.keys.size).toBe(2);
  });

  test('neither variable set: encryption is off (no codec)', () => {
    expect(codecKeysFromEnv({})).toBeUndefined();
    expect(payloadCodecsFromEnv({})).toEqual([]);
    expect(payloadCodecsFromEnv({ [CODEC_KEYS_ENV]: `a:${K1}` })).toHaveLength(1);
  });

  test.each([
    [`k1:${randomBytes(16).toString('base64')}`, /CUTOVER_CODEC_KEYS: key "k1" is 16 bytes; AES-256 needs 32/],
    ['k1:not base64!', /CUTOVER_CODEC_KEYS: key "k1" must be base64 of 32 random bytes/],
    [`bad id:${K1}`, /CUTOVER_CODEC_KEYS: key id "bad id" must be 1-64 letters/],
    [K1, /CUTOVER_CODEC_KEYS: entry 1 is not id:base64key/],
    [`a:${K1},a:${K2}`, /CUTOVER_CODEC_KEYS: key id "a" appears twice/],
    [' , ', /CUTOVER_CODEC_KEYS: no keys/],
  ])('CUTOVER_CODEC_KEYS refusal %#: %p', (value, message) => {
    expect(() => codecKeysFromEnv({ [CODEC_KEYS_ENV]: value })).toThrow(message);
  });

  test.each([
    [`keys:\n  k1: ${K1}\n`, /current: must name the key that encrypts, one of k1$/],
    [`current: k9\nkeys:\n  k1: ${K1}\n`, /current: must name the key that encrypts, one of k1 \(got "k9"\)/],
    ['current: k1\nkeys: {}\n', /keys: expected a map of key id to base64 key, with at least one key/],
    [`current: k1\nkeys:\n  k1: ${K1}\nkey: x\n`, /unknown field key/],
    [`current: k1\nkeys:\n  k1: ${randomBytes(31).toString('base64')}\n`, /keys: key "k1" is 31 bytes/],
    ['- a\n- b\n', /expected \{ current: <id>, keys/],
    ['current: [\n', /not YAML or JSON/],
  ])('a key file is refused, naming the file and the field: %#, %p', (text, message) => {
    expect(() => parseKeyFile(text, 'CUTOVER_CODEC_KEYS_FILE=keys.yaml')).toThrow(message);
    const f = file('bad.yaml', text);
    expect(() => codecKeysFromEnv({ [CODEC_KEYS_FILE_ENV]: f })).toThrow(`${CODEC_KEYS_FILE_ENV}=${f}: `);
  });

  test('a key file that cannot be read, and both variables at once, are refused', () => {
    const missing = path.join(dir, 'missing.yaml');
    expect(() => codecKeysFromEnv({ [CODEC_KEYS_FILE_ENV]: missing })).toThrow(
      `${CODEC_KEYS_FILE_ENV}=${missing}: cannot read`,
    );
    expect(() => codecKeysFromEnv({ [CODEC_KEYS_ENV]: `a:${K1}`, [CODEC_KEYS_FILE_ENV]: missing })).toThrow(
      /set CUTOVER_CODEC_KEYS or CUTOVER_CODEC_KEYS_FILE, not both/,
    );
  });
});
