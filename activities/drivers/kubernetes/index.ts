/**
 * The Kubernetes Platform driver: `newKubernetesDriver(config)` gives the Platform port over the Kubernetes API
 * (pods and ConfigMaps in one namespace). `@kubernetes/client-node` types stay in client.ts; the rest of the driver
 * speaks the narrow KubeApi interface (api.ts).
 */
import type { Platform } from '../../ports';
import type { KubeApi } from './api';
import { newClientKubeApi } from './client';
import { KubernetesPlatform } from './platform';
import type { KubernetesPlatformConfig } from './platform';

export type { KubernetesPlatformConfig } from './platform';
export type { KubeApi } from './api';
export { newClientKubeApi } from './client';
export * as k8sNaming from './naming';

export interface KubernetesDriverOptions {
  /** The API to use (tests: a stub); default: @kubernetes/client-node with the config's kubeconfig/context. */
  api?: KubeApi;
}

export function newKubernetesDriver(config: KubernetesPlatformConfig, options: KubernetesDriverOptions = {}): Platform {
  const api =
    options.api ??
    newClientKubeApi(config.namespace, {
      ...(config.kubeconfig ? { kubeconfig: config.kubeconfig } : {}),
      ...(config.context ? { context: config.context } : {}),
    });
  return new KubernetesPlatform(config, api);
}
