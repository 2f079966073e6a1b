/**
 * Payload encryption: a Temporal PayloadCodec that seals every payload (workflow input and result, signal, update
 * and query arguments, activity input and result, memo) with AES-256-GCM before it leaves the process, so the
 * Temporal service stores only ciphertext. The worker, the client (hence the CLI and the hook server) and
 * `cutover codec-server` all build it from the same configuration (keys by id, from a file or the environment).
 *
 * Rotation: the current key encrypts; every configured key decrypts, each payload naming the key that sealed it in
 * its metadata. A payload that is not encrypted (written before encryption was turned on) decodes as it is.
 *
 * Wire format of an encrypted payload, as temporalio/samples-typescript's `encryption` sample lays it out:
 * metadata `encoding: binary/encrypted` and `encryption-key-id: <id>`; data = 12-byte nonce, ciphertext of the
 * whole original Payload (protobuf, so its own metadata is sealed too), 16-byte GCM tag. The key id is the
 * additional authenticated data: a payload relabelled with another key's id fails to open.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { METADATA_ENCODING_KEY, ValueError } from '@temporalio/common';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { parse as parseYaml } from 'yaml';

/** `id:base64key,id:base64key,...`: the first key encrypts. */
export const CODEC_KEYS_ENV = 'CUTOVER_CODEC_KEYS';
/** A YAML or JSON file `{ current: <id>, keys: { <id>: <base64key>, ... } }`. */
export const CODEC_KEYS_FILE_ENV = 'CUTOVER_CODEC_KEYS_FILE';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const METADATA_KEY_ID = 'encryption-key-id';

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The keys a codec holds: `current` encrypts, every one of `keys` decrypts. */
export interface CodecKeys {
  current: string;
  keys: ReadonlyMap<string, Buffer>;
}

/** The key configuration is malformed; the message names the variable (or file) and the field. */
export class CodecConfigError extends Error {
  override readonly name = 'CodecConfigError';
}

/** A payload cannot be opened: sealed with a key this process does not hold, or altered since it was sealed. */
export class CodecDecryptError extends ValueError {
  override readonly name = 'CodecDecryptError';
}

function parseKey(where: string, id: string, value: unknown): [string, Buffer] {
  if (!KEY_ID.test(id)) {
    throw new CodecConfigError(
      `${where}: key id "${id}" must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
  if (typeof value !== 'string' || !BASE64.test(value.trim()) || value.trim() === '') {
    throw new CodecConfigError(
      `${where}: key "${id}" must be base64 of ${KEY_BYTES} random bytes (e.g. openssl rand -base64 32)`,
    );
  }
  const key = Buffer.from(value.trim(), 'base64');
  if (key.length !== KEY_BYTES) {
    throw new CodecConfigError(
      `${where}: key "${id}" is ${key.length} bytes; AES-256 needs ${KEY_BYTES} (e.g. openssl rand -base64 32)`,
    );
  }
  return [id, key];
}

/** Parses `CUTOVER_CODEC_KEYS`: `id:base64key` pairs separated by commas, the first one current. */
export function parseKeyList(text: string, where = CODEC_KEYS_ENV): CodecKeys {
  const entries = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new CodecConfigError(`${where}: no keys (expected id:base64key[,id:base64key...])`);
  const keys = new Map<string, Buffer>();
  let current: string | undefined;
  for (const [i, entry] of entries.entries()) {
    const colon = entry.indexOf(':');
    // The entry itself is not echoed: it may be a key.
    if (colon <= 0) throw new CodecConfigError(`${where}: entry ${i + 1} is not id:base64key`);
    const [id, key] = parseKey(where, entry.slice(0, colon), entry.slice(colon + 1));
    if (keys.has(id)) throw new CodecConfigError(`${where}: key id "${id}" appears twice`);
    keys.set(id, key);
    current ??= id;
  }
  return { current: current!, keys };
}

/** Parses the key file's text (YAML or JSON): `{ current: <id>, keys: { <id>: <base64key> } }`. */
export function parseKeyFile(text: string, where = CODEC_KEYS_FILE_ENV): CodecKeys {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new CodecConfigError(`${where}: not YAML or JSON (${(err as Error).message.split('\n')[0]})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new CodecConfigError(`${where}: expected { current: <id>, keys: { <id>: <base64key> } }`);
  }
  const { current, keys: raw, ...rest } = doc as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new CodecConfigError(`${where}: unknown field ${unknown.join(', ')}`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || Object.keys(raw).length === 0) {
    throw new CodecConfigError(`${where}: keys: expected a map of key id to base64 key, with at least one key`);
  }
  const keys = new Map(Object.entries(raw).map(([id, value]) => parseKey(`${where}: keys`, id, value)));
  if (typeof current !== 'string' || !keys.has(current)) {
    throw new CodecConfigError(
      `${where}: current: must name the key that encrypts, one of ${[...keys.keys()].join(', ')}` +
        (current === undefined ? '' : ` (got ${JSON.stringify(current)})`),
    );
  }
  return { current, keys };
}

/** The keys configured in the environment, or undefined when encryption is off (neither variable set). */
export function codecKeysFromEnv(env: NodeJS.ProcessEnv = process.env): CodecKeys | undefined {
  const list = env[CODEC_KEYS_ENV];
  const file = env[CODEC_KEYS_FILE_ENV];
  if (list && file) throw new CodecConfigError(`set ${CODEC_KEYS_ENV} or ${CODEC_KEYS_FILE_ENV}, not both`);
  if (list) return parseKeyList(list);
  if (!file) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CodecConfigError(`${CODEC_KEYS_FILE_ENV}=${file}: cannot read (${(err as Error).message})`);
  }
  return parseKeyFile(text, `${CODEC_KEYS_FILE_ENV}=${file}`);
}

