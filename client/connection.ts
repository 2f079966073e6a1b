/**
 * How Cutover reaches Temporal: configuration, not code. Read from the
 * environment (or passed explicitly) by the CLI, the worker and the hook
 * server alike. Secrets (API key, private key) are read from files or the
 * environment and never logged.
 */
import * as fs from 'node:fs';
import type { PayloadCodec } from '@temporalio/common';
import { payloadCodecsFromEnv } from '../shared/codec';

export interface TemporalConfig {
  /** host:port of the Temporal frontend (TEMPORAL_ADDRESS, default 127.0.0.1:7233). */
  address: string;
  /** TEMPORAL_NAMESPACE, default "default". */
  namespace: string;
  /** TEMPORAL_TASK_QUEUE, default "cutover". */
  taskQueue: string;
  /** TLS: on when TEMPORAL_TLS=true or any certificate path is set. */
  tls?: {
    serverRootCACertificate?: Buffer;
    clientCertPair?: { crt: Buffer; key: Buffer };
    serverNameOverride?: string;
  };
  /** API key (TEMPORAL_API_KEY, or the content of TEMPORAL_API_KEY_FILE). Implies TLS. */
  apiKey?: string;
  /** Payload encryption (CUTOVER_CODEC_KEYS or CUTOVER_CODEC_KEYS_FILE; see shared/codec.ts): none when unset. */
  payloadCodecs?: PayloadCodec[];
}

function readFileVar(env: NodeJS.ProcessEnv, name: string): Buffer | undefined {
  const file = env[name];
  if (!file) return undefined;
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new Error(`${name}=${file}: cannot read (${(err as Error).message})`);
  }
}

export function temporalConfigFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalConfig {
  const ca = readFileVar(env, 'TEMPORAL_TLS_CA');
  const crt = readFileVar(env, 'TEMPORAL_TLS_CERT');
  const key = readFileVar(env, 'TEMPORAL_TLS_KEY');
  if ((crt && !key) || (key && !crt)) {
    throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together (mTLS client certificate and key)');
  }
  const apiKeyFromFile = readFileVar(env, 'TEMPORAL_API_KEY_FILE')?.toString('utf8').trim();
  const apiKey = env.TEMPORAL_API_KEY || apiKeyFromFile || undefined;
  const tlsWanted = env.TEMPORAL_TLS === 'true' || Boolean(ca || crt || apiKey);
  return {
    address: env.TEMPORAL_ADDRESS || '127.0.0.1:7233',
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: env.TEMPORAL_TASK_QUEUE || 'cutover',
    tls: tlsWanted
      ? {
          serverRootCACertificate: ca,
          clientCertPair: crt && key ? { crt, key } : undefined,
          serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME || undefined,
        }
      : undefined,
    apiKey,
    payloadCodecs: payloadCodecsFromEnv(env),
  };
}

/** Options for @temporalio/client's Connection.connect and @temporalio/worker's NativeConnection.connect. */
export function connectionOptions(config: TemporalConfig): {
  address: string;
  tls?: TemporalConfig['tls'];
  apiKey?: string;
} {
  return { address: config.address, tls: config.tls, apiKey: config.apiKey };
}
