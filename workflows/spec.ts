/**
 * The deployment spec: the one schema every edge (CLI, HTTP hooks, client API,
 * the Temporal UI's start form via the workflow itself) validates against.
 *
 * Pure module: zod only, no Node built-ins, so workflows may import it.
 */
import { z } from 'zod';
import { isExplicitZero } from './rolling-math';

/**
 * What a spec may hold at most. A spec is the input of its deployment's workflow and reaches its activities, its
 * status and (rolling) its continue-as-new state, all of which Temporal stores as payloads (it warns above 512 KB
 * and refuses above 2 MB): every list and text of a spec is bounded so the largest accepted spec stays well under
 * that (docs/reliability.md measures it), and whatever is larger is refused here, naming the field.
 */
export const SPEC_LIMITS = {
  /** Modules of one application (each served at /<Module>/; a name is at most 100 characters). */
  modules: 250,
  /** Replicas of one replica set. */
  replicas: 10_000,
  /** Entries of platform.env, and their total size (names and values, UTF-8). */
  envEntries: 200,
  envBytes: 32 * 1024,
  /** A path, a command argument, an image, a kubeconfig context. */
  textChars: 4096,
  /** Arguments of a command (platform.command, router.reloadCommand). */
  commandArgs: 64,
  /** An http(s) URL. */
  urlChars: 2048,
  /** Pauses of a rolling update (strategy.steps). */
  steps: 100,
  /** Pre-created ALB target groups (router.targetGroupArns). */
  targetGroupArns: 20,
  /** Any duration. */
  durationMs: 365 * 86_400_000,
  /** One probe's interval and timeout (waited for with Node timers in the activities). */
  probeMs: 3_600_000,
  /** The whole normalised spec as JSON (UTF-8 bytes): the workflow input. */
  specBytes: 64 * 1024,
  /** A spec file (CLI) or hook configuration file, checked before it is parsed. */
  fileBytes: 1024 * 1024,
  /** Problems reported for one spec (the rest are counted). */
  issues: 20,
} as const;

/** How long a local replica may take to listen on its PORT when the spec does not say (platform.startTimeout). */
export const DEFAULT_START_TIMEOUT_MS = 300_000;

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "30s", "5m", "2h", "3d", "250ms" (or a number of milliseconds) into milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return value;
  const match = DURATION_RE.exec(value.trim());
  if (!match) throw new Error(`invalid duration "${value}"`);
  return Math.round(Number(match[1]) * (UNIT_MS[match[2] as string] as number));
}

const DURATION_EXPECTED = 'expected a duration such as "250ms", "30s", "5m", "2h" or "3d", or a number of milliseconds';

/** A duration of at most `maxMs` given as "30s" / "5m" / "2h" / "3d" / "250ms" or milliseconds; yields milliseconds. */
function durationUpTo(maxMs: number, shown: string) {
  return z
    .union([z.number().int().nonnegative(), z.string().regex(DURATION_RE, DURATION_EXPECTED)], {
      error: DURATION_EXPECTED,
    })
    .transform((v) => parseDuration(v))
    .refine((ms) => Number.isSafeInteger(ms) && ms <= maxMs, `must be at most ${shown}`);
}

/** A duration given as "30s" / "5m" / "2h" / "3d" / "250ms" or a number of milliseconds (at most 365d). */
export const duration = durationUpTo(SPEC_LIMITS.durationMs, '365d');
/** A probe's interval or timeout: at most 1h (Node timers above ~24 days fire at once). */
const probeDuration = durationUpTo(SPEC_LIMITS.probeMs, '1h');

const NO_NUL = (s: string) => !s.includes('\0');

/** A path, an argument, an image: bounded, without NUL (which no file system or exec call accepts). */
const text = (max: number = SPEC_LIMITS.textChars) =>
  z.string().max(max, `must be at most ${max} characters`).refine(NO_NUL, 'must not contain a NUL character');

/** An http(s) URL (no other scheme reaches a router or a load balancer). */
const httpUrl = z
  .string({ error: 'expected an http(s) URL such as http://127.0.0.1:9901' })
  .max(SPEC_LIMITS.urlChars, `must be at most ${SPEC_LIMITS.urlChars} characters`)
  .pipe(z.url({ protocol: /^https?$/, error: 'expected an http(s) URL such as http://127.0.0.1:9901' }));

