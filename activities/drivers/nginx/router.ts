/**
 * The Router port over nginx, in the OutSystems pattern: `location /` proxies to the platform server, and one
 * file per module (`<Module>.location`, included with `include <confDir>/*.location;`) proxies its path to an
 * upstream per color (a backend = an `upstream` block in its own file), with weights and a preview route.
 *
 * Every change: under a lock file (one writer per confDir, across workers), compute the new files from what is on
 * disk, write them atomically, `nginx -t` (refused: the previous files are put back and the call fails,
 * non-retryable), graceful reload without dropping keep-alive requests (control.ts), then check through nginx that
 * the module answers from the expected backend. A retried call finds the files already written: no reload, it only
 * waits for workers of the earlier reload to finish and checks again.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { CutoverError, ErrorType } from '../../errors';
import type {
  BatchRules,
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
import { checkWeights } from '../weights';
import { describeError } from '../local/error-info';
import { withLock } from '../local/lock-file';
import { NginxControl } from './control';
import { layoutFiles } from './layout';
import type { NginxControlConfig } from './control';
import type { FileChange } from './files';
import { applyChecked, readOptional } from './files';
import type { BackendState, ModuleState, RenderContext } from './render';
import {
  CLOSE_LOCATION_FILE,
  DEFAULT_BACKEND,
  backendFile,
  moduleHttpFile,
  moduleLocationFile,
  parseForeignLocation,
  parseState,
  renderBackend,
  renderModuleHttp,
  renderModuleLocation,
} from './render';
import { canonicalTargets, checkBackendName, isBackendName, unknownBackend } from './validate';

/** The driver's configuration: the spec's `router` section of kind nginx, durations in milliseconds. */
export interface NginxRouterConfig extends NginxControlConfig {
  defaultUpstream: string;
  publicUrl: string;
  previewHeader: string;
  /** Requests sent by verify() (default 5). */
  verifyRequests?: number;
  /**
   * With it, module locations log every request to this file (`cutover_metrics` format) for cutover-router.mtail,
   * which exports the local router's metrics from it (canary analysis through nginx).
   */
  metricsLog?: string;
}

/** What a module must answer from after a change (checked through nginx). */
interface RoutingCheck {
  module: string;
  backends: string[];
  headers?: Record<string, string>;
}

/**
 * Capabilities: preview routes (a `map` on the header) and weights (`split_clients`); no in-flight counts (open-source
 * nginx does not report requests per upstream server: deregisterTargets waits for the old workers instead).
 */
export class NginxRouter implements Router {
  readonly type = 'nginx';
  readonly preview: PreviewRoutes = {
    setRule: (module, backend) => this.setPreviewRule(module, backend),
    removeRule: (module) => this.removePreviewRule(module),
  };
  /** A switch of many modules is one reload (one drain), checked through nginx for each module. */
  readonly batch: BatchRules = {
    setModuleRules: (modules, backends) => this.setModuleRules(modules, backends),
  };
  /** split_clients percentages: every backend of a split has at least 1 of the 100. */
  readonly weights: WeightedRules = { maxBackends: 100 };
  readonly sampling: TrafficSampling = {
    sample: (module, requests, options) =>
      sampleThroughUrl({ publicUrl: this.config.publicUrl, module, requests, what: 'nginx', ...options }),
  };
  private readonly control: NginxControl;
  private readonly ctx: RenderContext;

  constructor(private readonly config: NginxRouterConfig) {
    this.control = new NginxControl(config);
    this.ctx = {
      confDir: config.confDir,
      defaultUpstream: config.defaultUpstream,
      previewHeader: config.previewHeader,
      ...(config.metricsLog ? { metricsLog: config.metricsLog } : {}),
    };
  }

  // ---- rules ----

  async readRules(modules: string[]): Promise<Record<string, ModuleRule>> {
    const out: Record<string, ModuleRule> = {};
    for (const module of modules) {
      const state = await this.readModule(module);
      if (!state || !state.backends.some((b) => b.weight > 0 && b.backend !== DEFAULT_BACKEND)) continue;
      out[module] = { module, backends: state.backends, ...(state.preview ? { preview: state.preview } : {}) };
    }
    return out;
  }

