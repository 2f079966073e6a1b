/**
 * The remote codec server (Temporal's codec server protocol): `POST /encode` and `POST /decode`, each also under a
 * namespace segment (`/{namespace}/decode`, as the Temporal CLI's `--codec-endpoint` templating calls it), take and
 * return `{ "payloads": [{ "metadata": { <key>: <base64> }, "data": <base64> }] }` and run the payloads through the
 * same codec the worker and the client use (shared/codec.ts). The Temporal UI calls it from the browser, so it
 * answers CORS for the configured UI origins only (with credentials, for the UI's "include cross-origin
 * credentials"); with a token configured every call needs `Authorization: Bearer <token>` (401 otherwise; a CORS
 * preflight carries no credentials and is answered without one). Payloads are never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import cors from '@fastify/cors';
import type { Payload, PayloadCodec } from '@temporalio/common';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Origins allowed to call from a browser (the Temporal UI's), e.g. http://localhost:8233. */
  corsOrigins: string[];
  /** When set, every call needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Largest request body accepted (bytes); default 32 MiB (a long history's payloads). */
  bodyLimit?: number;
}

/** A payload as the protocol's JSON carries it (protobuf JSON: bytes in base64). */
export interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

class BadPayloadsError extends Error {}

function bytes(field: string, value: unknown): Buffer {
  if (typeof value !== 'string' || !BASE64.test(value)) throw new BadPayloadsError(`${field}: must be base64`);
  return Buffer.from(value, 'base64');
}

/** The request body's payloads, or an error naming the first bad field. */
export function payloadsFromJson(body: unknown): Payload[] {
  const list = (body as { payloads?: unknown } | null)?.payloads;
  if (typeof body !== 'object' || body === null || !Array.isArray(list)) {
    throw new BadPayloadsError('payloads: expected { "payloads": [ ... ] }');
  }
  return list.map((item: unknown, i) => {
    const at = `payloads[${i}]`;
    if (typeof item !== 'object' || item === null) throw new BadPayloadsError(`${at}: expected an object`);
    const { metadata, data } = item as { metadata?: unknown; data?: unknown };
    if (metadata != null && (typeof metadata !== 'object' || Array.isArray(metadata))) {
      throw new BadPayloadsError(`${at}.metadata: expected an object of base64 values`);
    }
    return {
      metadata: Object.fromEntries(
        Object.entries((metadata ?? {}) as Record<string, unknown>).map(([k, v]) => [
          k,
          bytes(`${at}.metadata.${k}`, v),
        ]),
      ),
      data: data == null ? undefined : bytes(`${at}.data`, data),
    };
  });
}

export function payloadsToJson(payloads: Payload[]): { payloads: JsonPayload[] } {
  return {
    payloads: payloads.map((p) => ({
      metadata: Object.fromEntries(
        Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
      ),
      data: Buffer.from(p.data ?? []).toString('base64'),
    })),
  };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export async function buildCodecServer(options: CodecServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, exposeHeadRoutes: false, bodyLimit: options.bodyLimit ?? 32 * 1024 * 1024 });
  await app.register(cors, {
    origin: options.corsOrigins,
    methods: ['POST'],
    // The UI sends its namespace in X-Namespace and, with "pass access token", an Authorization header.
    allowedHeaders: ['Content-Type', 'X-Namespace', 'Authorization'],
    credentials: true,
    maxAge: 600,
  });
  const expected = options.token === undefined ? undefined : digest(options.token);
  app.addHook('preHandler', async (request, reply) => {
    if (!expected || request.method === 'OPTIONS') return;
    const header = request.headers.authorization ?? '';
    const given = /^Bearer (.+)$/i.exec(header)?.[1];
    // Compared as digests, in constant time, so neither the length nor a prefix of the token leaks.
    if (given === undefined || !timingSafeEqual(digest(given), expected)) {
      await reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: given === undefined ? 'missing bearer token' : 'wrong bearer token' });
    }
  });

  const handler = (direction: 'encode' | 'decode') => async (request: FastifyRequest, reply: FastifyReply) => {
    let payloads: Payload[];
    try {
      payloads = payloadsFromJson(request.body);
    } catch (err) {
      return reply.code(400).send({ error: (err as Error).message });
    }
    try {
      const out = await (direction === 'encode' ? options.codec.encode(payloads) : options.codec.decode(payloads));
      return reply.send(payloadsToJson(out));
    } catch (err) {
      // An unknown key id or a tampered payload: the message names the key id, never the content.
      return reply.code(422).send({ error: (err as Error).message });
    }
  };
  for (const direction of ['encode', 'decode'] as const) {
    app.post(`/${direction}`, handler(direction));
    app.post(`/:namespace/${direction}`, handler(direction));
  }
  return app;
}