/** A command line: 1 to 64 arguments. */
const command = z
  .array(text().min(1, 'an argument may not be empty'))
  .min(1, 'must name the program to run')
  .max(SPEC_LIMITS.commandArgs, `must be at most ${SPEC_LIMITS.commandArgs} arguments`);

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** UTF-8 length of a string (pure: workflow code has no Buffer). */
export function utf8Bytes(value: string): number {
  let bytes = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < value.length) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Non-secret environment of every replica: bounded in entries and in total size; each name is checked by name. */
const envSchema = z
  .record(
    z.string(),
    z
      .string({ error: 'env values are strings (quote numbers and booleans)' })
      .refine(NO_NUL, 'must not contain a NUL character'),
  )
  .superRefine((env, ctx) => {
    const entries = Object.entries(env);
    if (entries.length > SPEC_LIMITS.envEntries) {
      ctx.addIssue({
        code: 'custom',
        message: `must have at most ${SPEC_LIMITS.envEntries} entries (has ${entries.length})`,
      });
      return;
    }
    for (const [key] of entries) {
      if (key.length > 256 || !ENV_NAME.test(key)) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'env names are 1-256 letters, digits, "_", "-", "." (not starting with a digit)',
        });
      }
    }
    const bytes = entries.reduce((sum, [k, v]) => sum + utf8Bytes(k) + utf8Bytes(v), 0);
    if (bytes > SPEC_LIMITS.envBytes) {
      ctx.addIssue({
        code: 'custom',
        message: `must be at most ${SPEC_LIMITS.envBytes / 1024} KiB in total (names and values: ${Math.ceil(bytes / 1024)} KiB); pass large configuration as a file`,
      });
    }
  });

const name = (what: string) =>
  z
    .string()
    .min(1)
    .max(40)
    .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, `${what} must be lower-case letters, digits and dashes (DNS label)`);

const moduleName = z
  .string({ error: 'module names are text' })
  .min(1, 'module names may not be empty')
  .max(100, 'module names are at most 100 characters')
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'module names are letters, digits, "_", "-" and "." (served at /<Module>/)');

export const healthSchema = z
  .object({
    /** Path probed on each replica; "{module}" is replaced by every module name. */
    path: text(1024).startsWith('/', 'must start with "/"').default('/{module}/_ping.html'),
    interval: probeDuration.default(1000),
    timeout: probeDuration.default(2000),
    /** Consecutive successes a replica needs to count as healthy. */
    successThreshold: z.number().int().min(1).max(100).default(2),
    /** Overall deadline for all replicas to become healthy. */
    deadline: duration.default(300_000),
  })
  .strict();

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

const k8sName = (what: string) =>
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

export const localRouterSchema = z
  .object({
    kind: z.literal('local'),
    /** Admin API of the local router (the embedded Main Load Balancer and Reverse Proxy). */
    adminUrl: httpUrl,
    /** Public (traffic) URL of the router, used to verify that modules answer from the new version. */
    publicUrl: httpUrl,
  })
  .strict();

/** At most `maxMs` (the router activities run with a 1-minute start-to-close timeout). */
const durationAtMost = (maxMs: number) =>
  duration.refine(
    (ms) => ms <= maxMs,
    `must be at most ${maxMs / 1000}s (router calls run inside 1-minute activities)`,
  );

const targetGroupArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/[A-Za-z0-9-]{1,32}\/[0-9a-f]+$/,
    'expected a target group ARN (arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>)',
  );

const backendKey = z
  .string()
  .max(100)
  .regex(
    /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/,
    'backend names are lower-case letters, digits and dashes (<application>-<color>)',
  );

