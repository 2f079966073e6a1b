/**
 * Where replicas run (`platform`): local processes or Kubernetes pods.
 *
 * Part of the deployment spec (workflows/spec/index.ts): pure, zod at most and no Node built-ins, so workflows import it.
 */
import { z } from 'zod';
import { duration, durationUpTo } from './duration';
import { command, envSchema, text } from './fields';
import { DEFAULT_START_TIMEOUT_MS } from './limits';

export const localPlatformSchema = z
  .object({
    kind: z.literal('local'),
    /** Where the local platform keeps its state (replica records, logs). */
    stateDir: text().min(1, 'may not be empty').optional(),
    /**
     * Command that starts one replica; defaults to the bundled sample application. It must listen on the PORT it
     * is given (the platform picks a free one); it has started once that port accepts connections.
     */
    command: command.optional(),
    /** Environment given to every replica (non-secret configuration only). */
    env: envSchema.default({}),
    /**
     * How long a replica may take to start listening on its PORT before it is killed and the launch fails (and is
     * retried). Warm-up after that (a health page failing until the application is ready) is `health.deadline`'s.
     */
    startTimeout: durationUpTo(3_600_000, '1h').default(DEFAULT_START_TIMEOUT_MS),
  })
  .strict();

/** A DNS label (RFC 1123): a namespace's, a ServiceAccount's name. */
export const k8sName = (what: string) =>
  z
    .string()
    .min(1, `${what} is required`)
    .max(63)
    .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, `${what} must be a DNS label (lower-case letters, digits and dashes)`);

/** A Kubernetes resource quantity such as "250m", "1", "512Mi", "1Gi". */
const quantity = z
  .string()
  .regex(/^\d+(\.\d+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/, 'expected a Kubernetes quantity such as "250m", "1", "512Mi"');
const resourceList = z.object({ cpu: quantity.optional(), memory: quantity.optional() }).strict();

/** A duration the kubelet takes in whole seconds (probe periods, a preStop sleep), from `minS` to 1h. */
const wholeSeconds = (what: string, minS: number) =>
  durationUpTo(3_600_000, '1h')
    .refine((ms) => ms % 1000 === 0, `${what} must be a whole number of seconds (the kubelet counts seconds)`)
    .refine((ms) => ms >= minS * 1000, `${what} must be at least ${minS}s`);

const count = (what: string, max: number) =>
  z
    .number({ error: `${what} must be a number` })
    .int(`${what} must be a whole number`)
    .min(1, `${what} must be from 1 to ${max}`)
    .max(max, `${what} must be from 1 to ${max}`);

/**
 * The pods' readinessProbe timing (its path is `readinessPath`). Each field is optional; unset, the kubelet's probe is
 * as before: every 5 s, Ready after 1 success, not Ready after 3 failures (timeout 1 s, no initial delay: the
 * kubelet's defaults, not written into the pod).
 */
const readinessSchema = z
  .object({
    period: wholeSeconds('readiness.period', 1).optional(),
    timeout: wholeSeconds('readiness.timeout', 1).optional(),
    initialDelay: wholeSeconds('readiness.initialDelay', 0).optional(),
    failureThreshold: count('readiness.failureThreshold', 100).optional(),
    successThreshold: count('readiness.successThreshold', 100).optional(),
  })
  .strict();

/**
 * What the kubelet runs before SIGTERM when a pod is deleted: an HTTP GET on the container port (e.g. the sample
 * app's /_drain), or a sleep (the lifecycle sleep action, Kubernetes 1.30+). Both count against `gracePeriod`.
 */
const preStopSchema = z.union(
  [
    z
      .object({
        httpGet: z.object({ path: text(1024).startsWith('/', 'preStop.httpGet.path must start with "/"') }).strict(),
      })
      .strict(),
    z.object({ sleep: wholeSeconds('preStop.sleep', 1) }).strict(),
  ],
  { error: 'preStop must be {httpGet: {path: "/..."}} or {sleep: "5s"}' },
);

/** A label key: an optional DNS-subdomain prefix and "/", then a name of at most 63 characters. */
const LABEL_NAME_RE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN_RE.test(prefix))) return false;
  return name.length <= 63 && LABEL_NAME_RE.test(name);
}
const LABEL_KEY_ERROR =
  'must be a label key: a name of at most 63 letters, digits, "-", "_" or "." (beginning and ending with a letter ' +
  'or digit), optionally after a DNS prefix and "/" (e.g. "cutover.io/pool")';
const labelKey = z.string().refine(isLabelKey, LABEL_KEY_ERROR);
const labelValue = z
  .string({ error: 'label values are strings' })
  .max(63, 'a label value must be at most 63 characters')
  .regex(
    /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/,
    'a label value may hold letters, digits, "-", "_" and "." and must begin and end with a letter or digit',
  );

/** Schedule the pods only on nodes with these labels. */
const nodeSelectorSchema = z.record(z.string(), labelValue).superRefine((selector, ctx) => {
  const keys = Object.keys(selector);
  if (keys.length > 32) ctx.addIssue({ code: 'custom', message: `must have at most 32 entries (has ${keys.length})` });
  for (const key of keys) {
    if (!isLabelKey(key)) ctx.addIssue({ code: 'custom', path: [key], message: `"${key}" ${LABEL_KEY_ERROR}` });
  }
});

