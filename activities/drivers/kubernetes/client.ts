/**
 * KubeApi over `@kubernetes/client-node` (CoreV1Api) — with client-shapes.ts (the translation both ways: `toK8sPod()`,
 * `fromK8sPod()`, `toK8sConfigMap()`, `fromK8sConfigMap()`), the only files of the driver that see its types. Turns API errors
 * into the driver's errors: 401/403 (missing RBAC), 404 of the namespace, 400/422 (invalid object) become
 * CutoverErrors that the activity boundary makes non-retryable, naming the verb and the resource; 429, 5xx and
 * connection errors stay plain, retryable Errors. Every message names the API server it came from.
 *
 * Every request has a deadline (REQUEST_TIMEOUT_MS): the library sets none of its own (undici's defaults wait
 * 5 minutes for headers), so a black-holed connection or a hung API server would hold an activity until its
 * start-to-close timeout; with the deadline the call fails, transiently, and the activity retries it.
 *
 * Connection is configuration, not code: a kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or the pod's
 * in-cluster service account) and optionally one of its contexts. Credentials never enter the spec: it names only
 * the file.
 *
 * The library is loaded on first use (it takes most of a second to load, and only workers that run Kubernetes
 * deployments need it).
 */
import type * as KubernetesClient from '@kubernetes/client-node';
import type {
  ApiException,
  Configuration,
  CoreV1Api,
  KubeConfig,
  Middleware,
  RequestContext,
  ResponseContext,
} from '@kubernetes/client-node';
import { CutoverError, ErrorType } from '../../errors';
import type { ErrorTypeName } from '../../errors';
import type { KubeApi } from './api';
import { ConflictError } from './api';
import { fromK8sConfigMap, fromK8sPod, toK8sConfigMap, toK8sPod } from './client-shapes';

/** Per API request (headers and body): a call that takes longer fails, and is retried. */
export const REQUEST_TIMEOUT_MS = 10_000;

export interface KubeConnection {
  /** Path of a kubeconfig file; default: $KUBECONFIG, ~/.kube/config, else in-cluster. */
  kubeconfig?: string;
  /** A context of that kubeconfig; default: its current context. */
  context?: string;
}

// ---- errors ----

interface StatusBody {
  message?: string;
  reason?: string;
  details?: { kind?: string; name?: string };
}

/** The Status object the API server sent (the client keeps it as a JSON string). */
/** An ApiException (by shape: the HTTP status code, the body and the headers the client attaches). */
function isApiException(err: unknown): err is ApiException<unknown> {
  return (
    err instanceof Error &&
    typeof (err as { code?: unknown }).code === 'number' &&
    'body' in err &&
    typeof (err as { headers?: unknown }).headers === 'object'
  );
}

function statusOf(err: ApiException<unknown>): StatusBody {
  const body = err.body;
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as StatusBody;
    } catch {
      return { message: body.slice(0, 300) };
    }
  }
  return typeof body === 'object' && body !== null ? body : {};
}

export function statusCode(err: unknown): number | undefined {
  return isApiException(err) ? err.code : undefined;
}

/** Who is refused (the error type of a 401/403/400/422) and which Role grants what was refused. */
export interface K8sCaller {
  rejected: ErrorTypeName;
  role: string;
}

/** The platform driver: its Role is docs/kubernetes.md's. */
const PLATFORM_CALLER: K8sCaller = {
  rejected: ErrorType.PlatformRequestRejected,
  role: 'the Role in docs/kubernetes.md (pods and configmaps)',
};

/**
 * A driver error for a failed call: `verb` and `resource` name what was refused ("create", "pod shop-1-0-0-green-0
 * in namespace shop"). The ApiException's own message is not used: it carries the response headers.
 * `caller` says whose refusal it is (default the platform's; the kubernetes-service router passes its own).
 */