/** Where the ALB driver creates the target groups it needs (one per backend, named after it). */
export const albTargetGroupPolicySchema = z
  .object({
    vpcId: z.string().regex(/^vpc-[0-9a-f]+$/, 'expected a VPC id (vpc-...)'),
    port: z.number().int().min(1).max(65535).default(80),
    protocol: z.enum(['HTTP', 'HTTPS']).default('HTTP'),
    /** Prepended to each target group's name (names are at most 32 characters; longer ones are shortened with a hash). */
    namePrefix: z
      .string()
      .regex(/^([A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?-)?$/, 'up to 12 letters, digits and dashes, ending in "-"')
      .default(''),
    healthCheck: z
      .object({
        path: text(1024).startsWith('/', 'must start with "/"').default('/'),
        interval: duration.default(10_000),
        timeout: duration.default(5_000),
        healthyThreshold: z.number().int().min(2).max(10).default(2),
        unhealthyThreshold: z.number().int().min(2).max(10).default(2),
        /** HTTP codes that count as healthy, e.g. "200" or "200-399". */
        matcher: z
          .string()
          .max(200)
          .regex(/^\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*$/, 'HTTP codes such as "200" or "200-399" (comma-separated)')
          .default('200-399'),
      })
      .strict()
      .default({
        path: '/',
        interval: 10_000,
        timeout: 5_000,
        healthyThreshold: 2,
        unhealthyThreshold: 2,
        matcher: '200-399',
      }),
    /** The target group's deregistration delay: how long the ALB lets a deregistered target finish its requests. */
    deregistrationDelay: duration.refine((ms) => ms <= 3_600_000, 'must be at most 1h (the ALB limit)').default(30_000),
  })
  .strict();

/**
 * AWS Application Load Balancer (the OutSystems layout): the listener's default action forwards to the platform
 * server; each module gets a rule `path-pattern /<Module>*` forwarding to a target group per color. Credentials
 * never appear here (specs land in workflow history): the worker uses the standard AWS credential chain.
 */
export const awsAlbRouterSchema = z
  .object({
    kind: z.literal('aws-alb'),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'expected an AWS region such as eu-west-1'),
    /** Another ELBv2 endpoint (moto in tests, a VPC endpoint); default: the region's. */
    endpoint: httpUrl.optional(),
    listenerArn: z
      .string()
      .max(2048)
      .regex(
        /^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:listener\/app\/[A-Za-z0-9-]+\/[0-9a-f]+\/[0-9a-f]+$/,
        'expected an Application Load Balancer listener ARN (arn:aws:elasticloadbalancing:<region>:<account>:listener/app/<lb>/<id>/<id>)',
      ),
    /** The platform server's target group; default: the one the listener's default action forwards to. */
    platformTargetGroupArn: targetGroupArn.optional(),
    /** Create a target group per backend when missing (needs the VPC, port and protocol). */
    targetGroups: albTargetGroupPolicySchema.optional(),
    /** Pre-created target groups by backend name (`<application>-blue`, `<application>-green`); used before `targetGroups`. */
    targetGroupArns: z
      .record(z.string(), targetGroupArn)
      .superRefine((r, ctx) => {
        const keys = Object.keys(r);
        if (keys.length > SPEC_LIMITS.targetGroupArns) {
          ctx.addIssue({
            code: 'custom',
            message: `must have at most ${SPEC_LIMITS.targetGroupArns} entries (one per backend: <application>-blue, -green, -rolling)`,
          });
          return;
        }
        for (const key of keys.filter((k) => !backendKey.safeParse(k).success)) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: 'backend names are lower-case letters, digits and dashes (<application>-<color>)',
          });
        }
      })
      .default({}),
    /** Priorities of the rules Cutover creates: preview rules take the lower half, module rules the upper half. */
    rulePriorities: z
      .object({
        first: z.number().int().min(1).max(50_000).default(1000),
        last: z.number().int().min(1).max(50_000).default(1999),
      })
      .strict()
      .refine((r) => r.last - r.first >= 1, 'last must be above first (two halves: preview rules, module rules)')
      .default({ first: 1000, last: 1999 }),
    /** Path patterns of a module's rule; use ["/{module}", "/{module}/*"] when one module name is a prefix of another. */
    pathPatterns: z
      .array(
        z
          .string()
          .max(128, 'an ALB path pattern is at most 128 characters')
          .startsWith('/', 'must start with "/"')
          .includes('{module}', { message: 'must contain "{module}"' }),
      )
      .min(1)
      .max(4)
      .default(['/{module}*']),
    /** Requests carrying this header (any value) reach the preview backend; keep it equal to strategy.preview.header. */
    previewHeader: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,40}$/, 'a header name: 1-40 letters, digits and dashes')
      .default('x-cutover-preview'),
    /** Optional stepped switch: percentages of traffic on the new backend before it takes 100 (e.g. [10, 50]). */
    shift: z
      .object({
        steps: z
          .array(z.number().int().min(1).max(99))
          .min(1)
          .max(10)
          .refine((s) => s.every((v, i) => i === 0 || v > (s[i - 1] as number)), 'steps must increase'),
        interval: duration.default(5_000),
      })
      .strict()
      .refine((s) => s.steps.length * s.interval <= 30_000, 'steps x interval must be at most 30s per module')
      .optional(),
    /** How long to wait for targets to be healthy in DescribeTargetHealth (before a switch, after a registration). */
    targetHealthTimeout: durationAtMost(50_000).default(40_000),
    /** How long deregisterTargets waits for deregistered targets to finish draining. */
    drainTimeout: durationAtMost(50_000).default(40_000),
    /** The load balancer's URL (its DNS name): verify() sends requests through it when set. */
    publicUrl: httpUrl.optional(),
  })
  .strict()
  .refine((r) => r.targetGroups !== undefined || Object.keys(r.targetGroupArns).length > 0, {
    path: ['targetGroups'],
    message: 'set targetGroups (Cutover creates a target group per backend) or targetGroupArns (pre-created ones)',
  });

