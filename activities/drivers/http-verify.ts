/**
 * Verification through a load balancer's public URL, shared by the drivers that can send traffic (nginx; the ALB
 * driver when its URL is configured): GET /<Module>/ a few times and compare each answer's `x-cutover-version`.
 */
import type { Verification } from '../ports';
import { describeError } from './local/error-info';

export interface VerifyThroughUrlOptions {
  publicUrl: string;
  module: string;
  expectedVersion: string;
  /** Requests sent (default 5). */
  requests?: number;
  timeoutMs?: number;
  headers?: Record<string, string>;
}

/**
 * verified when every answer carries the expected version, not-verified otherwise (with a tally of what answered).
 * Throws (retryable) when no request got an answer at all: the load balancer is unreachable, nothing was learned.
 */
export async function verifyThroughUrl(
  options: VerifyThroughUrlOptions,
): Promise<Exclude<Verification, { status: 'not-supported' }>> {
  const requests = options.requests ?? 5;
  const url = `${options.publicUrl.replace(/\/+$/, '')}/${encodeURIComponent(options.module)}/`;
  const seen = new Map<string, number>();
  let unreachable = 0;
  let matching = 0;
  for (let i = 0; i < requests; i++) {
    let answer: string;
    try {
      const response = await fetch(url, {
        headers: options.headers,
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      await response.arrayBuffer();
      const version = response.headers.get('x-cutover-version');
      const backend = response.headers.get('x-cutover-backend');
      const via = backend ? ` (backend ${backend})` : '';
      answer = version === null ? `HTTP ${response.status} without a version${via}` : `version ${version}${via}`;
      if (version === options.expectedVersion && response.ok) matching++;
    } catch (err) {
      unreachable++;
      answer = `error ${describeError(err)}`;
    }
    seen.set(answer, (seen.get(answer) ?? 0) + 1);
  }
  if (unreachable === requests) {
    throw new Error(`cannot reach the load balancer at ${url}: ${[...seen.keys()].join(', ')}`);
  }
  const summary = [...seen].map(([answer, n]) => `${n}x ${answer}`).join(', ');
  return matching === requests
    ? { status: 'verified', detail: `${options.module}: ${requests}/${requests} answers from ${summary}` }
    : {
        status: 'not-verified',
        detail: `${options.module}: expected version ${options.expectedVersion}, got ${summary}`,
      };
}
