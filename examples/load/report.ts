/**
 * Load accounting: every request is recorded when it starts, in the phase current at that moment ("before",
 * "during", "after" the switch — the caller names them), and gets exactly one outcome: ok (a 2xx answer to this
 * very request, from the version in its `x-cutover-version`), failed (by kind), or none at all (unfinished).
 * Classifying by the phase a request STARTED in is what makes version expectations exact: a slow request started
 * on the old version before the switch legitimately finishes there after it.
 */
import { performance } from 'node:perf_hooks';
import type { PlannedRequest, RequestKind } from './traffic';
import { REQUEST_ID_HEADER, REQUEST_KINDS } from './traffic';

export const VERSION_HEADER = 'x-cutover-version';
/** byVersion's key for a 2xx answer without a version header. */
export const NO_VERSION = '(none)';

/**
 * The two client classes (examples/load.ts):
 *  - undici: an ordinary HTTP/1.1 client (Node's fetch): reuses keep-alive connections, honours `Connection: close`;
 *  - autocannon: reuses keep-alive connections and ignores `Connection: close` (writes its next request anyway).
 */
export type LoadClient = 'undici' | 'autocannon';

export type Outcome = { ok: true; version: string } | { ok: false; failure: string };

export interface LatencySummary {
  p50: number;
  p99: number;
  max: number;
}

export interface PhaseReport {
  phase: string;
  /** Requests started in this phase: ok + failed + unfinished. */
  sent: number;
  ok: number;
  failed: number;
  /** Started in this phase and never answered nor failed, even after stop() waited for them. */
  unfinished: number;
  /** Requests started, by kind. */
  byKind: Record<RequestKind, number>;
  /** Requests started, by client class. */
  byClient: Partial<Record<LoadClient, number>>;
  /** ok answers by version ("(none)" without a version header). */
  byVersion: Record<string, number>;
  /** Failures by kind: "HTTP 502", "ECONNRESET", "answer to another request", "no answer"... */
  errors: Record<string, number>;
  /** Latency of the ok GETs and POSTs (ms), null if there was none. */
  latencyMs: LatencySummary | null;
  /** Latency of the ok slow requests (ms). */
  slowLatencyMs: LatencySummary | null;
}

/** One request as it ended; times are ms since the load started. */
export interface RequestResult {
  id: string;
  client: LoadClient;
  kind: RequestKind;
  method: 'GET' | 'POST';
  phase: string;
  startedMs: number;
  finishedMs?: number;
  /** ok answers: the version that answered. */
  version?: string;
  /** failed requests: why. */
  failure?: string;
}

export interface LoadReport {
  clients: LoadClient[];
  /** Every request started: ok + failed + unfinished. */
  sent: number;
  ok: number;
  failed: number;
  unfinished: number;
  byVersion: Record<string, number>;
  errors: Record<string, number>;
  durationMs: number;
  /** In the order the phases began. */
  phases: PhaseReport[];
  requests: RequestResult[];
}

/** What an answer looked like on the wire, whichever client received it. */
export interface Answer {
  status: number;
  header(name: string): string | undefined;
  body: string;
}

/** ok only for a 2xx that echoes this request's id and, for a POST, says the whole body arrived. */
export function judgeAnswer(plan: PlannedRequest, answer: Answer): Outcome {
  if (answer.status < 200 || answer.status > 299) {
    // An error from a replica says which version gave it (a bad canary's own errors can be told apart).
    const version = answer.header(VERSION_HEADER);
    return {
      ok: false,
      failure: version === undefined ? `HTTP ${answer.status}` : `HTTP ${answer.status} from ${version}`,
    };
  }
  const echoed = answer.header(REQUEST_ID_HEADER);
  if (echoed === undefined) return { ok: false, failure: `answer without ${REQUEST_ID_HEADER}` };
  if (echoed !== plan.id) return { ok: false, failure: 'answer to another request' };
  if (plan.body !== undefined && bodyBytesOf(answer.body) !== Buffer.byteLength(plan.body)) {
    return { ok: false, failure: 'POST body not received whole' };
  }
  return { ok: true, version: answer.header(VERSION_HEADER) ?? NO_VERSION };
}

function bodyBytesOf(body: string): number | undefined {
  try {
    const parsed = JSON.parse(body) as { bodyBytes?: unknown };
    return typeof parsed.bodyBytes === 'number' ? parsed.bodyBytes : undefined;
  } catch {
    return undefined;
  }
}

export interface RequestRecord {
  readonly plan: PlannedRequest;
  readonly client: LoadClient;
  readonly phase: string;
  readonly startedAt: number;
  finishedAt?: number;
  outcome?: Outcome;
}

const count = (map: Record<string, number>, key: string): void => {
  map[key] = (map[key] ?? 0) + 1;
};