const nginxName = z
  .string()
  .max(100)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'an nginx upstream name (letters, digits, "_", "-", ".")');

const absolutePath = text().startsWith('/', 'must be an absolute path');

/**
 * nginx (the OutSystems pattern): `location /` proxies to the platform server, and `include <confDir>/*.location;`
 * picks up one file per module written by Cutover, whose proxy_pass goes to an upstream per color.
 */
export const nginxRouterSchema = z
  .object({
    kind: z.literal('nginx'),
    /** Directory for the files Cutover writes: <Module>.location, *.upstream, cutover.drain. */
    confDir: absolutePath,
    /** The main configuration file, checked with `nginx -t -c <nginxConf>` before every reload. */
    nginxConf: absolutePath,
    /** The nginx binary. */
    nginxBin: text().min(1, 'may not be empty').default('nginx'),
    /** nginx's prefix (-p), if it is started with one. */
    prefix: absolutePath.optional(),
    /** The master's pid file: the reload is a SIGHUP to it, and its old workers are watched until they exit. */
    pidFile: absolutePath,
    /** Instead of SIGHUP, run this to reload (e.g. ["sudo", "systemctl", "reload", "nginx"]). */
    reloadCommand: command.optional(),
    /** The upstream `location /` proxies to (the platform server): backend "default". */
    defaultUpstream: nginxName.default('platform'),
    /** Public URL of nginx, for verify() and the check after each reload. */
    publicUrl: httpUrl,
    /** Requests carrying this header (any non-empty value) reach the preview backend; keep it equal to strategy.preview.header. */
    previewHeader: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,40}$/, 'a header name: 1-40 letters, digits and dashes')
      .default('x-cutover-preview'),
    reload: z
      .object({
        /** How long responses carry `Connection: close` before the reload, so no keep-alive connection is cut. */
        drain: durationAtMost(10_000).default(500),
        /** How long to wait for the old workers to finish their requests and exit. */
        timeout: durationAtMost(45_000).default(30_000),
      })
      .strict()
      .default({ drain: 500, timeout: 30_000 }),
  })
  .strict();

export const routerSchema = z.discriminatedUnion('kind', [localRouterSchema, awsAlbRouterSchema, nginxRouterSchema]);

export const approvalSchema = z
  .object({
    /** "required": wait for approve/promote; "automatic": promote as soon as green is healthy. */
    mode: z.enum(['required', 'automatic']).default('automatic'),
    /** How long to wait for a decision before `onTimeout` applies. */
    timeout: duration.default(86_400_000),
    onTimeout: z.enum(['rollback', 'promote']).default('rollback'),
  })
  .strict();

export const previewSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Requests carrying this header (any value) are routed to green while previewing. */
    header: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,40}$/, 'a header name: 1-40 letters, digits and dashes')
      .default('x-cutover-preview'),
  })
  .strict();

export const blueGreenSchema = z
  .object({
    type: z.literal('blue-green'),
    /** Replicas started for preview before approval (like Argo's previewReplicaCount); defaults to `replicas`. */
    previewReplicas: z.number().int().min(1).max(SPEC_LIMITS.replicas).optional(),
    preview: previewSchema.default({ enabled: false, header: 'x-cutover-preview' }),
    approval: approvalSchema.default({ mode: 'automatic', timeout: 86_400_000, onTimeout: 'rollback' }),
    /** Switch every module at once, or one module at a time (each verified before the next). */
    switchMode: z.enum(['all-at-once', 'module-by-module']).default('all-at-once'),
    /** How long blue is kept after the switch, during which `rollback` switches back instantly. */
    rollbackWindow: duration.default(30_000),
  })
  .strict();

/** An absolute number of replicas, or a percentage of `replicas` such as "25%" (Kubernetes' IntOrString). */
const INT_OR_PERCENT = 'expected a non-negative integer or a percentage such as "25%"';
const intOrPercent = z.union(
  [z.number().int().nonnegative().max(SPEC_LIMITS.replicas), z.string().regex(/^\d{1,5}%$/, INT_OR_PERCENT)],
  { error: INT_OR_PERCENT },
);

