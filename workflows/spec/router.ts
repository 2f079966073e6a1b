/**
 * What routes each module's traffic (`router`): the local router, an AWS ALB, nginx, a Kubernetes Service.
 *
 * Part of the deployment spec (workflows/spec/index.ts): pure, zod at most and no Node built-ins, so workflows import it.
 */
import { z } from 'zod';
import { duration } from './duration';
import { command, httpUrl, text } from './fields';
import { SPEC_LIMITS } from './limits';
import { k8sName } from './platform';
import type { platformSchema } from './platform';

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
    /**
     * Router metrics for canary analysis: every module location logs each request to this file, which mtail with
     * activities/drivers/nginx/cutover-router.mtail turns into the local router's cutover_router_* metrics for a
     * Prometheus to scrape (docs/routers.md). The same for every spec that uses this confDir.
     */
    metricsLog: text()
      .regex(
        /^\/[A-Za-z0-9_./-]+$/,
        'metricsLog must be an absolute path of letters, digits, "_", "-", "." and "/" (nginx reads it unquoted; "$" would be a variable)',
      )
      .optional(),
  })
  .strict();

/**
 * A Kubernetes Service in front of the application (blue-green as Argo Rollouts does it): the switch is one patch of
 * the Service's selector, from the pods of one replica set of the Kubernetes platform to another's; the selector
 * it had before the first switch is kept in an annotation on the Service and put back by a rollback. Every module is
 * served by the one Service, so they switch together. Connection as the platform's: a kubeconfig file and context,
 * never a credential.
 */
export const kubernetesServiceRouterSchema = z
  .object({
    kind: z.literal('kubernetes-service'),
    /** The Service's namespace: the platform's (the Service selects the platform's pods). */
    namespace: k8sName('namespace'),
    /** An existing Service in front of the application (a DNS-1035 label). */
    service: z
      .string()
      .min(1, 'service is required')
      .max(63)
      .regex(
        /^[a-z]([a-z0-9-]*[a-z0-9])?$/,
        'service must be a Service name (lower-case letters, digits and dashes, beginning with a letter)',
      ),
    /** Path of a kubeconfig file on the worker; default: $KUBECONFIG, ~/.kube/config, else in-cluster. */
    kubeconfig: text().min(1, 'may not be empty').optional(),
    /** A context of that kubeconfig; default: its current context. */
    context: text(253).min(1, 'may not be empty').optional(),
    /** Where verify() sends its requests; default: http://<clusterIP>:<the Service's first port> (from the worker). */
    publicUrl: httpUrl.optional(),
    /**
     * How long to wait once the Service's EndpointSlices list only the new pods, for kube-proxy on every node to
     * program them (it watches the same slices; there is no API that says it has).
     */
    proxySync: durationAtMost(30_000).default(2_000),
    /** How long a switch waits for the EndpointSlices to list only the new pods. */
    endpointsTimeout: durationAtMost(50_000).default(40_000),
  })
  .strict();

export const routerSchema = z.discriminatedUnion('kind', [
  localRouterSchema,
  awsAlbRouterSchema,
  nginxRouterSchema,
  kubernetesServiceRouterSchema,
]);

/** What a kubernetes-service router cannot do, refused where the spec names it. */
interface ServiceRouterSpec {
  router: z.output<typeof routerSchema>;
  platform: z.output<typeof platformSchema>;
  strategy: { type: string; preview?: { enabled: boolean }; switchMode?: string };
}

/**
 * A Service selects the pods of one replica set at a time, for every module at once: no rolling update (its old and
 * new pods share a backend replica by replica), no canary (no weights), no preview route (no header matching), no
 * module-by-module switch; and its pods are the Kubernetes platform's, in the Service's namespace.
 */
export function checkKubernetesServiceRouter(spec: ServiceRouterSpec, ctx: z.RefinementCtx): void {
  const { router, platform, strategy } = spec;
  if (router.kind !== 'kubernetes-service') return;
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  if (strategy.type !== 'blue-green') {
    issue(
      ['strategy', 'type'],
      `router.kind kubernetes-service switches a Service's selector between blue and green: strategy ${strategy.type} ` +
        'is not supported (use blue-green, or a router with per-target registration and weights: nginx, aws-alb)',
    );
  }
  if (strategy.preview?.enabled) {
    issue(
      ['strategy', 'preview', 'enabled'],
      'router.kind kubernetes-service has no preview route (a Service does not match headers): disable the preview',
    );
  }
  if (strategy.switchMode === 'module-by-module') {
    issue(
      ['strategy', 'switchMode'],
      'router.kind kubernetes-service serves every module through one Service: only all-at-once switching',
    );
  }
  if (platform.kind !== 'kubernetes') {
    issue(
      ['platform', 'kind'],
      `router.kind kubernetes-service selects pods of the Kubernetes platform: platform.kind must be kubernetes, not ${platform.kind}`,
    );
  } else if (platform.namespace !== router.namespace) {
    issue(
      ['router', 'namespace'],
      `must be the platform's namespace (${platform.namespace}): a Service selects pods of its own namespace only`,
    );
  }
}
