/**
 * The local Router driver: the Router port over the local router's admin API
 * (see router-admin.ts), plus verification through its public port.
 *
 * Errors: a 4xx from the admin API is permanent (an Error named
 * RouterRequestRejectedError carrying the router's message), except 408 and
 * 429 (the router, or a proxy in front of it, asks to try again later);
 * connection failures, timeouts, 408, 429 and 5xx are transient (plain Errors,
 * retried by the activity). Every message names the router (its admin URL),
 * the request, and what the router answered.
 */
import { CutoverError, ErrorType } from '../../errors';
import type {
  BatchRules,
  InFlightCounts,
  ModuleRule,
  PreviewRoutes,
  Router,
  Verification,
  VerifyOptions,
  WeightedBackend,
  TrafficSampling,
  WeightedRules,
} from '../../ports';
import { sampleThroughUrl, verifyThroughUrl } from '../http-verify';
import { failureDetail } from './error-info';

export interface LocalRouterConfig {
  adminUrl: string;
  publicUrl: string;
  /** Requests sent by verify() (default 5). */
  verifyRequests?: number;
  /** Per admin/verify request timeout (default 10 s). */
  timeoutMs?: number;
}

interface RulesResponse {
  rules: Record<string, { backends: WeightedBackend[]; preview?: string }>;
}

interface StatsResponse {
  inFlight: Record<string, number>;
}

export function newLocalRouterDriver(config: LocalRouterConfig): Router {
  return new LocalRouter(config);
}

const seg = encodeURIComponent;

/** 4xx answers that mean "not now" rather than "never": Request Timeout, Too Many Requests. */
const TRANSIENT_4XX = new Set([408, 429]);

/** The same canonical form the router uses for targets (scheme://host:port). */
function canonicalTarget(target: string): string {
  try {
    return new URL(target).origin;
  } catch {
    return target;
  }
}

class LocalRouter implements Router {
  readonly type = 'local';
  readonly preview: PreviewRoutes = {
    setRule: (module, backend) => this.setPreviewRule(module, backend),
    removeRule: (module) => this.removePreviewRule(module),
  };
  readonly inFlight: InFlightCounts = { count: (target) => this.countInFlight(target) };
  /** A switch of many modules is one admin call and one write of the router's rule file (PUT /rules). */
  readonly batch: BatchRules = {
    setModuleRules: (modules, backends) => this.setModuleRules(modules, backends),
  };
  /** Weights are integers 0..100 and each backend of a split has one above 0: at most 100 of them. */
  readonly weights: WeightedRules = { maxBackends: 100 };
  readonly sampling: TrafficSampling = {
    sample: (module, requests, options) =>
      sampleThroughUrl({ publicUrl: this.publicUrl, module, requests, what: 'the router', ...options }),
  };
  private readonly adminUrl: string;
  private readonly publicUrl: string;
  private readonly timeoutMs: number;

  constructor(private readonly config: LocalRouterConfig) {
    this.adminUrl = config.adminUrl.replace(/\/+$/, '');
    this.publicUrl = config.publicUrl.replace(/\/+$/, '');
    this.timeoutMs = config.timeoutMs ?? 10_000;
  }

  async readRules(modules: string[]): Promise<Record<string, ModuleRule>> {
    const { rules } = (await this.call('GET', '/rules')) as RulesResponse;
    const out: Record<string, ModuleRule> = {};
    for (const module of modules) {
      const rule = rules[module];
      // A module with only a preview route is still served by the default rule: per the port, no key.
      if (rule && rule.backends.length > 0) {
        out[module] = { module, backends: rule.backends, ...(rule.preview ? { preview: rule.preview } : {}) };
      }
    }
    return out;
  }

  async ensureBackend(backend: string, targets: string[]): Promise<void> {
    await this.call('PUT', `/backends/${seg(backend)}`, { targets });
  }

  async describeBackend(backend: string): Promise<string[] | undefined> {
    const body = (await this.call('GET', `/backends/${seg(backend)}`, undefined, [404])) as
      { targets: string[] } | undefined;
    return body?.targets;
  }

  async removeBackend(backend: string): Promise<void> {
    await this.call('DELETE', `/backends/${seg(backend)}`);
  }

  async setModuleRule(module: string, backends: WeightedBackend[]): Promise<void> {
    await this.call('PUT', `/rules/${seg(module)}`, { backends });
  }

  private async setModuleRules(modules: string[], backends: WeightedBackend[]): Promise<void> {
    const body = { modules: Object.fromEntries(modules.map((module) => [module, { backends }])) };
    const answer = await this.call('PUT', '/rules', body, [404]);
    // A router process started before PUT /rules existed has no such route (404): one module at a time, as before.
    if (answer === undefined) for (const module of modules) await this.setModuleRule(module, backends);
  }

  async removeModuleRule(module: string): Promise<void> {
    await this.call('DELETE', `/rules/${seg(module)}`);
  }

  private async setPreviewRule(module: string, backend: string): Promise<void> {
    await this.call('PUT', `/rules/${seg(module)}/preview`, { backend });
  }

  private async removePreviewRule(module: string): Promise<void> {
    await this.call('DELETE', `/rules/${seg(module)}/preview`);
  }

  async registerTargets(backend: string, targets: string[]): Promise<void> {
    await this.call('POST', `/backends/${seg(backend)}/register`, { targets });
  }

  async deregisterTargets(backend: string, targets: string[]): Promise<void> {
    await this.call('POST', `/backends/${seg(backend)}/deregister`, { targets });
  }

  private async countInFlight(target: string): Promise<number> {
    const { inFlight } = (await this.call('GET', '/stats')) as StatsResponse;
    return inFlight[canonicalTarget(target)] ?? 0;
  }

  async verify(module: string, expectedVersion: string, options: VerifyOptions = {}): Promise<Verification> {
    // A router that answers nothing at all is transient (verifyThroughUrl throws): the activity retries.
    return verifyThroughUrl({
      publicUrl: this.publicUrl,
      module,
      expectedVersion,
      requests: this.config.verifyRequests,
      timeoutMs: this.timeoutMs,
      what: 'the router',
      ...options,
    });
  }

  /** One admin API call; `tolerated` statuses resolve to undefined instead of throwing. */
  private async call(method: string, path: string, body?: unknown, tolerated: number[] = []): Promise<unknown> {
    const url = `${this.adminUrl}${path}`;
    const where = `local router admin API at ${this.adminUrl}: ${method} ${path}`;
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      // Inside the try: a connection reset or a stall can happen while the body arrives, too.
      text = await response.text();
    } catch (err) {
      throw new Error(`${where} failed: ${failureDetail(err)}`);
    }
    if (response.ok) return parseJson(text, where);
    if (tolerated.includes(response.status)) return undefined;
    let message = text.slice(0, 500);
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {
      // not JSON (e.g. a proxy's error page): keep the raw text
    }
    const detail = `${where} answered ${response.status}: ${message}`;
    if (response.status >= 400 && response.status < 500 && !TRANSIENT_4XX.has(response.status)) {
      throw new CutoverError(ErrorType.RouterRequestRejected, detail);
    }
    const retryAfter = response.headers.get('retry-after');
    throw new Error(retryAfter ? `${detail} (Retry-After: ${retryAfter})` : detail);
  }
}

/** A 2xx body: JSON, or empty. A body cut short or garbled on the way is a transient failure (retried). */
function parseJson(text: string, where: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`${where} answered 2xx with a body that is not JSON: ${text.slice(0, 200)}`);
  }
}
