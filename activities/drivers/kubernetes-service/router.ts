/**
 * The Router port over one Kubernetes Service (blue-green as Argo Rollouts does it): a backend is the pods of one
 * replica set of the Kubernetes platform, and the switch is one JSON merge patch of the Service's `spec.selector`
 * (with the resourceVersion it was computed from: a conflicting writer makes it re-read and patch again), for every
 * module at once. The selector before the first switch is kept in an annotation and put back by removeModuleRule
 * (a rollback or an abort of a migration); its presence is what makes readRules report Cutover's rule.
 *
 * A change returns once the Service's EndpointSlices list no pod but the new selector's, and every Ready one of
 * those, then waits `proxySync` for kube-proxy to program them (it watches the same slices; nothing says when it
 * has). Only new connections follow the switch: a keep-alive connection stays on its old pod until it closes.
 *
 * Targets are pod addresses; the Service routes by selector, so registering one only checks it is a pod of the
 * backend, and describeBackend answers from the pods the backend's selector matches.
 */
import { CutoverError, ErrorType } from '../../errors';
import type { BatchRules, ModuleRule, Router, Verification, VerifyOptions, WeightedBackend } from '../../ports';
import { verifyThroughUrl } from '../http-verify';
import { ConflictError } from '../kubernetes/api';
import { LABEL_NAME, LABEL_REPLICA_SET, MANAGED_BY, LABEL_MANAGED_BY } from '../kubernetes/naming';
import { checkWeights } from '../weights';
import type { EndpointInfo, PodInfo, Selector, ServiceApi, ServiceInfo, ServicePatch } from './api';
import {
  ANNOTATION_BACKENDS,
  ANNOTATION_ORIGINAL,
  applicationOf,
  backendsOf,
  originalOf,
  replicaSetSelector,
  routedBackend,
  sameSelector,
  selectorPatch,
  selectorString,
} from './selectors';

/** The driver's configuration: the spec's `router` section of kind kubernetes-service, durations in milliseconds. */
export interface KubernetesServiceRouterConfig {
  namespace: string;
  service: string;
  kubeconfig?: string;
  context?: string;
  publicUrl?: string;
  proxySync: number;
  endpointsTimeout: number;
}

export interface KubernetesServiceRouterOptions {
  /** Between two reads of the EndpointSlices while waiting (default 200 ms). */
  pollMs?: number;
  /** Requests sent by verify() (default 5). */
  verifyRequests?: number;
}

/** Patches tried before a run of conflicts is left to the activity's retry. */
export const CONFLICT_ATTEMPTS = 5;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The address a platform replica on this pod has (kubernetes/platform.ts): http://<pod IP>:<port>. */
function addressOf(pod: PodInfo): string | undefined {
  return pod.podIP && pod.port !== undefined ? `http://${pod.podIP}:${pod.port}` : undefined;
}

function canonical(target: string): string {
  try {
    return new URL(target).origin;
  } catch {
    throw new CutoverError(ErrorType.RouterRequestRejected, `target "${target}" is not a URL (http://<pod IP>:<port>)`);
  }
}

/** Capabilities: a batch (one patch switches every module); no preview, weights, in-flight counts or sampling. */
export class KubernetesServiceRouter implements Router {
  readonly type = 'kubernetes-service';
  readonly batch: BatchRules = {
    setModuleRules: (_modules, backends) => this.switchTo(this.onlyBackend(backends)),
  };
  /** The Service's resourceVersion whose endpoints this process has seen in force and waited proxySync for. */
  private synced: string | undefined;
  private readonly pollMs: number;
  private readonly where: string;

  constructor(
    private readonly config: KubernetesServiceRouterConfig,
    private readonly api: ServiceApi,
    private readonly options: KubernetesServiceRouterOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 200;
    this.where = `Service ${config.namespace}/${config.service}`;
  }

  // ---- rules ----