export function classifyK8sError(
  err: unknown,
  verb: string,
  resource: string,
  namespace: string,
  server = 'the API server',
  caller: K8sCaller = PLATFORM_CALLER,
): Error {
  if (!isApiException(err)) {
    // A network failure (reset, refused, timed out): transient, retried.
    return new Error(`Kubernetes API server ${server}: ${verb} ${resource} failed: ${networkReason(err)}`);
  }
  const code = err.code;
  const status = statusOf(err);
  const detail = status.message ?? status.reason ?? 'no message';
  switch (code) {
    case 401:
      return new CutoverError(
        caller.rejected,
        `Kubernetes API server ${server} did not accept the worker's credentials to ${verb} ${resource} ` +
          `(HTTP 401: ${detail}); check the kubeconfig`,
      );
    case 403:
      return new CutoverError(
        caller.rejected,
        `Kubernetes API server ${server} forbids the worker to ${verb} ${resource} (HTTP 403: ${detail}); ` +
          `grant ${caller.role}`,
      );
    case 404:
      if (status.details?.kind === 'namespaces') {
        return new CutoverError(
          ErrorType.ResourceNotFound,
          `Kubernetes API server ${server}: cannot ${verb} ${resource}: namespace ${namespace} does not exist (HTTP 404)`,
        );
      }
      return new CutoverError(
        ErrorType.ResourceNotFound,
        `Kubernetes API server ${server}: cannot ${verb} ${resource}: not found (HTTP 404: ${detail})`,
      );
    case 400:
    case 422:
      return new CutoverError(
        caller.rejected,
        `Kubernetes API server ${server} rejected ${verb} ${resource} as invalid (HTTP ${code}: ${detail})`,
      );
    case 409:
      return new ConflictError(resource);
    default:
      // 429 (throttled), 5xx, anything unexpected: transient, retried by the activity's policy.
      return new Error(`Kubernetes API server ${server}: ${verb} ${resource} failed (HTTP ${code}: ${detail})`);
  }
}

/** Why a request got no answer: "timed out after 10000 ms", or the most specific code (ECONNRESET...). */
function networkReason(err: unknown): string {
  const e = (err ?? {}) as { name?: unknown; message?: unknown; code?: unknown; cause?: unknown };
  const cause = (e.cause ?? {}) as { name?: unknown; message?: unknown; code?: unknown };
  if (e.name === 'TimeoutError' || cause.name === 'TimeoutError') {
    return `no answer within ${REQUEST_TIMEOUT_MS} ms (timed out)`;
  }
  const code = typeof cause.code === 'string' ? cause.code : typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : String(err);
  const detail = typeof cause.message === 'string' && cause.message !== message ? `: ${cause.message}` : '';
  return code ? `${code} (${message}${detail})` : `${message}${detail}`;
}

/** Gives every request a deadline and names Cutover as the client (the server's audit log shows it). */
function requestDeadline(timeoutMs: number): Middleware {
  return {
    pre(context: RequestContext): Promise<RequestContext> {
      context.setSignal(AbortSignal.timeout(timeoutMs));
      context.setHeaderParam('User-Agent', 'cutover');
      return Promise.resolve(context);
    },
    post(context: ResponseContext): Promise<ResponseContext> {
      return Promise.resolve(context);
    },
  };
}

// ---- the implementation ----

export type KubernetesClientLibrary = typeof KubernetesClient;
let library: Promise<KubernetesClientLibrary> | undefined;

function loadLibrary(): Promise<KubernetesClientLibrary> {
  return (library ??= import('@kubernetes/client-node'));
}