export const rollingPauseSchema = z.union(
  [
    /** Wait for approve / promote (or reject); `strategy.approval` sets the timeout and what it does. */
    z.object({ approval: z.literal(true) }).strict(),
    /** Wait this long (approve / promote ends the pause early, reject rolls back). */
    z.object({ duration }).strict(),
  ],
  { error: 'expected {approval: true} or {duration: "<duration>"} (e.g. "10m")' },
);

export const rollingStepSchema = z
  .object({
    /** Pause once this batch is complete (1 = after the first batch: a canary). */
    afterBatch: z.number().int().min(1).max(SPEC_LIMITS.replicas),
    pause: rollingPauseSchema,
  })
  .strict();

export const rollingSchema = z
  .object({
    type: z.literal('rolling'),
    /** Replicas that may exist above `replicas` during the update (percentages round up). */
    maxSurge: intOrPercent.default('25%'),
    /** Replicas of `replicas` that may be out of service during the update (percentages round down). */
    maxUnavailable: intOrPercent.default('25%'),
    /** Seconds a new replica must stay healthy before it is registered (Kubernetes' minReadySeconds). */
    minReadySeconds: z.number().int().nonnegative().max(3600).default(0),
    /** How long a deregistered replica may finish its in-flight requests before it is retired. */
    drainTimeout: duration.default(30_000),
    /** A batch whose new replicas make no progress (none becomes healthy) for this long triggers `onProgressDeadline`. */
    progressDeadline: duration.default(600_000),
    /** What a stalled batch does: roll back, or pause for a person (approve = keep waiting, reject = roll back). */
    onProgressDeadline: z.enum(['rollback', 'pause']).default('rollback'),
    /** Pauses between batches. */
    steps: z
      .array(rollingStepSchema)
      .max(SPEC_LIMITS.steps, `must have at most ${SPEC_LIMITS.steps} pauses`)
      .default([]),
    /** Approval pauses: "required" waits for a decision; "automatic" lets every approval pause pass at once. */
    approval: z
      .object({
        mode: z.enum(['required', 'automatic']).default('required'),
        timeout: duration.default(86_400_000),
        onTimeout: z.enum(['rollback', 'promote']).default('rollback'),
      })
      .strict()
      .default({ mode: 'required', timeout: 86_400_000, onTimeout: 'rollback' }),
    /**
     * Names the configuration being rolled out. A rolling update replaces every replica whose version or
     * configuration differs: the revision is this string when given, else a digest of `platform.env`, so a
     * configuration-only update (same version, changed env) rolls through the replicas like a new version.
     */
    configRevision: z
      .string()
      .min(1)
      .max(20)
      .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'configRevision must be lower-case letters, digits and dashes')
      .optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (isExplicitZero(s.maxSurge) && isExplicitZero(s.maxUnavailable)) {
      ctx.addIssue({ code: 'custom', path: ['maxUnavailable'], message: 'may not be 0 when maxSurge is 0' });
    }
    if (typeof s.maxUnavailable === 'string' && Number.parseInt(s.maxUnavailable, 10) > 100) {
      ctx.addIssue({ code: 'custom', path: ['maxUnavailable'], message: 'must not be greater than 100%' });
    }
    const seen = new Set<number>();
    s.steps.forEach((step, i) => {
      if (seen.has(step.afterBatch)) {
        ctx.addIssue({
          code: 'custom',
          path: ['steps', i, 'afterBatch'],
          message: `batch ${step.afterBatch} already has a pause`,
        });
      }
      seen.add(step.afterBatch);
    });
  });

export const strategySchema = z.discriminatedUnion('type', [blueGreenSchema, rollingSchema]);