/** Taints of nodes the pods may be scheduled on (as Kubernetes' pod spec tolerations). */
const tolerationSchema = z
  .object({
    key: labelKey.optional(),
    operator: z.enum(['Equal', 'Exists'], { error: 'operator must be "Equal" or "Exists"' }).optional(),
    value: labelValue.optional(),
    effect: z
      .enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'], {
        error: 'effect must be "NoSchedule", "PreferNoSchedule" or "NoExecute"',
      })
      .optional(),
    /** NoExecute only: how long the pod stays on a node after such a taint appears. */
    tolerationSeconds: z
      .number({ error: 'tolerationSeconds must be a number' })
      .int('tolerationSeconds must be a whole number')
      .min(0, 'tolerationSeconds must be from 0 to 31536000')
      .max(31_536_000, 'tolerationSeconds must be from 0 to 31536000')
      .optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.operator === 'Exists' && t.value !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: 'operator Exists matches any value: give no value' });
    }
    if (t.key === undefined && t.operator !== 'Exists') {
      ctx.addIssue({
        code: 'custom',
        path: ['operator'],
        message: 'a toleration without a key must have operator Exists',
      });
    }
    if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') {
      ctx.addIssue({
        code: 'custom',
        path: ['tolerationSeconds'],
        message: 'tolerationSeconds needs effect NoExecute',
      });
    }
  });

/**
 * Kubernetes: each replica is one pod `<replicaSet>-<index>` in `namespace`, each replica set one ConfigMap owning
 * its pods. Connection is configuration: a kubeconfig file and context (default $KUBECONFIG / in-cluster); no
 * credential, token or secret ever appears here (specs land in workflow history).
 */
export const kubernetesPlatformSchema = z
  .object({
    kind: z.literal('kubernetes'),
    namespace: k8sName('namespace'),
    /** Image of each replica; "{version}" is replaced by the version, e.g. "registry.example.com/shop:{version}". */
    image: text()
      .min(1, 'image is required')
      .regex(/^[^\s]+$/, 'image must not contain spaces'),
    /** The port the application listens on in its container (PORT is set to it). */
    port: z
      .number({ error: 'port must be a number (the container port)' })
      .int('port must be a whole number')
      .min(1, 'port must be between 1 and 65535')
      .max(65535, 'port must be between 1 and 65535'),
    /** Path of a kubeconfig file on the worker; default: $KUBECONFIG, ~/.kube/config, else in-cluster. */
    kubeconfig: text().min(1, 'may not be empty').optional(),
    /** A context of that kubeconfig; default: its current context. */
    context: text(253).min(1, 'may not be empty').optional(),
    /**
     * How health is decided: "readiness" reads each pod's Ready condition from the API (the kubelet runs the
     * readinessProbe); "http" GETs the health path at the pod IP (only when the worker can reach pod IPs).
     */
    probe: z
      .enum(['readiness', 'http'], { error: 'probe must be "readiness" (pod Ready condition) or "http"' })
      .default('readiness'),
    /** Path of the pods' readinessProbe; "{module}" is replaced by the first module. */
    readinessPath: text(1024).startsWith('/', 'readinessPath must start with "/"').default('/{module}/_ping.html'),
    /** Grace period of a pod deletion (SIGTERM, then SIGKILL). */
    gracePeriod: duration.refine((ms) => ms <= 3_600_000, 'gracePeriod must be at most 1h').default(30_000),
    resources: z.object({ requests: resourceList.optional(), limits: resourceList.optional() }).strict().optional(),
    /** Names only: a ServiceAccount and image pull Secrets that already exist in the namespace. */
    serviceAccountName: k8sName('serviceAccountName').optional(),
    imagePullSecrets: z.array(k8sName('imagePullSecrets entry')).max(10).optional(),
    /** Environment of every pod (non-secret configuration only). */
    env: envSchema.default({}),
    /** The readinessProbe's timing; unset: as before (every 5 s, 3 failures). */
    readiness: readinessSchema.optional(),
    /** Run before SIGTERM when a pod is deleted; shorter than gracePeriod. */
    preStop: preStopSchema.optional(),
    /** Node labels the pods must be scheduled on. */
    nodeSelector: nodeSelectorSchema.optional(),
    /** Node taints the pods tolerate. */
    tolerations: z.array(tolerationSchema).max(32, 'must have at most 32 tolerations').optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.preStop && 'sleep' in p.preStop && p.preStop.sleep >= p.gracePeriod) {
      ctx.addIssue({
        code: 'custom',
        path: ['preStop', 'sleep'],
        message:
          `preStop.sleep (${p.preStop.sleep / 1000}s) must be shorter than gracePeriod (${p.gracePeriod / 1000}s): ` +
          'the sleep counts against the grace period, and the app would be SIGKILLed before it saw SIGTERM',
      });
    }
  });

export const platformSchema = z.discriminatedUnion('kind', [localPlatformSchema, kubernetesPlatformSchema]);
