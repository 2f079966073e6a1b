/**
 * Translation between the driver's shapes (./api) and Kubernetes objects of `@kubernetes/client-node`, in both
 * directions: `toK8sPod()`, `fromK8sPod()`, `toK8sConfigMap()`, `fromK8sConfigMap()`. With client.ts, the only files
 * of the driver that see the library's types.
 */
import type { V1ConfigMap, V1LifecycleHandler, V1Pod, V1PodCondition } from '@kubernetes/client-node';
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
            ...(m.readiness?.initialDelaySeconds !== undefined
              ? { initialDelaySeconds: m.readiness.initialDelaySeconds }
              : {}),
            periodSeconds: m.readiness?.periodSeconds ?? 5,
            ...(m.readiness?.timeoutSeconds !== undefined ? { timeoutSeconds: m.readiness.timeoutSeconds } : {}),
            failureThreshold: m.readiness?.failureThreshold ?? 3,
            ...(m.readiness?.successThreshold !== undefined ? { successThreshold: m.readiness.successThreshold } : {}),
          },
          ...(m.resources ? { resources: m.resources } : {}),
          ...(m.preStop ? { lifecycle: { preStop: toPreStop(m.preStop, m.port) } } : {}),
        },
      ],
      ...(m.serviceAccountName ? { serviceAccountName: m.serviceAccountName } : {}),
      ...(m.imagePullSecrets.length ? { imagePullSecrets: m.imagePullSecrets.map((name) => ({ name })) } : {}),
      ...(m.nodeSelector ? { nodeSelector: m.nodeSelector } : {}),
      ...(m.tolerations ? { tolerations: m.tolerations } : {}),
      terminationGracePeriodSeconds: m.terminationGracePeriodSeconds,
      restartPolicy: 'Always',
    },
  };
}

function toPreStop(preStop: NonNullable<PodManifest['preStop']>, port: number): V1LifecycleHandler {
  return 'httpGet' in preStop
    ? { httpGet: { path: preStop.httpGet.path, port } }
    : { sleep: { seconds: preStop.sleepSeconds } };
}

const said = (c: { reason?: string; message?: string }) => [c.reason, c.message].filter(Boolean).join(': ');

/** Why a pod is not Ready, as precisely as its status says (see PodInfo.notReadyReason). */
function notReadyReasonOf(pod: V1Pod, ready: V1PodCondition | undefined): string {
  const phase = pod.status?.phase;
  if (phase === 'Failed' || phase === 'Succeeded') {
    const terminated = pod.status?.containerStatuses?.find((c) => c.state?.terminated)?.state?.terminated;
    const why = said(pod.status ?? {}) || (terminated ? `${said(terminated)} (exit code ${terminated.exitCode})` : '');
    return `ended ${phase}${why ? `: ${why}` : ''}`;
  }
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False') return `not scheduled: ${said(scheduled) || 'PodScheduled=False'}`;
  return ready ? said(ready) || `Ready=${ready.status}` : 'no Ready condition yet';
}

export function fromK8sPod(pod: V1Pod): PodInfo {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  const notReadyReason = notReadyReasonOf(pod, ready);
  // A pod that ended is not Ready, whatever its last Ready condition still says.
  const isReady = ready?.status === 'True' && pod.status?.phase !== 'Failed' && pod.status?.phase !== 'Succeeded';
  return {
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid ?? '',
    labels: pod.metadata?.labels ?? {},
    annotations: pod.metadata?.annotations ?? {},
    phase: pod.status?.phase ?? 'Pending',
    ready: isReady,
    ...(isReady ? {} : { notReadyReason }),
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
