/**
 * Translation between the driver's shapes (./api) and Kubernetes objects of `@kubernetes/client-node`, in both
 * directions: `toK8sPod()`, `fromK8sPod()`, `toK8sConfigMap()`, `fromK8sConfigMap()`. With client.ts, the only files
 * of the driver that see the library's types.
 */
import type { V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import type { NewRecord, PodInfo, PodManifest, RecordInfo } from './api';

export function toK8sPod(m: PodManifest): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: m.name,
      labels: m.labels,
      annotations: m.annotations,
      ownerReferences: [
        { apiVersion: 'v1', kind: 'ConfigMap', name: m.owner.name, uid: m.owner.uid, blockOwnerDeletion: false },
      ],
    },
    spec: {
      containers: [
        {
          name: 'app',
          image: m.image,
          ports: [{ name: 'http', containerPort: m.port, protocol: 'TCP' }],
          env: m.env,
          readinessProbe: {
            httpGet: { path: m.readinessPath, port: m.port },
            periodSeconds: 5,
            failureThreshold: 3,
          },
          ...(m.resources ? { resources: m.resources } : {}),
        },
      ],
      ...(m.serviceAccountName ? { serviceAccountName: m.serviceAccountName } : {}),
      ...(m.imagePullSecrets.length ? { imagePullSecrets: m.imagePullSecrets.map((name) => ({ name })) } : {}),
      terminationGracePeriodSeconds: m.terminationGracePeriodSeconds,
      restartPolicy: 'Always',
    },
  };
}

export function fromK8sPod(pod: V1Pod): PodInfo {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  const notReadyReason = ready
    ? [ready.reason, ready.message].filter(Boolean).join(': ') || `Ready=${ready.status}`
    : 'no Ready condition yet';
  return {
    name: pod.metadata?.name ?? '',
    labels: pod.metadata?.labels ?? {},
    phase: pod.status?.phase ?? 'Pending',
    ready: ready?.status === 'True',
    ...(ready?.status === 'True' ? {} : { notReadyReason }),
    ...(pod.status?.podIP ? { podIP: pod.status.podIP } : {}),
    terminating: Boolean(pod.metadata?.deletionTimestamp),
    ...(pod.spec?.containers[0]?.ports?.[0]?.containerPort !== undefined
      ? { port: pod.spec.containers[0].ports[0].containerPort }
      : {}),
  };
}

export function toK8sConfigMap(record: NewRecord | RecordInfo): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: record.name,
      labels: record.labels,
      ...('resourceVersion' in record ? { resourceVersion: record.resourceVersion } : {}),
    },
    data: record.data,
  };
}

export function fromK8sConfigMap(cm: V1ConfigMap): RecordInfo {
  return {
    name: cm.metadata?.name ?? '',
    uid: cm.metadata?.uid ?? '',
    resourceVersion: cm.metadata?.resourceVersion ?? '',
    labels: cm.metadata?.labels ?? {},
    data: cm.data ?? {},
  };
}