  async readRules(modules: string[]): Promise<Record<string, ModuleRule>> {
    const backend = routedBackend(await this.api.readService());
    if (backend === undefined) return {};
    return Object.fromEntries(modules.map((module) => [module, { module, backends: [{ backend, weight: 100 }] }]));
  }

  /** Every module is served by the one Service: switching one switches all (the others find it made). */
  async setModuleRule(_module: string, backends: WeightedBackend[]): Promise<void> {
    await this.switchTo(this.onlyBackend(backends));
  }

  /** Puts back the selector the Service had before the first switch (for every module); a no-op when none is in force. */
  async removeModuleRule(_module: string): Promise<void> {
    let restored: Selector | undefined;
    const service = await this.update((svc) => {
      const original = originalOf(svc);
      restored = original;
      if (!original) return undefined;
      return { annotations: { [ANNOTATION_ORIGINAL]: null }, selector: selectorPatch(svc.selector, original) };
    });
    if (restored) await this.awaitInForce(service, restored);
  }

  // ---- backends ----

  /**
   * Records the backend as the selector of the replica set its targets are pods of. Refused: targets of several
   * replica sets (a Service selects one), no target at all. If the Service routes to this backend already and the
   * replica set changed, the selector follows (and the wait for its endpoints).
   */
  async ensureBackend(backend: string, targets: string[]): Promise<void> {
    const selector = await this.selectorOfTargets(backend, targets);
    let live = false;
    const service = await this.update((svc) => {
      const backends = backendsOf(svc);
      const current = backends[backend];
      live = routedBackend(svc) === backend;
      if (current && sameSelector(current, selector)) return undefined;
      const annotations = { [ANNOTATION_BACKENDS]: JSON.stringify({ ...backends, [backend]: selector }) };
      return live ? { annotations, selector: selectorPatch(svc.selector, selector) } : { annotations };
    });
    if (live) await this.awaitInForce(service, selector);
  }

  /** The addresses of the pods the backend's selector matches (not being deleted); undefined if it is not recorded. */
  async describeBackend(backend: string): Promise<string[] | undefined> {
    const selector = backendsOf(await this.api.readService())[backend];
    if (!selector) return undefined;
    const pods = await this.api.listPods(selectorString(selector));
    return pods
      .filter((p) => !p.terminating)
      .map(addressOf)
      .filter((a): a is string => a !== undefined)
      .sort();
  }

  /** Forgets the backend; refused while the Service routes to it. */
  async removeBackend(backend: string): Promise<void> {
    await this.update((svc) => {
      const backends = backendsOf(svc);
      if (!backends[backend]) return undefined;
      if (routedBackend(svc) === backend) {
        throw new CutoverError(
          ErrorType.RouterRequestRejected,
          `backend "${backend}" is what ${this.where} selects: switch away from it first`,
        );
      }
      const { [backend]: _removed, ...rest } = backends;
      return { annotations: { [ANNOTATION_BACKENDS]: JSON.stringify(rest) } };
    });
  }

  /** The Service selects a replica set's pods whatever their number: only checks the targets are pods of the backend. */
  async registerTargets(backend: string, targets: string[]): Promise<void> {
    const served = new Set((await this.describeBackend(backend)) ?? []);
    const foreign = targets.map(canonical).filter((t) => !served.has(t));
    if (foreign.length) {
      throw new CutoverError(
        ErrorType.RouterRequestRejected,
        `${foreign.join(', ')} ${foreign.length === 1 ? 'is' : 'are'} not a pod of backend "${backend}" of ${this.where}: ` +
          'the Service selects whole replica sets, targets cannot be added one by one',
      );
    }
  }

  /** Nothing to do: a pod leaves the Service's endpoints when it is deleted (the platform's retire). */
  async deregisterTargets(_backend: string, targets: string[]): Promise<void> {
    targets.forEach(canonical);
    return Promise.resolve();
  }

