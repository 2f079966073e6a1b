/**
 * What a provider answers: the value the conditions will see (or why there is none), the sample count when asked
 * for, and the times the value covers. Providers throw plain Errors for what a retry can cure (unreachable, timed
 * out, an answer that is not what the API promises) and CutoverErrors for what it cannot (a rejected query).
 */

export interface Reading {
  /** What was asked, args substituted; never a header value. */
  query: string;
  /** The value for the conditions; absent when the provider had no data (then `noData` says what was empty). */
  value?: unknown;
  /** Set when there is no value: "the query returned no series", "jsonPath $.x matched nothing"... */
  noData?: string;
  samples?: number;
  window?: { from: string; to: string };
}

export interface ProviderContext {
  /** Aborted when the activity is cancelled or the provider's timeout passes. */
  signal: AbortSignal;
  now: () => Date;
}

/** GET a URL and parse its JSON body; an unreachable server, a non-2xx answer or a non-JSON body throw (retryable). */
export async function getJson(
  url: string,
  headers: Record<string, string>,
  ctx: ProviderContext,
  what: string,
): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { accept: 'application/json', ...headers }, signal: ctx.signal });
  } catch (err) {
    if (ctx.signal.aborted) throw err; // a timeout or a cancellation: the caller names it
    throw new Error(`${what}: GET ${url} failed: ${causeOf(err)}`);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    if (!response.ok) throw new Error(`${what}: GET ${url} answered HTTP ${response.status}`);
    const type = response.headers.get('content-type') ?? 'no content-type';
    throw new Error(`${what}: GET ${url} answered HTTP ${response.status} with a body that is not JSON (${type})`);
  }
  return { status: response.status, body };
}

/** The innermost reason of a fetch failure ("connect ECONNREFUSED 127.0.0.1:9"), not undici's "fetch failed". */
export function causeOf(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}
