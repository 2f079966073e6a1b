/**
 * The kubernetes-service router: `newKubernetesServiceDriver(config)` gives the Router port over one Kubernetes
 * Service, switched by its selector. `@kubernetes/client-node` types stay in client.ts; the connection is the
 * Kubernetes platform's (kubernetes/client.ts).
 */
import type { Router } from '../../ports';
import type { ServiceApi } from './api';
import { newClientServiceApi } from './client';
import { KubernetesServiceRouter } from './router';
import type { KubernetesServiceRouterConfig, KubernetesServiceRouterOptions } from './router';

export type { KubernetesServiceRouterConfig } from './router';
export type { ServiceApi } from './api';
export { newClientServiceApi, SERVICE_ROUTER_ROLE } from './client';
export { ANNOTATION_BACKENDS, ANNOTATION_ORIGINAL } from './selectors';

export interface KubernetesServiceDriverOptions extends KubernetesServiceRouterOptions {
  /** The API to use (tests: the client wrapped); default: @kubernetes/client-node with the config's kubeconfig/context. */
  api?: ServiceApi;
}

export function newKubernetesServiceDriver(
  config: KubernetesServiceRouterConfig,
  options: KubernetesServiceDriverOptions = {},
): Router {
  const { api, ...rest } = options;
  const serviceApi =
    api ??
    newClientServiceApi(config.namespace, config.service, {
      ...(config.kubeconfig ? { kubeconfig: config.kubeconfig } : {}),
      ...(config.context ? { context: config.context } : {}),
    });
  return new KubernetesServiceRouter(config, serviceApi, rest);
}