  /** GETs /<module>/ through publicUrl (default the ClusterIP), each on a new connection, and compares the versions. */
  async verify(module: string, expectedVersion: string, options: VerifyOptions = {}): Promise<Verification> {
    let publicUrl = this.config.publicUrl;
    if (!publicUrl) {
      const svc = await this.api.readService();
      if (!svc.clusterIP || svc.clusterIP === 'None' || svc.port === undefined) {
        return {
          status: 'not-supported',
          detail: `${this.where} has no cluster IP and port to send requests to (set router.publicUrl)`,
        };
      }
      publicUrl = `http://${svc.clusterIP.includes(':') ? `[${svc.clusterIP}]` : svc.clusterIP}:${svc.port}`;
    }
    return verifyThroughUrl({
      publicUrl,
      module,
      expectedVersion,
      requests: this.options.verifyRequests,
      what: this.where,
      ...options,
      // A new connection for every request: a kept-alive one would still reach the pod it was opened to.
      headers: { connection: 'close' },
    });
  }

  // ---- the change procedure ----

  private onlyBackend(backends: WeightedBackend[]): string {
    checkWeights(backends);
    const live = backends.filter((b) => b.weight > 0);
    if (live.length !== 1 || !live[0]) {
      throw new CutoverError(
        ErrorType.NotSupported,
        `${this.where} sends all traffic to one backend: cannot split it between ${live.map((b) => b.backend).join(', ')}`,
      );
    }
    return live[0].backend;
  }

  /** Points the Service's selector at the backend's (keeping the one before the first switch), then waits for it. */
  private async switchTo(backend: string): Promise<void> {
    let selector: Selector | undefined;
    let changed = false;
    const service = await this.update(
      (svc) => {
        selector = backendsOf(svc)[backend];
        if (!selector) {
          throw new CutoverError(
            ErrorType.RouterRequestRejected,
            `unknown backend "${backend}" of ${this.where} (publish it first)`,
          );
        }
        const original = originalOf(svc);
        if (original && sameSelector(svc.selector, selector)) return undefined;
        if (!original && Object.keys(svc.selector).length === 0) {
          throw new CutoverError(
            ErrorType.RouterRequestRejected,
            `${this.where} has no selector (its endpoints are managed by hand): the kubernetes-service router switches selectors`,
          );
        }
        changed = true;
        return {
          ...(original ? {} : { annotations: { [ANNOTATION_ORIGINAL]: JSON.stringify(svc.selector) } }),
          selector: selectorPatch(svc.selector, selector),
        };
      },
      (svc) => this.requireReady(backend, backendsOf(svc)[backend]),
    );
    if (!selector) throw new Error('unreachable: update() ran the change');
    if (!changed && this.synced === service.resourceVersion) return;
    await this.awaitInForce(service, selector);
  }

  /**
   * Waits (up to `endpointsTimeout`) until one of the backend's pods is Ready: the kubelet's readinessProbe may mark
   * a pod Ready seconds after the workflow's own probes found it healthy, and a Service switched before would have no
   * endpoint. Refuses (retryably) to switch when none is by then.
   */
  private async requireReady(backend: string, selector: Selector | undefined): Promise<void> {
    if (!selector) return;
    const deadline = Date.now() + this.config.endpointsTimeout;
    while (!(await this.api.listPods(selectorString(selector))).some((p) => p.ready && !p.terminating)) {
      if (Date.now() >= deadline) {
        throw new Error(
          `backend "${backend}" of ${this.where} has no Ready pod (${selectorString(selector)}) after ` +
            `${this.config.endpointsTimeout} ms: not switching`,
        );
      }
      await sleep(this.pollMs);
    }
  }

  /**
   * Reads the Service, and patches it with what `change` asks (nothing: undefined) at the resourceVersion read; a
   * conflict reads and asks again, CONFLICT_ATTEMPTS times, then is left to the activity's retry (ConflictError is
   * retryable). `before` runs before each patch (a check that may throw). Answers the Service as it is now.
   */
  private async update(
    change: (svc: ServiceInfo) => Omit<ServicePatch, 'resourceVersion'> | undefined,
    before?: (svc: ServiceInfo) => Promise<void>,
  ): Promise<ServiceInfo> {
    for (let attempt = 1; ; attempt++) {
      const svc = await this.api.readService();
      const patch = change(svc);
      if (!patch) return svc;
      await before?.(svc);
      try {
        return await this.api.patchService({ resourceVersion: svc.resourceVersion, ...patch });
      } catch (err) {
        if (!(err instanceof ConflictError) || attempt >= CONFLICT_ATTEMPTS) throw err;
      }
    }
  }

