/**
 * The Kubernetes platform's configuration and what it keeps in the API server: a replica set's record (a ConfigMap:
 * its spec and desired count) and the pod manifest of each of its replicas. Pure shapes and checks; the calls are in
 * platform.ts.
 */
import { CutoverError, ErrorType } from '../../errors';
import type { Slot } from '../../ports';
import { slotOf } from '../../ports';
import type { PodManifest, RecordInfo, Toleration } from './api';
import { ANNOTATION_VERSION, podLabels } from './naming';

export interface KubernetesPlatformConfig {
  namespace: string;
  /** Image of every replica; "{version}" is replaced by the version, e.g. "registry.example.com/shop:{version}". */
  image: string;
  /** The port the application listens on in its container. */
  port: number;
  /** kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else in-cluster) and optionally one of its contexts. */
  kubeconfig?: string;
  context?: string;
  /** How probe() decides: the pod's Ready condition from the API (default), or an HTTP GET to the pod IP. */
  probe?: 'readiness' | 'http';
  /** Path of the pods' readinessProbe; "{module}" is the first module (default "/{module}/_ping.html"). */
  readinessPath?: string;
  /** Grace period of a pod deletion, in ms (default 30 s): SIGTERM, then SIGKILL after this long. */
  gracePeriod?: number;
  /** Environment of every replica (non-secret configuration; the replica set's own env wins). */
  env?: Record<string, string>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  /** Names only: the ServiceAccount and image pull Secrets must exist in the namespace. */
  serviceAccountName?: string;
  imagePullSecrets?: string[];
  /** The readinessProbe's timing, in ms (whole seconds) and counts; unset: every 5 s, not Ready after 3 failures. */
  readiness?: {
    period?: number;
    timeout?: number;
    initialDelay?: number;
    failureThreshold?: number;
    successThreshold?: number;
  };
  /** Run before SIGTERM when a pod is deleted: GET this path on the container port, or sleep this long (ms). */
  preStop?: { httpGet: { path: string } } | { sleep: number };
  /** Node labels the pods must be scheduled on, and node taints they tolerate (as the pod spec has them). */
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
  /** Per-pod API calls in flight at once (creations, per-pod deletes), and the activities' lanes (default 32). */
  concurrency?: number;
}

export const DEFAULT_CONCURRENCY = 32;
export const MAX_CONCURRENCY = 256;
/** The record's data keys (ConfigMap data). */
export const DATA_SPEC = 'spec.json';
export const DATA_DESIRED = 'desired';

export interface StoredSpec {
  application: string;
  version: string;
  slot?: Slot;
  /** Records written before the field was named `slot`. */
  color?: Slot;
  modules: string[];
  env: Record<string, string>;
}

export interface SetRecord {
  record: RecordInfo;
  spec: StoredSpec;
  desired: number;
}

export type RecordChange = (s: { spec: StoredSpec; desired: number }) => { spec: StoredSpec; desired: number };

export function notFound(set: string, namespace: string): CutoverError {
  return new CutoverError(
    ErrorType.PlatformRequestRejected,
    `replica set "${set}" does not exist in namespace ${namespace} (no configmap ${set}; ensureReplicaSet creates it)`,
  );
}

export function checkCount(replicas: number): void {
  if (!Number.isInteger(replicas) || replicas < 0) {
    throw new CutoverError(
      ErrorType.PlatformRequestRejected,
      `replicas must be a non-negative integer, got ${replicas}`,
    );
  }
}

export function checkConcurrency(concurrency: number): number {
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
    throw new CutoverError(
      ErrorType.PlatformRequestRejected,
      `concurrency of the Kubernetes platform must be an integer from 1 to ${MAX_CONCURRENCY}, got ${concurrency}`,
    );
  }
  return concurrency;
}

