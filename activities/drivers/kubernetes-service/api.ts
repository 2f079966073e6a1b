/**
 * The narrow Kubernetes interface the kubernetes-service router needs, in its own terms: the one Service it switches
 * (read, merge-patch), that Service's endpoints (from its EndpointSlices) and the pods a selector matches. `client.ts`
 * implements it over `@kubernetes/client-node` (the only file of the driver that sees its types); tests may wrap it.
 *
 * Errors: a CutoverError for permanent problems (the Service does not exist, a missing RBAC permission, a patch the
 * API server refuses as invalid), a ConflictError (kubernetes/api.ts) when a patch's resourceVersion is stale, a plain
 * Error for everything else (429, 5xx, connection errors: retried).
 */
import type { PodInfo } from '../kubernetes/api';

export type { PodInfo };

/** A label selector as a Service holds it (`spec.selector`: equality on every key). */
export type Selector = Record<string, string>;

/** The Service as the router sees it. */
export interface ServiceInfo {
  name: string;
  resourceVersion: string;
  /** `spec.selector`; empty for a Service without one (its endpoints are written by hand). */
  selector: Selector;
  annotations: Record<string, string>;
  /** `spec.clusterIP` ("None" for a headless Service). */
  clusterIP?: string;
  /** The first port of `spec.ports`. */
  port?: number;
}

/** A JSON merge patch (RFC 7386) of the Service: null removes a key. Applied only at this resourceVersion. */
export interface ServicePatch {
  resourceVersion: string;
  annotations?: Record<string, string | null>;
  selector?: Record<string, string | null>;
}

/** One endpoint of the Service's EndpointSlices. */
export interface EndpointInfo {
  /** The pod it is (`targetRef` of kind Pod), if any. */
  pod?: string;
  addresses: string[];
  /** `conditions.ready` (unset counts as ready, as the API documents). */
  ready: boolean;
}

export interface ServiceApi {
  readonly namespace: string;
  readonly service: string;
  /** The Service; a non-retryable ResourceNotFound error naming namespace and name when it does not exist. */
  readService(): Promise<ServiceInfo>;
  /** Applies the patch if the Service is still at `patch.resourceVersion`; ConflictError when it changed. */
  patchService(patch: ServicePatch): Promise<ServiceInfo>;
  /** Every endpoint of every EndpointSlice labelled `kubernetes.io/service-name=<service>`. */
  listEndpoints(): Promise<EndpointInfo[]>;
  /** The pods of the namespace this label selector (`k=v,...`) matches. */
  listPods(labelSelector: string): Promise<PodInfo[]>;
}