  /**
   * Waits until the Service's EndpointSlices list no pod that `selector` does not match and every Ready pod it
   * matches as a ready endpoint, then `proxySync` (kube-proxy's turn). A retryable error when that takes longer than
   * `endpointsTimeout`, saying what is still listed.
   */
  private async awaitInForce(service: ServiceInfo, selector: Selector): Promise<void> {
    const deadline = Date.now() + this.config.endpointsTimeout;
    for (;;) {
      const [endpoints, pods] = await Promise.all([
        this.api.listEndpoints(),
        this.api.listPods(selectorString(selector)),
      ]);
      const problem = endpointsProblem(endpoints, pods);
      if (!problem) break;
      if (Date.now() >= deadline) {
        throw new Error(
          `${this.where}: its EndpointSlices do not list only the pods of ${selectorString(selector)} after ` +
            `${this.config.endpointsTimeout} ms: ${problem}`,
        );
      }
      await sleep(this.pollMs);
    }
    if (this.config.proxySync > 0) await sleep(this.config.proxySync);
    this.synced = service.resourceVersion;
  }

  /** The backend of the targets: the selector of the one replica set of this application they are pods of. */
  private async selectorOfTargets(backend: string, targets: string[]): Promise<Selector> {
    const application = applicationOf(backend);
    if (targets.length === 0) {
      throw new CutoverError(
        ErrorType.RouterRequestRejected,
        `backend "${backend}" of ${this.where} without targets: the Service selects the pods of a replica set, and none was given`,
      );
    }
    const wanted = targets.map(canonical);
    const pods = await this.api.listPods(
      `${LABEL_MANAGED_BY}=${MANAGED_BY},${LABEL_NAME}=${application},${LABEL_REPLICA_SET}`,
    );
    const byAddress = new Map(pods.flatMap((p) => (addressOf(p) ? [[addressOf(p) as string, p] as const] : [])));
    const missing = wanted.filter((t) => !byAddress.has(t));
    if (missing.length) {
      // The platform listed them a moment ago: a pod not found yet (or gone since) is worth another attempt.
      throw new Error(
        `backend "${backend}": ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} no pod of application ` +
          `${application} in namespace ${this.config.namespace}`,
      );
    }
    const sets = [...new Set(wanted.map((t) => byAddress.get(t)?.labels[LABEL_REPLICA_SET] ?? ''))].sort();
    if (sets.length !== 1 || !sets[0]) {
      throw new CutoverError(
        ErrorType.RouterRequestRejected,
        `backend "${backend}": its targets are pods of replica sets ${sets.join(', ')}; a Service selects one`,
      );
    }
    return replicaSetSelector(application, sets[0]);
  }
}

/** What keeps the endpoints from being those of `pods` (undefined: nothing). */
export function endpointsProblem(endpoints: EndpointInfo[], pods: PodInfo[]): string | undefined {
  const wanted = new Set(pods.filter((p) => !p.terminating).map((p) => p.name));
  const others = endpoints.filter((e) => !e.pod || !wanted.has(e.pod));
  if (others.length) {
    return `still listed: ${others.map((e) => e.pod ?? e.addresses.join('/')).join(', ')}`;
  }
  const readyListed = new Set(endpoints.filter((e) => e.ready && e.pod).map((e) => e.pod as string));
  const unlisted = pods.filter((p) => p.ready && !p.terminating && !readyListed.has(p.name)).map((p) => p.name);
  if (unlisted.length) return `Ready pods not yet listed as ready: ${unlisted.join(', ')}`;
  return undefined;
}
