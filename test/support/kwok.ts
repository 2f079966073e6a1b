/**
 * A real Kubernetes API server for a test file: scripts/k8s-cluster.sh (kwokctl, runtime binary: kube-apiserver,
 * etcd, kube-controller-manager, kube-scheduler as processes; kwok plays the kubelet, so pods become Running/Ready
 * on a fake node without any container). One cluster per test file, named after it, in its own data directory
 * (.cutover/kwok-test/<name> of this checkout), so parallel jest workers and other checkouts never share one.
 *
 * Starting first stops whatever a crashed earlier run of the same file left (its processes, by their pid files,
 * and its data), so every run begins with an empty cluster. Starts are serialised machine-wide with flock: kwokctl
 * picks "the highest free ports" when it creates a cluster, and two creations at once would pick the same ones.
 *
 * Pod IPs on kwok are fake: tests assert on API objects, and never send a request to a pod.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';

const run = promisify(execFile);
const REPO_ROOT = path.resolve(__dirname, '..', '..');
const SCRIPT = path.join(REPO_ROOT, 'scripts', 'k8s-cluster.sh');
const START_LOCK = path.join(os.tmpdir(), 'cutover-kwok-start.lock');

export interface KwokCluster {
  name: string;
  /** The admin kubeconfig (client certificate) the script wrote. */
  kubeconfig: string;
  /** Milliseconds from `start` to a ready API server with its node. */
  startMs: number;
  /** CoreV1Api as cluster admin (to create namespaces, read pods...). */
  core: CoreV1Api;
  rbac: RbacAuthorizationV1Api;
  /** A fresh namespace (deleted with the cluster). */
  createNamespace(prefix: string): Promise<string>;
  /** Pods of a namespace (optionally by label selector), sorted by name, terminating ones left out. */
  pods(namespace: string, labelSelector?: string): Promise<PodView[]>;
  stop(): Promise<void>;
}

export interface PodView {
  name: string;
  labels: Record<string, string>;
  phase: string;
  ready: boolean;
  podIP: string;
  ownerUid: string;
}

