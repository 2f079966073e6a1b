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

/**
 * GET a URL and parse its JSON body; an unreachable server or a body that is not JSON throw (retryable). `shown` is
 * the URL as messages name it (without a long query string).
 */
export async function getJson(
  url: string,
  headers: Record<string, string>,
  ctx: ProviderContext,
  what: string,
  shown = url,
): Promise<{ status: number; body: unknown }> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, { headers: { accept: 'application/json', ...headers }, signal: ctx.signal });
    text = await response.text();
  } catch (err) {
    if (ctx.signal.aborted) throw err; // a timeout or a cancellation: the caller names it
    throw new Error(`${what}: GET ${shown} failed: ${causeOf(err)}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    if (!response.ok) throw new Error(`${what}: GET ${shown} answered HTTP ${response.status}`);
    const type = response.headers.get('content-type') ?? 'no content-type';
    throw new Error(`${what}: GET ${shown} answered HTTP ${response.status} with a body that is not JSON (${type})`);
  }
  return { status: response.status, body };
}

/** The innermost reason of a fetch failure ("connect ECONNREFUSED 127.0.0.1:9"), not undici's "fetch failed". */
export function causeOf(err: unknown): string {
  let e: unknown = err;
  while (isErrorLike(e) && isErrorLike(e.cause)) e = e.cause;
  return isErrorLike(e) ? e.message : String(e);
}

function isErrorLike(value: unknown): value is { message: string; cause?: unknown } {
  return typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string';
}