  async setModuleRule(module: string, backends: WeightedBackend[]): Promise<void> {
    checkWeights(backends);
    await this.locked(async () => {
      for (const b of backends) await this.requireBackend(b.backend);
      const state = (await this.readModule(module)) ?? { module, backends: [] };
      return {
        changes: this.moduleChanges({ ...state, backends }),
        check: { module, backends: backends.filter((b) => b.weight > 0).map((b) => b.backend) },
      };
    });
  }

  private async setModuleRules(modules: string[], backends: WeightedBackend[]): Promise<void> {
    checkWeights(backends);
    await this.locked(async () => {
      for (const b of backends) await this.requireBackend(b.backend);
      const serving = backends.filter((b) => b.weight > 0).map((b) => b.backend);
      const changes: FileChange[] = [];
      for (const module of modules) {
        const state = (await this.readModule(module)) ?? { module, backends: [] };
        changes.push(...this.moduleChanges({ ...state, backends }));
      }
      return { changes, checks: modules.map((module) => ({ module, backends: serving })) };
    });
  }

  async removeModuleRule(module: string): Promise<void> {
    await this.locked(async () => {
      const state = await this.readModule(module);
      if (!state || state.backends.length === 0) return { changes: [] };
      return {
        changes: this.moduleChanges({ ...state, backends: [] }),
        check: { module, backends: [DEFAULT_BACKEND] },
      };
    });
  }

  private async setPreviewRule(module: string, backend: string): Promise<void> {
    await this.locked(async () => {
      await this.requireBackend(backend);
      const state = (await this.readModule(module)) ?? { module, backends: [] };
      return {
        changes: this.moduleChanges({ ...state, preview: backend }),
        check: { module, backends: [backend], headers: { [this.config.previewHeader]: '1' } },
      };
    });
  }

  private async removePreviewRule(module: string): Promise<void> {
    await this.locked(async () => {
      const state = await this.readModule(module);
      if (!state?.preview) return { changes: [] };
      const { preview: _dropped, ...rest } = state;
      return { changes: this.moduleChanges(rest) };
    });
  }

  // ---- backends (upstreams) ----

  async ensureBackend(backend: string, targets: string[]): Promise<void> {
    checkBackendName(backend);
    const wanted = canonicalTargets(targets);
    await this.locked(() => Promise.resolve({ changes: [this.backendChange({ backend, targets: wanted })] }));
  }

  async describeBackend(backend: string): Promise<string[] | undefined> {
    return (await this.readBackend(backend))?.targets;
  }

  async removeBackend(backend: string): Promise<void> {
    await this.locked(async () => {
      if (!(await this.readBackend(backend))) return { changes: [] };
      const users = await this.usersOf(backend);
      if (users.length) {
        throw new CutoverError(
          ErrorType.RouterRequestRejected,
          `backend "${backend}" is still used by ${users.join(', ')}: switch those away first`,
        );
      }
      return { changes: [{ name: backendFile(backend), content: null }] };
    });
  }

  async registerTargets(backend: string, targets: string[]): Promise<void> {
    const adding = canonicalTargets(targets);
    await this.locked(async () => {
      const state = await this.readBackend(backend);
      if (!state) throw unknownBackend(backend);
      const merged = [...state.targets, ...adding.filter((t) => !state.targets.includes(t))];
      return { changes: [this.backendChange({ backend, targets: merged })] };
    });
  }

  /** Returns once the reload is complete: every old worker has exited, so no request is in flight to the targets. */
  async deregisterTargets(backend: string, targets: string[]): Promise<void> {
    const leaving = new Set(canonicalTargets(targets));
    await this.locked(async () => {
      const state = await this.readBackend(backend);
      if (!state) return { changes: [] };
      return {
        changes: [this.backendChange({ backend, targets: state.targets.filter((t) => !leaving.has(t)) })],
      };
    });
  }

  async verify(module: string, expectedVersion: string, options: VerifyOptions = {}): Promise<Verification> {
    return verifyThroughUrl({
      publicUrl: this.config.publicUrl,
      module,
      expectedVersion,
      requests: this.config.verifyRequests,
      what: 'nginx',
      ...options,
    });
  }

  // ---- the change procedure ----

