/**
 * The narrow Kubernetes interface the driver needs, in the driver's own terms: pods (one per replica) and ConfigMaps
 * (one per replica set: its record). `client.ts` implements it over `@kubernetes/client-node` (the only file that
 * sees its types); tests may implement it with stubs. Every method works in the one namespace it was made for.
 *
 * Errors: a CutoverError for permanent problems (missing RBAC permission, missing namespace, an object the API
 * server refuses as invalid), a ConflictError when a replace lost a race, a plain Error for everything else
 * (429, 5xx, connection errors: retried).
 */

/** What the driver asks for when it creates a replica's pod. */
export interface PodManifest {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The replica set's ConfigMap: the pod's owner, so deleting the record garbage-collects the pod. */
  owner: { name: string; uid: string };
  image: string;
  port: number;
  env: { name: string; value: string }[];
  readinessPath: string;
  resources?: {
    requests?: Record<string, string>;
    limits?: Record<string, string>;
  };
  serviceAccountName?: string;
  imagePullSecrets: string[];
  terminationGracePeriodSeconds: number;
  /** The readinessProbe's timing; a field left out is as before (periodSeconds 5, failureThreshold 3) or the kubelet's. */
  readiness?: {
    initialDelaySeconds?: number;
    periodSeconds?: number;
    timeoutSeconds?: number;
    failureThreshold?: number;
    successThreshold?: number;
  };
  /** The container's preStop hook: a GET on the container port, or the lifecycle sleep action. */
  preStop?: { httpGet: { path: string } } | { sleepSeconds: number };
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
}

/** A pod's toleration of node taints (the pod spec's shape). */
export interface Toleration {
  key?: string;
  operator?: 'Equal' | 'Exists';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  tolerationSeconds?: number;
}

/** A pod as the driver sees it. */
export interface PodInfo {
  name: string;
  uid: string;
  annotations: Record<string, string>;
  labels: Record<string, string>;
  /** Pending | Running | Succeeded | Failed | Unknown. */
  phase: string;
  /** The pod's Ready condition is True. */
  ready: boolean;
  /**
   * Why it is not Ready, when the API says: why it cannot be scheduled (PodScheduled False), why it ended (a Failed
   * or Succeeded pod's reason and message, or its container's), else the Ready condition's reason and message.
   */
  notReadyReason?: string;
  podIP?: string;
  /** Has a deletionTimestamp: being deleted (graceful stop in progress). */
  terminating: boolean;
  /** The container port the driver gave it (the first port of the first container). */
  port?: number;
}

/** A replica set's record (a ConfigMap). */
export interface RecordInfo {
  name: string;
  uid: string;
  resourceVersion: string;
  labels: Record<string, string>;
  data: Record<string, string>;
}

export interface NewRecord {
  name: string;
  labels: Record<string, string>;
  data: Record<string, string>;
}

export interface KubeApi {
  readonly namespace: string;
  /** Creates the pod; when one of that name exists already (a retried launch), reads it back instead. */
  createPod(manifest: PodManifest): Promise<{ pod: PodInfo; created: boolean }>;
  readPod(name: string): Promise<PodInfo | undefined>;
  listPods(labelSelector: string): Promise<PodInfo[]>;
  /**
   * Deletes with this grace period; false when it was already gone, or (with `uid`) when the pod of that name is
   * another one than that uid (a precondition: never a pod someone else created meanwhile).
   */
  deletePod(name: string, gracePeriodSeconds: number, uid?: string): Promise<boolean>;
  /**
   * Deletes every pod the selector matches, in one request (deletecollection), with this grace period. false when
   * the API server forbids it (HTTP 403: a Role without deletecollection): the caller deletes them one by one.
   */
  deletePods(labelSelector: string, gracePeriodSeconds: number): Promise<boolean>;
  /** Creates the ConfigMap; when it exists already, reads it back instead. */
  createRecord(record: NewRecord): Promise<{ record: RecordInfo; created: boolean }>;
  readRecord(name: string): Promise<RecordInfo | undefined>;
  /** Replaces the ConfigMap's data if its resourceVersion is unchanged; ConflictError when it changed. */
  replaceRecord(record: RecordInfo): Promise<RecordInfo>;
  listRecords(labelSelector: string): Promise<RecordInfo[]>;
  /** Deletes it (its pods are garbage-collected); false when it was already gone. */
  deleteRecord(name: string): Promise<boolean>;
}

/** A replace lost a race with another writer (HTTP 409 on an update): read again and retry. */
export class ConflictError extends Error {
  constructor(what: string) {
    super(`${what} was changed by someone else meanwhile`);
    this.name = 'ConflictError';
  }
}