const utf8 = (bytes: Uint8Array | null | undefined): string | undefined =>
  bytes ? Buffer.from(bytes).toString('utf8') : undefined;

export class EncryptionCodec implements PayloadCodec {
  constructor(private readonly keys: CodecKeys) {
    if (!keys.keys.has(keys.current)) throw new CodecConfigError(`current key "${keys.current}" is not configured`);
  }

  /** The id of the key that encrypts. */
  get currentKeyId(): string {
    return this.keys.current;
  }

  encode(payloads: Payload[]): Promise<Payload[]> {
    const id = this.keys.current;
    const key = this.keys.keys.get(id)!;
    return Promise.resolve(
      payloads.map((payload) => {
        const nonce = randomBytes(NONCE_BYTES);
        const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
        cipher.setAAD(Buffer.from(id, 'utf8'));
        const plain = temporal.api.common.v1.Payload.encode(payload).finish();
        const sealed = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
        return {
          metadata: {
            [METADATA_ENCODING_KEY]: Buffer.from(ENCRYPTED_ENCODING),
            [METADATA_KEY_ID]: Buffer.from(id),
          },
          data: sealed,
        };
      }),
    );
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    // A throw in the executor (an unknown key id, a tampered payload) rejects the promise.
    return new Promise((resolve) => resolve(payloads.map((payload) => this.open(payload))));
  }

  private open(payload: Payload): Payload {
    if (utf8(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) return payload;
    const id = utf8(payload.metadata?.[METADATA_KEY_ID]);
    if (!id) throw new CodecDecryptError(`encrypted payload without an ${METADATA_KEY_ID}: cannot tell which key`);
    const key = this.keys.keys.get(id);
    if (!key) {
      throw new CodecDecryptError(
        `payload encrypted with key id "${id}", which is not configured (configured: ${[...this.keys.keys.keys()].join(', ')}); ` +
          `add it to ${CODEC_KEYS_FILE_ENV} or ${CODEC_KEYS_ENV}`,
      );
    }
    const data = Buffer.from(payload.data ?? []);
    if (data.length < NONCE_BYTES + TAG_BYTES) {
      throw new CodecDecryptError(`encrypted payload (key id "${id}") is too short to be one`);
    }
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(id, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new CodecDecryptError(
        `encrypted payload (key id "${id}") failed authentication: altered, or sealed with another key of that id`,
      );
    }
    return temporal.api.common.v1.Payload.decode(plain);
  }
}

/** The codecs to configure (none when encryption is off): `dataConverter: { payloadCodecs }`. */
export function payloadCodecsFromEnv(env: NodeJS.ProcessEnv = process.env): PayloadCodec[] {
  const keys = codecKeysFromEnv(env);
  return keys ? [new EncryptionCodec(keys)] : [];
}