  /**
   * Under the lock: compute the changes from the files on disk, apply them with `nginx -t`, reload (or, when nothing
   * changed, wait for a reload of an earlier attempt to finish), then check the routing through nginx.
   */
  private async locked(
    plan: () => Promise<{ changes: FileChange[]; check?: RoutingCheck; checks?: RoutingCheck[] }>,
  ): Promise<void> {
    await fs.mkdir(this.config.confDir, { recursive: true });
    const lockFile = path.join(this.config.confDir, '.cutover.lock');
    // Present while files are written but not yet reloaded (a reload failed): the next change reloads even if
    // its own files are already in place.
    const pendingFile = path.join(this.config.confDir, '.cutover.reload-pending');
    await withLock(lockFile, { waitMs: 45_000, staleMs: 120_000 }, async () => {
      const { changes, check, checks = [] } = await plan();
      const pending = (await readOptional(pendingFile)) !== null;
      if (changes.length === 0 && !pending) return;
      const changed = await applyChecked(this.config.confDir, [...this.layoutChanges(), ...changes], () =>
        this.control.test(),
      );
      if (changed.length > 0 || pending) {
        await fs.writeFile(pendingFile, `${changed.join('\n')}\n`);
        await this.control.reload();
        await fs.rm(pendingFile, { force: true });
      } else {
        await this.control.settle();
      }
      for (const c of check ? [check, ...checks] : checks) await this.checkRouting(c);
    });
  }

  private layoutChanges(): FileChange[] {
    return layoutFiles(this.ctx);
  }

  private moduleChanges(state: ModuleState): FileChange[] {
    const empty = state.backends.length === 0 && !state.preview;
    return [
      { name: moduleHttpFile(state.module), content: empty ? null : renderModuleHttp(state, this.ctx) },
      { name: moduleLocationFile(state.module), content: empty ? null : renderModuleLocation(state, this.ctx) },
    ];
  }

  private backendChange(state: BackendState): FileChange {
    return { name: backendFile(state.backend), content: renderBackend(state) };
  }

  /** After a reload: a few requests through nginx must come back from one of the expected backends. */
  private async checkRouting(check: RoutingCheck): Promise<void> {
    const url = `${this.config.publicUrl.replace(/\/+$/, '')}/${encodeURIComponent(check.module)}/`;
    const answers: string[] = [];
    for (let i = 0; i < 3; i++) {
      let backend: string;
      try {
        const response = await fetch(url, { headers: check.headers, signal: AbortSignal.timeout(10_000) });
        await response.arrayBuffer();
        backend = response.headers.get('x-cutover-backend') ?? DEFAULT_BACKEND;
      } catch (err) {
        throw new Error(`after the reload, ${url} did not answer: ${describeError(err)}`);
      }
      answers.push(backend);
    }
    const wrong = answers.filter((b) => !check.backends.includes(b));
    if (wrong.length) {
      throw new Error(
        `after the reload, ${url} answers from ${[...new Set(answers)].join(', ')}, expected ${check.backends.join(' or ')}: ` +
          'is router.publicUrl this nginx, and does its configuration include the files in confDir?',
      );
    }
  }

  // ---- reading the files ----

  private async readModule(module: string): Promise<ModuleState | undefined> {
    const text = await readOptional(path.join(this.config.confDir, moduleLocationFile(module)));
    if (text === null) return undefined;
    const state = parseState<ModuleState>(text, 'module');
    if (state) return state;
    // A hand-made file (OutSystems pattern): report where it proxies, so the workflow sees a foreign backend.
    const upstream = parseForeignLocation(text) ?? 'unknown';
    const backend = upstream.startsWith('cutover_b_') ? upstream.slice('cutover_b_'.length) : upstream;
    return { module, backends: [{ backend, weight: 100 }] };
  }

  private async readBackend(backend: string): Promise<BackendState | undefined> {
    if (!isBackendName(backend)) return undefined;
    const text = await readOptional(path.join(this.config.confDir, backendFile(backend)));
    return text === null ? undefined : parseState<BackendState>(text, 'backend');
  }

  private async requireBackend(backend: string): Promise<void> {
    if (backend === DEFAULT_BACKEND) return;
    if (!(await this.readBackend(backend))) throw unknownBackend(backend);
  }

  /** Modules whose live or preview route uses the backend. */
  private async usersOf(backend: string): Promise<string[]> {
    const users: string[] = [];
    for (const name of await fs.readdir(this.config.confDir)) {
      if (!name.endsWith('.location') || name === CLOSE_LOCATION_FILE) continue;
      const state = await this.readModule(name.slice(0, -'.location'.length));
      if (!state) continue;
      if (state.backends.some((b) => b.backend === backend)) users.push(`the rule of ${state.module}`);
      if (state.preview === backend) users.push(`the preview of ${state.module}`);
    }
    return users;
  }
}