async function script(command: 'start' | 'stop', name: string, dataDir: string): Promise<string> {
  // The binary cache scripts/provision.sh --with k8s filled (same default rule as there).
  const cache =
    process.env.CUTOVER_CACHE ?? process.env.CUTOVER_TOOLS_DIR ?? path.join(os.homedir(), '.cache', 'cutover');
  const env = { ...process.env, CUTOVER_DATA_DIR: dataDir, CUTOVER_K8S_CLUSTER: name, CUTOVER_CACHE: cache };
  const args = command === 'start' ? ['-w', '300', START_LOCK, 'bash', SCRIPT, 'start'] : ['bash', SCRIPT, 'stop'];
  const [file, ...rest] = command === 'start' ? ['flock', ...args] : args;
  try {
    const { stdout, stderr } = await run(file as string, rest, { env, timeout: 360_000 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`k8s-cluster.sh ${command} (${name}) failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** Starts a cluster named `cutover-<name>` (after stopping any leftover of that name). */
export async function startKwokCluster(name: string): Promise<KwokCluster> {
  const clusterName = `cutover-${name}`;
  const dataDir = path.join(REPO_ROOT, '.cutover', 'kwok-test', name);
  fs.mkdirSync(dataDir, { recursive: true });
  await script('stop', clusterName, dataDir); // a leftover of a crashed run: gone, with its processes
  const started = Date.now();
  await script('start', clusterName, dataDir);
  const startMs = Date.now() - started;
  const kubeconfig = path.join(dataDir, 'kubeconfig');
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  let counter = 0;
  return {
    name: clusterName,
    kubeconfig,
    startMs,
    core,
    rbac,
    async createNamespace(prefix) {
      const ns = `${prefix}-${process.pid}-${++counter}`.slice(0, 63);
      await core.createNamespace({ body: { metadata: { name: ns } } });
      // The ServiceAccount admission needs the namespace's default ServiceAccount before pods can be created.
      for (let i = 0; i < 100; i++) {
        const sas = await core.listNamespacedServiceAccount({ namespace: ns });
        if (sas.items.some((s) => s.metadata?.name === 'default')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      return ns;
    },
    async pods(namespace, labelSelector) {
      const list = await core.listNamespacedPod({ namespace, ...(labelSelector ? { labelSelector } : {}) });
      return list.items
        .filter((p) => !p.metadata?.deletionTimestamp)
        .map((p) => ({
          name: p.metadata?.name ?? '',
          labels: p.metadata?.labels ?? {},
          phase: p.status?.phase ?? '',
          ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
          podIP: p.status?.podIP ?? '',
          ownerUid: p.metadata?.ownerReferences?.[0]?.uid ?? '',
        }))
        .sort((a, b) => a.name.localeCompare(b.name));
    },
    async stop() {
      await script('stop', clusterName, dataDir);
    },
  };
}

/** One cluster for the calling test file: started in beforeAll, always stopped in afterAll. */
export function useKwokCluster(name: string): () => KwokCluster {
  let cluster: KwokCluster | undefined;
  beforeAll(async () => {
    cluster = await startKwokCluster(name);
    process.stderr.write(`[kwok] cluster ${cluster.name} started in ${cluster.startMs} ms\n`);
  }, 400_000);
  afterAll(async () => {
    const t0 = Date.now();
    // Stop by name even if the start failed half-way (the script removes whatever exists).
    if (cluster) await cluster.stop();
    else await script('stop', `cutover-${name}`, path.join(REPO_ROOT, '.cutover', 'kwok-test', name)).catch(() => '');
    process.stderr.write(`[kwok] cluster cutover-${name} stopped in ${Date.now() - t0} ms\n`);
  }, 120_000);
  return () => {
    if (!cluster) throw new Error('the kwok cluster is not running: call useKwokCluster() at the top of the test file');
    return cluster;
  };
}

/**
 * A kubeconfig for a ServiceAccount of `namespace` with no RBAC permission at all (a token from the TokenRequest
 * API), to see what a worker without the Role gets. Written next to the admin kubeconfig.
 */
export async function unprivilegedKubeconfig(cluster: KwokCluster, namespace: string): Promise<string> {
  const sa = 'cutover-unprivileged';
  await cluster.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: sa } } });
  const token = await cluster.core.createNamespacedServiceAccountToken({
    name: sa,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const admin = new KubeConfig();
  admin.loadFromFile(cluster.kubeconfig);
  const server = admin.getCurrentCluster();
  if (!server) throw new Error(`no cluster in ${cluster.kubeconfig}`);
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [server],
    users: [{ name: sa, token: token.status?.token ?? '' }],
    contexts: [{ name: sa, cluster: server.name, user: sa, namespace }],
    currentContext: sa,
  });
  const file = path.join(path.dirname(cluster.kubeconfig), `kubeconfig-${namespace}-${sa}`);
  fs.writeFileSync(file, kc.exportConfig(), { mode: 0o600 });
  return file;
}

/** A Kubernetes Status document (what the API server sends with an error), for a fault layer answering in its place. */
export function k8sStatusBody(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

/** The admin kubeconfig with another server address (e.g. a TCP proxy in front of the API server); same TLS, same user. */
export function kubeconfigVia(cluster: KwokCluster, server: string, name: string): string {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const current = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (!current || !user) throw new Error(`no cluster or user in ${cluster.kubeconfig}`);
  const out = new KubeConfig();
  out.loadFromOptions({
    clusters: [{ ...current, server }],
    users: [user],
    contexts: [{ name, cluster: current.name, user: user.name }],
    currentContext: name,
  });
  const file = path.join(path.dirname(cluster.kubeconfig), `kubeconfig-${name}`);
  fs.writeFileSync(file, out.exportConfig(), { mode: 0o600 });
  return file;
}

/**
 * A kubeconfig for a plain-HTTP front of the API server that authenticates itself (the fault layer of
 * test/support/http-faults.ts): no credentials of its own. The client refuses http:// unless TLS checks are off.
 */
export function kubeconfigForHttpFront(cluster: KwokCluster, url: string, name: string): string {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name, server: url, skipTLSVerify: true }],
    users: [{ name }],
    contexts: [{ name, cluster: name, user: name }],
    currentContext: name,
  });
  const file = path.join(path.dirname(cluster.kubeconfig), `kubeconfig-${name}`);
  fs.writeFileSync(file, kc.exportConfig(), { mode: 0o600 });
  return file;
}

/** The API server's URL and the admin's TLS material (CA, client certificate and key), to proxy it. */
export async function adminTls(
  cluster: KwokCluster,
): Promise<{ server: string; tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } }> {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const opts: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  await kc.applyToHTTPSOptions(opts);
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error(`no server in ${cluster.kubeconfig}`);
  return { server, tls: { ca: opts.ca, cert: opts.cert, key: opts.key } };
}

/**
 * A kubeconfig for a ServiceAccount of `namespace` bound to a Role with exactly these rules (a token from the
 * TokenRequest API; a rule without `apiGroups` is of the core group). Returns once the API server applies the binding (RBAC is cached briefly): the rules must let it
 * list configmaps, which is how it checks.
 */
export async function kubeconfigWithRole(
  cluster: KwokCluster,
  namespace: string,
  name: string,
  rules: { apiGroups?: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] }[],
): Promise<string> {
  await cluster.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  await cluster.rbac.createNamespacedRole({
    namespace,
    body: { metadata: { name }, rules: rules.map((r) => ({ apiGroups: [''], ...r })) },
  });
  await cluster.rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
    },
  });
  const token = await cluster.core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const admin = new KubeConfig();
  admin.loadFromFile(cluster.kubeconfig);
  const server = admin.getCurrentCluster();
  if (!server) throw new Error(`no cluster in ${cluster.kubeconfig}`);
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [server],
    users: [{ name, token: token.status?.token ?? '' }],
    contexts: [{ name, cluster: server.name, user: name, namespace }],
    currentContext: name,
  });
  const file = path.join(path.dirname(cluster.kubeconfig), `kubeconfig-${namespace}-${name}`);
  fs.writeFileSync(file, kc.exportConfig(), { mode: 0o600 });
  const asIt = kc.makeApiClient(CoreV1Api);
  for (let i = 0; ; i++) {
    try {
      await asIt.listNamespacedConfigMap({ namespace });
      return file;
    } catch (err) {
      if (i >= 40) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