/** Nearest-rank percentiles of `values` (ms, rounded to 0.1). */
export function latencySummary(values: number[]): LatencySummary | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number): number => Math.round((sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? 0) * 10) / 10;
  return { p50: at(0.5), p99: at(0.99), max: at(1) };
}

export class LoadRecorder {
  private readonly origin = performance.now();
  private readonly phaseNames: string[];
  private readonly records: RequestRecord[] = [];
  private readonly listeners = new Set<() => void>();

  constructor(initialPhase: string) {
    this.phaseNames = [initialPhase];
  }

  get phase(): string {
    return this.phaseNames[this.phaseNames.length - 1] as string;
  }

  /** Requests started from now on belong to `name`. */
  startPhase(name: string): void {
    if (this.phaseNames.includes(name)) throw new Error(`load phase "${name}" was already used`);
    this.phaseNames.push(name);
  }

  start(plan: PlannedRequest, client: LoadClient): RequestRecord {
    const record: RequestRecord = { plan, client, phase: this.phase, startedAt: performance.now() };
    this.records.push(record);
    return record;
  }

  /** The first outcome counts; a later one for the same request is ignored. */
  finish(record: RequestRecord, outcome: Outcome): void {
    if (record.outcome) return;
    record.outcome = outcome;
    record.finishedAt = performance.now();
    for (const listener of this.listeners) listener();
  }

  /**
   * Resolves once the current phase has `minimum` requests with an outcome, and has started at least one request
   * of each kind in `kinds` and from each client class in `clients` (the verdict requires both of every phase);
   * rejects after `timeoutMs`, saying what is missing.
   */
  waitForRequests(
    minimum: number,
    kinds: readonly RequestKind[],
    timeoutMs: number,
    clients: readonly LoadClient[] = [],
  ): Promise<void> {
    const phase = this.phase;
    const missing = (): string | undefined => {
      const mine = this.records.filter((r) => r.phase === phase);
      const finished = mine.filter((r) => r.outcome).length;
      const absent = kinds.filter((k) => !mine.some((r) => r.plan.kind === k));
      const silent = clients.filter((c) => !mine.some((r) => r.client === c));
      if (finished >= minimum && absent.length === 0 && silent.length === 0) return undefined;
      return (
        `${finished}/${minimum} finished` +
        (absent.length ? `, no ${absent.join(' or ')} request started` : '') +
        (silent.length ? `, no request from ${silent.join(' or ')}` : '')
      );
    };
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (missing() !== undefined) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`load phase "${phase}": ${missing() ?? 'complete'} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  report(clients: LoadClient[]): LoadReport {
    const ms = (t: number): number => Math.round((t - this.origin) * 10) / 10;
    const requests: RequestResult[] = this.records.map((r) => ({
      id: r.plan.id,
      client: r.client,
      kind: r.plan.kind,
      method: r.plan.method,
      phase: r.phase,
      startedMs: ms(r.startedAt),
      ...(r.finishedAt !== undefined ? { finishedMs: ms(r.finishedAt) } : {}),
      ...(r.outcome?.ok ? { version: r.outcome.version } : {}),
      ...(r.outcome && !r.outcome.ok ? { failure: r.outcome.failure } : {}),
    }));
    const phases = this.phaseNames.map((phase) =>
      summarise(
        phase,
        this.records.filter((r) => r.phase === phase),
      ),
    );
    const total = summarise('all', this.records);
    return {
      clients,
      sent: total.sent,
      ok: total.ok,
      failed: total.failed,
      unfinished: total.unfinished,
      byVersion: total.byVersion,
      errors: total.errors,
      durationMs: Math.round(performance.now() - this.origin),
      phases,
      requests,
    };
  }
}

function summarise(phase: string, records: RequestRecord[]): PhaseReport {
  const out: PhaseReport = {
    phase,
    sent: records.length,
    ok: 0,
    failed: 0,
    unfinished: 0,
    byKind: Object.fromEntries(REQUEST_KINDS.map((k) => [k, 0])) as Record<RequestKind, number>,
    byClient: {},
    byVersion: {},
    errors: {},
    latencyMs: null,
    slowLatencyMs: null,
  };
  const ordinary: number[] = [];
  const slow: number[] = [];
  for (const r of records) {
    out.byKind[r.plan.kind]++;
    out.byClient[r.client] = (out.byClient[r.client] ?? 0) + 1;
    if (!r.outcome) {
      out.unfinished++;
    } else if (r.outcome.ok) {
      out.ok++;
      count(out.byVersion, r.outcome.version);
      (r.plan.kind === 'slow' ? slow : ordinary).push((r.finishedAt ?? r.startedAt) - r.startedAt);
    } else {
      out.failed++;
      count(out.errors, r.outcome.failure);
    }
  }
  out.latencyMs = latencySummary(ordinary);
  out.slowLatencyMs = latencySummary(slow);
  return out;
}
