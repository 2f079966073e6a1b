/**
 * The one discovery path both strategies share: read the modules' rules from the router, check that every module
 * routes to the same backend of this application (or every one to the default rule: the platform server), and say
 * which. Blue-green (`discoverLive`) and the rolling update (`discoverRolling`) each add what they need on top (the
 * live version; the backend's targets), but the routing-consistency check is made here, once.
 */
import type { LiveSide } from '../workflows/types';
import { CutoverError, ErrorType } from './errors';
import type { ModuleRule, Router } from './ports';
import { backendName } from './ports';

/** Where the modules of an application route, once they all agree. */
export interface Routing {
  /** Explicit rules, by module (absent = default rule). */
  rules: Record<string, ModuleRule>;
  /** Whose backend every module routes to, or null when every module is on the default rule. */
  side: LiveSide | null;
  /** That backend (`<application>-<side>`), or null for the default rule. */
  backend: string | null;
}

/** The backend serving most of a module's traffic (undefined for a rule with no backend). */
export function primaryBackend(rule: ModuleRule): string | undefined {
  return [...rule.backends].sort((a, b) => b.weight - a.weight)[0]?.backend;
}

/** Which side of `application` a backend is (blue, green or rolling), if it is one of the application's. */
export function sideOfBackend(application: string, backend: string): LiveSide | undefined {
  for (const side of ['blue', 'green', 'rolling'] as const) if (backend === backendName(application, side)) return side;
  return undefined;
}

/**
 * The routing of `modules` from their rules. Throws InconsistentRouting (non-retryable) naming each module's backend
 * when they do not all route to one backend of this application (one on the default rule, one on a backend of
 * another application, modules split between two sides: a deployment left half done).
 */
export function routingOf(application: string, modules: string[], rules: Record<string, ModuleRule>): Routing {
  const routes = new Map<string, string>();
  for (const module of modules) {
    const rule = rules[module];
    routes.set(module, rule ? (primaryBackend(rule) ?? '(no backend)') : 'default');
  }
  const distinct = new Set(routes.values());
  const only = [...distinct][0] ?? 'default';
  const side = only === 'default' ? null : sideOfBackend(application, only);
  if (distinct.size > 1 || side === undefined) {
    const detail = [...routes.entries()].map(([m, b]) => `${m} -> ${b}`).join(', ');
    throw new CutoverError(
      ErrorType.InconsistentRouting,
      `modules of ${application} do not route to one backend of this application (${detail}); ` +
        'finish or roll back the previous deployment first',
    );
  }
  return { rules, side, backend: side ? only : null };
}

/** Reads the modules' rules and checks them (routingOf). */
export async function discoverRouting(router: Router, application: string, modules: string[]): Promise<Routing> {
  return routingOf(application, modules, await router.readRules(modules));
}
