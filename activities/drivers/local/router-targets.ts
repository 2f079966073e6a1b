/**
 * Target selection of the local router: from the rules in force for a request (an immutable snapshot), the targets
 * to try, best first. The preview backend for requests marked for preview; else the module's rule: its one live
 * backend (the common case), or, for a split, the backend a sticky cookie pins (if it is still live in the rule at a
 * weight above 0) or a weighted pick; then the module's other live backends as fallbacks. Inside each backend,
 * round-robin over its targets, with targets that just refused a connection tried last (passive health). A module
 * without a rule goes to the default target.
 */
import type { FastifyRequest } from 'fastify';
import type { WeightedBackend } from '../../ports';
import type { RouterState } from './router-state';

/** The cookie that pins a client to a backend of a split rule (with stickiness on). */
export const STICKY_COOKIE = 'cutover-backend';
const DEFAULT_BACKEND = 'default';
/** A target that refused a connection is tried last for this long (passive health, like nginx's fail_timeout). */
const SUSPECT_FOR_MS = 2_000;

export interface Candidate {
  target: string;
  /** Backend name, or "default" for the default rule. */
  backend: string;
}

/** First path segment, the module ("/Shop/x?y" -> "Shop"). */
export function moduleOf(url: string): string {
  const end = url.slice(1).search(/[/?#]/);
  return end < 0 ? url.slice(1) : url.slice(1, end + 1);
}

export class TargetPicker {
  private readonly roundRobin = new Map<string, number>();
  private readonly suspectUntil = new Map<string, number>();

  constructor(private readonly defaultTarget: string) {}

  /**
   * Targets to try, best first: preview backend, or the `pinned` backend (a sticky cookie's) if it is live in the
   * rule with a weight above 0, else a weighted pick; then the module's other live backends.
   */
  candidates(state: RouterState, module: string, preview: boolean, pinned?: string): Candidate[] {
    const previewBackend = preview ? state.previews.get(module) : undefined;
    if (previewBackend !== undefined) return this.ordered(state, [previewBackend]);
    const rule = state.rules.get(module);
    if (!rule) return [{ target: this.defaultTarget, backend: DEFAULT_BACKEND }];
    // Weight 0 means "no traffic": such a backend is not even a fallback.
    const live = rule.filter((w) => w.weight > 0 && (state.backends.get(w.backend)?.length ?? 0) > 0);
    if (live.length === 1) return this.ordered(state, [(live[0] as WeightedBackend).backend]); // the common case
    let first = pinned === undefined ? undefined : live.find((w) => w.backend === pinned);
    if (!first) {
      let pick = Math.random() * live.reduce((sum, w) => sum + w.weight, 0);
      first = live.find((w) => (pick -= w.weight) < 0) ?? live[0];
    }
    if (!first) return [];
    const rest = live.filter((w) => w !== first).sort((a, b) => b.weight - a.weight);
    return this.ordered(state, [first.backend, ...rest.map((w) => w.backend)]);
  }

  markSuspect(target: string): void {
    this.suspectUntil.set(target, Date.now() + SUSPECT_FOR_MS);
  }

  markHealthy(target: string): void {
    this.suspectUntil.delete(target);
  }

  /** Round-robin inside each backend; targets that just refused connections go last. */
  private ordered(state: RouterState, backends: string[]): Candidate[] {
    const out: Candidate[] = [];
    backends.forEach((backend, i) => {
      const targets = state.backends.get(backend) ?? [];
      if (!targets.length) return;
      const start = this.roundRobin.get(backend) ?? 0;
      if (i === 0) this.roundRobin.set(backend, (start + 1) % targets.length);
      for (let k = 0; k < targets.length; k++) {
        out.push({ target: targets[(start + k) % targets.length] as string, backend });
      }
    });
    if (this.suspectUntil.size === 0) return out;
    const now = Date.now();
    const suspect = (c: Candidate): boolean => (this.suspectUntil.get(c.target) ?? 0) > now;
    return [...out.filter((c) => !suspect(c)), ...out.filter(suspect)];
  }
}

/**
 * The backend a sticky cookie names, if the request carries one (the first, as RFC 6265 sends the most specific path
 * first). Written by hand rather than with the `cookie` package: that one is ESM-only since v2, which jest cannot
 * load from this CommonJS project without a transform of its own. Backend names need no decoding ([A-Za-z0-9._-]).
 */
export function pinnedBackend(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (!header?.includes(STICKY_COOKIE)) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim() !== STICKY_COOKIE) continue;
    const value = pair.slice(eq + 1).trim();
    return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  }
  return undefined;
}

/** Module and backend names are cookie-safe as they are (moduleNameSchema, backendNameSchema). */
export function stickyCookie(module: string, backend: string): string {
  return `${STICKY_COOKIE}=${backend}; Path=/${module}/; HttpOnly; SameSite=Lax`;
}
