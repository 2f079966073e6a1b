/**
 * What the nginx driver accepts before it writes anything: backend names that are safe in nginx identifiers and
 * file names (lower-case letters, digits, dashes; not `default`, the platform server), and targets as
 * http://host:port. A refusal is a non-retryable RouterRequestRejectedError naming the value.
 */
import { CutoverError, ErrorType } from '../../errors';
import { DEFAULT_BACKEND } from './render';

const BACKEND_RE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/** Whether a backend name has the shape of those the driver writes (checkBackendName also refuses `default`). */
export function isBackendName(backend: string): boolean {
  return BACKEND_RE.test(backend);
}

export function checkBackendName(backend: string): void {
  if (!BACKEND_RE.test(backend) || backend === DEFAULT_BACKEND) {
    throw new CutoverError(
      ErrorType.RouterRequestRejected,
      `backend name "${backend}": lower-case letters, digits and dashes, not "${DEFAULT_BACKEND}"`,
    );
  }
}

export function unknownBackend(backend: string): CutoverError {
  return new CutoverError(ErrorType.RouterRequestRejected, `unknown backend "${backend}" (publish it first)`);
}

/** Targets as http://host:port (deduplicated, in order); anything else is refused. */
export function canonicalTargets(targets: string[]): string[] {
  const out: string[] = [];
  for (const target of targets) {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      throw new CutoverError(ErrorType.RouterRequestRejected, `target "${target}" is not a URL (http://host:port)`);
    }
    if (url.protocol !== 'http:' || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
      throw new CutoverError(
        ErrorType.RouterRequestRejected,
        `target "${target}" must be http://host:port (no path; https upstreams are not supported)`,
      );
    }
    const canonical = url.origin;
    if (!out.includes(canonical)) out.push(canonical);
  }
  return out;
}
