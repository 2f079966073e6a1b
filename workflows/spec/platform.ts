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
  })
  .strict();

export const platformSchema = z.discriminatedUnion('kind', [localPlatformSchema, kubernetesPlatformSchema]);