export const deploymentSpecSchema = z
  .object({
    application: name('application'),
    environment: name('environment').default('default'),
    version: z
      .string()
      .min(1)
      .max(63)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'version must be letters, digits, ".", "_" and "-"'),
    modules: z
      .array(moduleName, { error: 'expected a list of module names' })
      .min(1, 'must name at least one module')
      .max(
        SPEC_LIMITS.modules,
        `must have at most ${SPEC_LIMITS.modules} modules (the spec travels in every workflow payload); split the application`,
      )
      .refine((m) => new Set(m).size === m.length, 'module names must be unique'),
    replicas: z.number().int().min(1).max(SPEC_LIMITS.replicas, `must be at most ${SPEC_LIMITS.replicas}`).default(2),
    platform: platformSchema,
    router: routerSchema,
    strategy: strategySchema,
    health: healthSchema.default({
      path: '/{module}/_ping.html',
      interval: 1000,
      timeout: 2000,
      successThreshold: 2,
      deadline: 300_000,
    }),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.strategy.type === 'blue-green' && spec.strategy.previewReplicas !== undefined) {
      if (spec.strategy.previewReplicas > spec.replicas) {
        ctx.addIssue({
          code: 'custom',
          path: ['strategy', 'previewReplicas'],
          message: `must be at most replicas (${spec.replicas})`,
        });
      }
    }
    // Every part is bounded; this bounds their sum (the workflow input) and says which part is large.
    const bytes = utf8Bytes(JSON.stringify(spec));
    if (bytes > SPEC_LIMITS.specBytes) {
      const parts = Object.entries(spec).map(([key, value]) => [key, utf8Bytes(JSON.stringify(value) ?? '')] as const);
      const [largest, size] = parts.reduce((a, b) => (b[1] > a[1] ? b : a));
      ctx.addIssue({
        code: 'custom',
        path: [largest],
        message:
          `the spec is ${Math.ceil(bytes / 1024)} KiB as JSON, over the ${SPEC_LIMITS.specBytes / 1024} KiB limit ` +
          `(it is the workflow's input); ${largest} is ${Math.ceil(size / 1024)} KiB of it`,
      });
    }
  });

/** What a person writes (durations as strings, defaults omitted). */
export type DeploymentSpecInput = z.input<typeof deploymentSpecSchema>;
/** The normalised spec workflows run on (durations in milliseconds, defaults filled in). */
export type DeploymentSpec = z.output<typeof deploymentSpecSchema>;
export type PlatformConfig = DeploymentSpec['platform'];
export type RouterConfig = DeploymentSpec['router'];
export type HealthCheck = DeploymentSpec['health'];
export type BlueGreenStrategy = z.output<typeof blueGreenSchema>;
export type RollingStrategy = z.output<typeof rollingSchema>;
export type RollingStep = RollingStrategy['steps'][number];
/** A spec whose strategy is known to be blue-green / rolling (see the guards below). */
export type BlueGreenSpec = DeploymentSpec & { strategy: BlueGreenStrategy };
export type RollingSpec = DeploymentSpec & { strategy: RollingStrategy };

export function isBlueGreenSpec(spec: DeploymentSpec): spec is BlueGreenSpec {
  return spec.strategy.type === 'blue-green';
}

export function isRollingSpec(spec: DeploymentSpec): spec is RollingSpec {
  return spec.strategy.type === 'rolling';
}

export interface SpecIssue {
  /** Dotted path of the offending field, e.g. "strategy.rollbackWindow". */
  field: string;
  message: string;
}

export type SpecResult = { ok: true; spec: DeploymentSpec } | { ok: false; issues: SpecIssue[] };

/** Validates a raw spec (parsed YAML/JSON) and names every offending field. Never throws. */
export function validateSpec(raw: unknown): SpecResult {
  const result = deploymentSpecSchema.safeParse(raw);
  if (result.success) return { ok: true, spec: result.data };
  const issues = result.error.issues.map((issue) => ({
    field: issue.path.length ? issue.path.map((part) => shown(String(part), 60)).join('.') : '(root)',
    message: shown(issue.message, 300),
  }));
  // A hostile spec can have a problem per element; the report (a workflow failure's details too) stays small.
  if (issues.length <= SPEC_LIMITS.issues) return { ok: false, issues };
  const more = issues.length - SPEC_LIMITS.issues;
  return {
    ok: false,
    issues: [
      ...issues.slice(0, SPEC_LIMITS.issues),
      { field: '(root)', message: `and ${more} more problem(s) (the first ${SPEC_LIMITS.issues} are shown)` },
    ],
  };
}

/**
 * Text from the input as it may appear in a message: control characters escaped (a key may carry a terminal escape
 * sequence), and cut to `max` characters (a key may be a megabyte long).
 */
function shown(text: string, max: number): string {
  let printable = '';
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    printable += c < 0x20 || c === 0x7f ? `\\u${c.toString(16).padStart(4, '0')}` : ch;
  }
  return printable.length <= max ? printable : `${printable.slice(0, max)}… (${printable.length} characters)`;
}

export function formatSpecIssues(issues: SpecIssue[]): string {
  return issues.map((i) => `${i.field}: ${i.message}`).join('; ');
}