/** A preStop sleep counts against the grace period: one as long would SIGKILL the app before its SIGTERM. */
export function checkPreStop(config: KubernetesPlatformConfig, graceMs: number): void {
  if (config.preStop && 'sleep' in config.preStop && config.preStop.sleep >= graceMs) {
    throw new CutoverError(
      ErrorType.PlatformRequestRejected,
      `preStop.sleep of the Kubernetes platform (${config.preStop.sleep} ms) must be shorter than its gracePeriod ` +
        `(${graceMs} ms)`,
    );
  }
}

/** A set's record read from its ConfigMap; refuses one without a valid spec. */
export function parseRecord(record: RecordInfo, namespace: string): SetRecord {
  let spec: StoredSpec;
  try {
    spec = JSON.parse(record.data[DATA_SPEC] ?? '') as StoredSpec;
  } catch {
    throw new CutoverError(
      ErrorType.PlatformRequestRejected,
      `configmap ${record.name} in namespace ${namespace} is labelled as a Cutover replica set but holds no valid ${DATA_SPEC}`,
    );
  }
  const desired = Number(record.data[DATA_DESIRED] ?? '0');
  return { record, spec, desired: Number.isInteger(desired) && desired >= 0 ? desired : 0 };
}

/** The pod of replica `id` of the set. */
export function podManifest(
  config: KubernetesPlatformConfig,
  graceSeconds: number,
  set: SetRecord,
  id: string,
  annotations: Record<string, string> = {},
): PodManifest {
  const { spec } = set;
  const env: Record<string, string> = {
    ...config.env,
    ...spec.env,
    CUTOVER_APP: spec.application,
    CUTOVER_VERSION: spec.version,
    CUTOVER_MODULES: spec.modules.join(','),
    CUTOVER_REPLICA_ID: id,
    PORT: String(config.port),
  };
  return {
    name: id,
    labels: podLabels(
      { name: set.record.name, application: spec.application, version: spec.version, slot: slotOf(spec) },
      id,
    ),
    annotations: { [ANNOTATION_VERSION]: spec.version, ...annotations },
    owner: { name: set.record.name, uid: set.record.uid },
    image: config.image.replaceAll('{version}', spec.version),
    port: config.port,
    env: Object.entries(env)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, value]) => ({ name, value })),
    readinessPath: (config.readinessPath ?? '/{module}/_ping.html').replaceAll('{module}', spec.modules[0] ?? ''),
    ...(config.resources ? { resources: config.resources } : {}),
    ...(config.serviceAccountName ? { serviceAccountName: config.serviceAccountName } : {}),
    imagePullSecrets: config.imagePullSecrets ?? [],
    terminationGracePeriodSeconds: graceSeconds,
    ...(config.readiness ? { readiness: readinessOf(config.readiness) } : {}),
    ...(config.preStop ? { preStop: preStopOf(config.preStop) } : {}),
    ...(config.nodeSelector ? { nodeSelector: config.nodeSelector } : {}),
    ...(config.tolerations ? { tolerations: config.tolerations } : {}),
  };
}

const seconds = (ms: number) => Math.ceil(ms / 1000);

function readinessOf(r: NonNullable<KubernetesPlatformConfig['readiness']>): NonNullable<PodManifest['readiness']> {
  return {
    ...(r.initialDelay !== undefined ? { initialDelaySeconds: seconds(r.initialDelay) } : {}),
    ...(r.period !== undefined ? { periodSeconds: seconds(r.period) } : {}),
    ...(r.timeout !== undefined ? { timeoutSeconds: seconds(r.timeout) } : {}),
    ...(r.failureThreshold !== undefined ? { failureThreshold: r.failureThreshold } : {}),
    ...(r.successThreshold !== undefined ? { successThreshold: r.successThreshold } : {}),
  };
}

function preStopOf(p: NonNullable<KubernetesPlatformConfig['preStop']>): NonNullable<PodManifest['preStop']> {
  return 'httpGet' in p ? { httpGet: { path: p.httpGet.path } } : { sleepSeconds: seconds(p.sleep) };
}
