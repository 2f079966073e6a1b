/**
 * Verification through a load balancer's public URL, shared by the drivers that can send traffic (the local router,
 * nginx; the ALB driver when its URL is configured): GET /<Module>/ a few times and compare each answer's
 * `x-cutover-version`, saying which backend and replica answered what.
 */
import type { TrafficSample, Verification, VerifyOptions } from '../ports';
import { describeError } from './local/error-info';

export interface VerifyThroughUrlOptions extends VerifyOptions {
  publicUrl: string;
  module: string;
  expectedVersion: string;
  headers?: Record<string, string>;
  /** Names the load balancer in the error when nothing answered (default "the load balancer"). */
  what?: string;
}

export const DEFAULT_VERIFY_REQUESTS = 5;
export const DEFAULT_VERIFY_TIMEOUT_MS = 10_000;

/** One GET, its body read to the end, within `timeoutMs` and ended at once by the caller's abort. */
async function getWhole(
  url: string,
  options: { headers?: Record<string, string>; signal?: AbortSignal },
  timeoutMs: number,
): Promise<Response> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const response = await fetch(url, {
    headers: options.headers,
    signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
  });
  await response.arrayBuffer();
  return response;
}

interface Tally {
  count: number;
  replicas: Set<string>;
}

/**
 * verified when every answer carries the expected version, not-verified otherwise (with a tally of what answered:
 * "3x version 1.0.0 (backend shop-blue) from shop-blue-0, shop-blue-1, 2x HTTP 502 without a version").
 * Throws (retryable) when no request got an answer at all: the load balancer is unreachable, nothing was learned.
 * An abort (`signal`) ends it at once with the signal's reason.
 */
export async function verifyThroughUrl(
  options: VerifyThroughUrlOptions,
): Promise<Exclude<Verification, { status: 'not-supported' }>> {
  const requests = options.requests ?? DEFAULT_VERIFY_REQUESTS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_VERIFY_TIMEOUT_MS;
  const url = `${options.publicUrl.replace(/\/+$/, '')}/${encodeURIComponent(options.module)}/`;
  const seen = new Map<string, Tally>();
  let unreachable = 0;
  let matching = 0;
  for (let i = 0; i < requests; i++) {
    options.signal?.throwIfAborted();
    let answer: string;
    let replica: string | null = null;
    try {
      const response = await getWhole(url, options, timeoutMs);
      const version = response.headers.get('x-cutover-version');
      const backend = response.headers.get('x-cutover-backend');
      replica = response.headers.get('x-cutover-replica');
      const via = backend ? ` (backend ${backend})` : '';
      answer =
        version === null
          ? `HTTP ${response.status} without a version${via}`
          : `version ${version}${response.ok ? '' : ` with HTTP ${response.status}`}${via}`;
      if (version === options.expectedVersion && response.ok) matching++;
    } catch (err) {
      options.signal?.throwIfAborted();
      unreachable++;
      answer = `error ${describeError(err)}`;
    }
    const tally = seen.get(answer) ?? { count: 0, replicas: new Set<string>() };
    tally.count++;
    if (replica) tally.replicas.add(replica);
    seen.set(answer, tally);
    options.onAnswer?.(answer);
  }
  if (unreachable === requests) {
    throw new Error(`cannot reach ${options.what ?? 'the load balancer'} at ${url}: ${[...seen.keys()].join(', ')}`);
  }
  const summary = [...seen]
    .map(([answer, t]) => `${t.count}x ${answer}${t.replicas.size ? ` from ${[...t.replicas].join(', ')}` : ''}`)
    .join(', ');
  return matching === requests
    ? { status: 'verified', detail: `${options.module}: ${requests}/${requests} answers from ${summary}` }
    : {
        status: 'not-verified',
        detail: `${options.module}: expected version ${options.expectedVersion}, got ${summary}`,
      };
}

export interface SampleThroughUrlOptions {
  publicUrl: string;
  module: string;
  requests: number;
  concurrency?: number;
  timeoutMs?: number;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  what?: string;
}

/**
 * Sends `requests` GETs of /<Module>/ through the load balancer, `concurrency` at a time, and counts the answers by
 * the version they carry (`x-cutover-version`, whatever the status; without one "none" or "HTTP <code>"; "error"
 * for no answer). A fresh connection is not forced: the split is what clients see. Throws (retryable) when nothing answered at all.
 */
export async function sampleThroughUrl(options: SampleThroughUrlOptions): Promise<TrafficSample> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_VERIFY_TIMEOUT_MS;
  const url = `${options.publicUrl.replace(/\/+$/, '')}/${encodeURIComponent(options.module)}/`;
  const byVersion: Record<string, number> = {};
  let sent = 0;
  const worker = async () => {
    while (sent < options.requests) {
      sent++;
      options.signal?.throwIfAborted();
      let key: string;
      try {
        const response = await getWhole(url, options, timeoutMs);
        // An error status from a replica still says where the request went (its version header).
        key = response.headers.get('x-cutover-version') ?? (response.ok ? 'none' : `HTTP ${response.status}`);
      } catch {
        options.signal?.throwIfAborted();
        key = 'error';
      }
      byVersion[key] = (byVersion[key] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 8, options.requests)) }, worker));
  if ((byVersion.error ?? 0) === options.requests) {
    throw new Error(`cannot reach ${options.what ?? 'the load balancer'} at ${url}: no request was answered`);
  }
  return { module: options.module, requests: options.requests, byVersion };
}