function loadKubeConfig(lib: KubernetesClientLibrary, connection: KubeConnection): KubeConfig {
  const kc = new lib.KubeConfig();
  try {
    if (connection.kubeconfig) kc.loadFromFile(connection.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw new CutoverError(
      ErrorType.PlatformRequestRejected,
      `cannot load the kubeconfig ${connection.kubeconfig ?? '(default: $KUBECONFIG, ~/.kube/config, in-cluster)'}: ` +
        (err instanceof Error ? err.message : String(err)),
    );
  }
  if (connection.context) {
    if (!kc.getContexts().some((c) => c.name === connection.context)) {
      throw new CutoverError(
        ErrorType.PlatformRequestRejected,
        `the kubeconfig ${connection.kubeconfig ?? '(default)'} has no context "${connection.context}"`,
      );
    }
    kc.setCurrentContext(connection.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new CutoverError(
      ErrorType.PlatformRequestRejected,
      `the kubeconfig ${connection.kubeconfig ?? '(default)'} names no cluster for its current context`,
    );
  }
  return kc;
}

/** A connection to one API server: the library, a client configuration for its API classes, the server's URL. */
export interface KubeClientConnection {
  lib: KubernetesClientLibrary;
  configuration: Configuration;
  /** The API server's URL, for messages. */
  server: string;
}

/**
 * Loads the library and the kubeconfig (file, context) and builds the configuration every API class of the driver is
 * made with: as KubeConfig.makeApiClient() builds it, plus the per-request deadline and Cutover's User-Agent. Shared
 * with the kubernetes-service router, so both connect the same way.
 */
export async function connectKube(connection: KubeConnection): Promise<KubeClientConnection> {
  const lib = await loadLibrary();
  const kc = loadKubeConfig(lib, connection);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('unreachable: loadKubeConfig checked the current cluster');
  const configuration = lib.createConfiguration({
    baseServer: new lib.ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    promiseMiddleware: [requestDeadline(REQUEST_TIMEOUT_MS)],
  });
  return { lib, configuration, server: cluster.server };
}

/** A KubeApi for one namespace. The kubeconfig is read on first use (so a bad one fails an activity, not the worker). */
export function newClientKubeApi(namespace: string, connection: KubeConnection): KubeApi {
  let core: CoreV1Api | undefined;
  /** The API server's URL, for messages (known once the kubeconfig is read). */
  let server: string | undefined;
  const api = async (): Promise<CoreV1Api> => {
    if (core) return core;
    const connected = await connectKube(connection);
    server = connected.server;
    return (core ??= new connected.lib.CoreV1Api(connected.configuration));
  };
  const where = `in namespace ${namespace}`;
  const classify = (err: unknown, verb: string, resource: string): Error =>
    classifyK8sError(err, verb, `${resource} ${where}`, namespace, server);

  async function call<T>(verb: string, resource: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      if (err instanceof CutoverError) throw err;
      throw classify(err, verb, resource);
    }
  }

  /** undefined on 404 of the object itself (a 404 of the namespace is the same answer: nothing there). */
  async function orUndefined<T>(verb: string, resource: string, body: () => Promise<T>): Promise<T | undefined> {
    try {
      return await body();
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      if (err instanceof CutoverError) throw err;
      throw classify(err, verb, resource);
    }
  }

  const self: KubeApi = {
    namespace,

    async createPod(manifest) {
      try {
        const pod = await (await api()).createNamespacedPod({ namespace, body: toK8sPod(manifest) });
        return { pod: fromK8sPod(pod), created: true };
      } catch (err) {
        if (statusCode(err) !== 409) {
          if (err instanceof CutoverError) throw err;
          throw classify(err, 'create', `pod ${manifest.name}`);
        }
      }
      // AlreadyExists: an earlier attempt created it. Read it back (never a second copy).
      const existing = await self.readPod(manifest.name);
      if (!existing) throw new Error(`pod ${manifest.name} ${where} existed a moment ago and is gone now; retry`);
      return { pod: existing, created: false };
    },

    readPod: (name) =>
      orUndefined('get', `pod ${name}`, async () =>
        fromK8sPod(await (await api()).readNamespacedPod({ name, namespace })),
      ),

    listPods: (labelSelector) =>
      call('list', `pods (${labelSelector})`, async () =>
        (await (await api()).listNamespacedPod({ namespace, labelSelector })).items.map(fromK8sPod),
      ),

    async deletePod(name, gracePeriodSeconds, uid) {
      try {
        const deleted = await orUndefined('delete', `pod ${name}`, async () =>
          (await api()).deleteNamespacedPod({
            name,
            namespace,
            gracePeriodSeconds,
            ...(uid ? { body: { gracePeriodSeconds, preconditions: { uid } } } : {}),
          }),
        );
        return deleted !== undefined;
      } catch (err) {
        // 409 on a uid precondition: the pod of that name is another one now (someone replaced it meanwhile).
        if (uid && err instanceof ConflictError) return false;
        throw err;
      }
    },

    async deletePods(labelSelector, gracePeriodSeconds) {
      try {
        await (await api()).deleteCollectionNamespacedPod({ namespace, labelSelector, gracePeriodSeconds });
        return true;
      } catch (err) {
        if (statusCode(err) === 403) return false;
        if (err instanceof CutoverError) throw err;
        throw classify(err, 'deletecollection', `pods (${labelSelector})`);
      }
    },

    async createRecord(record) {
      try {
        const cm = await (await api()).createNamespacedConfigMap({ namespace, body: toK8sConfigMap(record) });
        return { record: fromK8sConfigMap(cm), created: true };
      } catch (err) {
        if (statusCode(err) !== 409) {
          if (err instanceof CutoverError) throw err;
          throw classify(err, 'create', `configmap ${record.name}`);
        }
      }
      const existing = await self.readRecord(record.name);
      if (!existing) throw new Error(`configmap ${record.name} ${where} existed a moment ago and is gone now; retry`);
      return { record: existing, created: false };
    },

    readRecord: (name) =>
      orUndefined('get', `configmap ${name}`, async () =>
        fromK8sConfigMap(await (await api()).readNamespacedConfigMap({ name, namespace })),
      ),

    replaceRecord: (record) =>
      call('update', `configmap ${record.name}`, async () =>
        fromK8sConfigMap(
          await (
            await api()
          ).replaceNamespacedConfigMap({ name: record.name, namespace, body: toK8sConfigMap(record) }),
        ),
      ),

    listRecords: (labelSelector) =>
      call('list', `configmaps (${labelSelector})`, async () =>
        (await (await api()).listNamespacedConfigMap({ namespace, labelSelector })).items.map(fromK8sConfigMap),
      ),

    async deleteRecord(name) {
      const deleted = await orUndefined('delete', `configmap ${name}`, async () =>
        (await api()).deleteNamespacedConfigMap({ name, namespace, propagationPolicy: 'Background' }),
      );
      return deleted !== undefined;
    },
  };
  return self;
}
