/**
 * What the local router counts, for canary analysis and split verification: Prometheus metrics (prom-client, on a
 * registry of its own, served by the admin API's GET /metrics) and the same request counts per backend as plain
 * numbers (GET /stats `backends`), so a test or an activity can read the split without a Prometheus.
 *
 *   cutover_router_requests_total{module,backend,code_class}   counter; code_class 2xx|3xx|4xx|5xx
 *   cutover_router_request_duration_seconds{module,backend}    histogram, 5 ms .. 10 s
 *   cutover_router_in_flight{backend}                          gauge (long-lived responses excluded, as in /stats)
 *   cutover_router_upstream_retries_total{module}              counter
 *
 * `module` is the module of the rule (or preview route) that served the request, "default" for the default rule;
 * `backend` is the backend that answered, "default" for the default rule's target and "none" for the 502/504 the
 * router itself answers when nothing could. Label values come only from the rule table, so the number of series is
 * bounded by the rules, not by the paths clients send.
 *
 * The hot path allocates nothing of its own: every (module, backend) pair's label children are looked up once and
 * cached. A pair's four code_class series are all exported (at 0) from its first answer on, so that a canary
 * without errors has an error ratio of 0 rather than none.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The backend label of an answer the router generated itself (nothing could answer). */
export const NO_BACKEND = 'none';
/** The module label of requests the default rule served. */
export const DEFAULT_MODULE = 'default';

/** Web-page latencies: 5 ms to 10 s. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const CODE_CLASSES = ['2xx', '3xx', '4xx', '5xx'] as const;
export type CodeClass = (typeof CODE_CLASSES)[number];

/** 2xx..5xx as 0..3; a 1xx final status (none in practice: upgrades are not proxied) counts as 2xx. */
function classIndex(status: number): number {
  return Math.min(3, Math.max(0, Math.floor(status / 100) - 2));
}

export interface BackendTally {
  requests: number;
  byClass: Record<CodeClass, number>;
}

type Inc = { inc(value?: number): void };
type Observe = { observe(value: number): void };

/** One backend's counters, shared by every module it serves. */
class BackendMetrics {
  readonly tally: BackendTally = { requests: 0, byClass: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 } };
  /** Read by the gauge at scrape time (collect): a plain number on the hot path. */
  inFlight = 0;
}

/** The label children of one (module, backend) pair. */
export class RouteMetrics {
  constructor(
    private readonly backend: BackendMetrics,
    private readonly byClass: readonly Inc[],
    private readonly duration: Observe,
  ) {}

  /** A response began (its status is known). */
  answered(status: number): void {
    const i = classIndex(status);
    (this.byClass[i] as Inc).inc();
    const tally = this.backend.tally;
    tally.requests++;
    tally.byClass[CODE_CLASSES[i] as CodeClass]++;
  }

  /** The response ended, `seconds` after the request arrived. */
  finished(seconds: number): void {
    this.duration.observe(seconds);
  }

  beginInFlight(): void {
    this.backend.inFlight++;
  }

  endInFlight(): void {
    this.backend.inFlight--;
  }
}

export class RouterMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'module' | 'backend' | 'code_class'>;
  private readonly duration: Histogram<'module' | 'backend'>;
  private readonly inFlight: Gauge<'backend'>;
  private readonly retries: Counter<'module'>;
  private readonly backends = new Map<string, BackendMetrics>();
  private readonly routes = new Map<string, Map<string, RouteMetrics>>();
  private readonly retriesByModule = new Map<string, Inc>();

  constructor() {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'cutover_router_requests_total',
      help: 'Requests answered, by the module of the rule that served them, the backend that answered and the status class',
      labelNames: ['module', 'backend', 'code_class'],
      registers,
    });
    this.duration = new Histogram({
      name: 'cutover_router_request_duration_seconds',
      help: 'Time from a request arriving to its response ending (long-lived responses such as server-sent events excluded)',
      labelNames: ['module', 'backend'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    const backends = this.backends;
    this.inFlight = new Gauge({
      name: 'cutover_router_in_flight',
      help: 'Requests being forwarded to a backend now (long-lived responses excluded)',
      labelNames: ['backend'],
      registers,
      collect() {
        for (const [backend, metrics] of backends) this.set({ backend }, metrics.inFlight);
      },
    });
    this.retries = new Counter({
      name: 'cutover_router_upstream_retries_total',
      help: 'Upstream attempts retried on another target after a connection was refused or reset before any answer',
      labelNames: ['module'],
      registers,
    });
  }

  /** The cached label children of (module, backend). */
  route(module: string, backend: string): RouteMetrics {
    let byBackend = this.routes.get(module);
    if (!byBackend) this.routes.set(module, (byBackend = new Map<string, RouteMetrics>()));
    let route = byBackend.get(backend);
    if (!route) {
      const byClass = CODE_CLASSES.map((codeClass) => this.requests.labels(module, backend, codeClass));
      // Every class is exported from the first answer on, at 0 if need be: an error ratio then reads 0, not "no data".
      for (const child of byClass) child.inc(0);
      route = new RouteMetrics(this.backendMetrics(backend), byClass, this.duration.labels(module, backend));
      byBackend.set(backend, route);
    }
    return route;
  }

  retried(module: string): void {
    let child = this.retriesByModule.get(module);
    if (!child) this.retriesByModule.set(module, (child = this.retries.labels(module)));
    child.inc();
  }

  /** Answers per backend since the router started (the JSON view of cutover_router_requests_total). */
  tallies(): Record<string, BackendTally> {
    const out: Record<string, BackendTally> = {};
    for (const [backend, { tally }] of this.backends) {
      out[backend] = { requests: tally.requests, byClass: { ...tally.byClass } };
    }
    return out;
  }

  /** The Prometheus text exposition of every metric. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private backendMetrics(backend: string): BackendMetrics {
    let metrics = this.backends.get(backend);
    if (!metrics) this.backends.set(backend, (metrics = new BackendMetrics()));
    return metrics;
  }
}
