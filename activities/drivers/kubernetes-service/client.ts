/**
 * ServiceApi over `@kubernetes/client-node` (CoreV1Api for the Service and pods, DiscoveryV1Api for EndpointSlices):
 * the only file of this driver that sees the library's types, translating both ways here (`fromK8sService()`,
 * `toK8sPatch()`, `fromK8sEndpointSlice()`). The connection (kubeconfig, context, per-request deadline) and the error
 * classification are the Kubernetes platform's (kubernetes/client.ts), with the router's error type and Role.
 */
import type { CoreV1Api, DiscoveryV1Api, V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { CutoverError, ErrorType } from '../../errors';
import { ConflictError } from '../kubernetes/api';
import { classifyK8sError, connectKube, statusCode } from '../kubernetes/client';
import type { K8sCaller, KubeClientConnection, KubeConnection } from '../kubernetes/client';
import { fromK8sPod } from '../kubernetes/client-shapes';
import type { EndpointInfo, ServiceApi, ServiceInfo, ServicePatch } from './api';

export const SERVICE_ROUTER_ROLE =
  'the Role in docs/routers.md (kubernetes-service: get and patch services, list endpointslices in discovery.k8s.io, list pods)';

const ROUTER_CALLER: K8sCaller = { rejected: ErrorType.RouterRequestRejected, role: SERVICE_ROUTER_ROLE };

export function fromK8sService(service: V1Service): ServiceInfo {
  const port = service.spec?.ports?.[0]?.port;
  return {
    name: service.metadata?.name ?? '',
    resourceVersion: service.metadata?.resourceVersion ?? '',
    selector: service.spec?.selector ?? {},
    annotations: service.metadata?.annotations ?? {},
    ...(service.spec?.clusterIP ? { clusterIP: service.spec.clusterIP } : {}),
    ...(port !== undefined ? { port } : {}),
  };
}

/** The merge patch's body: the precondition, the annotations, the selector (only the parts given). */
export function toK8sPatch(patch: ServicePatch): object {
  return {
    metadata: {
      resourceVersion: patch.resourceVersion,
      ...(patch.annotations ? { annotations: patch.annotations } : {}),
    },
    ...(patch.selector ? { spec: { selector: patch.selector } } : {}),
  };
}

export function fromK8sEndpointSlice(slice: V1EndpointSlice): EndpointInfo[] {
  return (slice.endpoints ?? []).map((e) => ({
    ...(e.targetRef?.kind === 'Pod' && e.targetRef.name ? { pod: e.targetRef.name } : {}),
    addresses: e.addresses,
    ready: e.conditions?.ready !== false,
  }));
}

/** A ServiceApi for one Service. The kubeconfig is read on first use (a bad one fails an activity, not the worker). */
export function newClientServiceApi(namespace: string, service: string, connection: KubeConnection): ServiceApi {
  let connected: Promise<KubeClientConnection> | undefined;
  let server: string | undefined;
  let apis: { core: CoreV1Api; discovery: DiscoveryV1Api; connected: KubeClientConnection } | undefined;
  const api = async () => {
    if (apis) return apis;
    const c = await (connected ??= connectKube(connection));
    server = c.server;
    return (apis ??= {
      core: new c.lib.CoreV1Api(c.configuration),
      discovery: new c.lib.DiscoveryV1Api(c.configuration),
      connected: c,
    });
  };
  const where = `in namespace ${namespace}`;

  async function call<T>(verb: string, resource: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      if (err instanceof CutoverError || err instanceof ConflictError) throw err;
      if (statusCode(err) === 404 && resource.startsWith('service ')) {
        throw new CutoverError(
          ErrorType.ResourceNotFound,
          `Kubernetes API server ${server ?? 'the API server'}: Service ${service} does not exist in namespace ` +
            `${namespace} (HTTP 404 to ${verb} it); router.service must name an existing Service in front of the application`,
        );
      }
      throw classifyK8sError(err, verb, `${resource} ${where}`, namespace, server, ROUTER_CALLER);
    }
  }

  return {
    namespace,
    service,

    readService: () =>
      call('get', `service ${service}`, async () =>
        fromK8sService(await (await api()).core.readNamespacedService({ name: service, namespace })),
      ),

    patchService: (patch) =>
      call('patch', `service ${service}`, async () => {
        const { core, connected: c } = await api();
        try {
          return fromK8sService(
            await core.patchNamespacedService(
              { name: service, namespace, body: toK8sPatch(patch) },
              c.lib.setHeaderOptions('Content-Type', c.lib.PatchStrategy.MergePatch),
            ),
          );
        } catch (err) {
          if (statusCode(err) === 409) throw new ConflictError(`Service ${service} ${where}`);
          throw err;
        }
      }),

    listEndpoints: () =>
      call('list', `endpointslices of service ${service}`, async () => {
        const list = await (
          await api()
        ).discovery.listNamespacedEndpointSlice({
          namespace,
          labelSelector: `kubernetes.io/service-name=${service}`,
        });
        return list.items.flatMap(fromK8sEndpointSlice);
      }),

    listPods: (labelSelector) =>
      call('list', `pods (${labelSelector})`, async () =>
        (await (await api()).core.listNamespacedPod({ namespace, labelSelector })).items.map(fromK8sPod),
      ),
  };
}
