/**
 * The real single-node cluster (scripts/k8s-node.sh: kubelet, containerd and runc on this machine, CNI bridge,
 * kube-proxy; docs/kubernetes-real-node.md) for the opt-in `*.realnode.ts` suites (`make test-real-node`).
 *
 * `useRealNode()` starts it in the file's beforeAll (after a `stop` that clears whatever a crashed run left) and
 * stops it in afterAll: every file gets an empty cluster. There is one node per machine (fixed state directory,
 * ports, bridge and pod CIDR), so the files run one at a time (`jest --runInBand`).
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { Platform, ReplicaSetState } from '../../activities/ports';
import { POD_DELIVERY_ENV } from './pod-deliveries';

const run = promisify(execFile);
const SCRIPTS = path.resolve(__dirname, '..', '..', 'scripts');

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface RealNode {
  /** The admin kubeconfig (scripts/k8s-node.sh env). */
  kubeconfig: string;
  /** The sample app's image in containerd, `cutover.local/sample-app:<id>`: there is no registry to pull from. */
  image: string;
  core: CoreV1Api;
  /** `k8s-node.sh start` from the stop before it to node Ready (ms). */
  startMs: number;
  /** Creates a namespace `<name>-<pid>` and waits for its default ServiceAccount (pods are refused until it exists). */
  createNamespace(name: string): Promise<string>;
}

async function node(command: 'start' | 'stop' | 'env'): Promise<string> {
  const { stdout } = await run('bash', [path.join(SCRIPTS, 'k8s-node.sh'), command], { timeout: 900_000 });
  return stdout;
}

/** The sample app's image reference, from the tarball name build-k8s-node-images.sh prints. */
async function sampleAppImage(): Promise<string> {
  const { stdout } = await run('bash', [path.join(SCRIPTS, 'build-k8s-node-images.sh'), '--print']);
  const tarball = stdout.split('\n').find((line) => /\/sample-app-[0-9a-f]+\.tar$/.test(line));
  if (!tarball) throw new Error(`no sample-app tarball in: ${stdout}`);
  return `cutover.local/sample-app:${/sample-app-([0-9a-f]+)\.tar$/.exec(tarball)?.[1]}`;
}

async function startRealNode(): Promise<RealNode> {
  const t0 = Date.now();
  await node('stop'); // whatever a crashed run left
  await node('start');
  const startMs = Date.now() - t0;
  const kubeconfig = /^KUBECONFIG=(.*)$/m.exec(await node('env'))?.[1] ?? '';
  const image = await sampleAppImage();
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  return {
    kubeconfig,
    image,
    core,
    startMs,
    async createNamespace(name) {
      const namespace = `${name}-${process.pid}`;
      await core.createNamespace({ body: { metadata: { name: namespace } } });
      for (let i = 0; i < 100; i++) {
        const sas = await core.listNamespacedServiceAccount({ namespace });
        if (sas.items.some((s) => s.metadata?.name === 'default')) break;
        await sleep(100);
      }
      return namespace;
    },
  };
}

/** Starts the node before the file's tests and stops it after them; the returned function gives the running node. */
export function useRealNode(): () => RealNode {
  let started: RealNode | undefined;
  beforeAll(async () => {
    started = await startRealNode();
    process.stderr.write(`[k8s-node] node Ready in ${started.startMs} ms\n`);
  }, 900_000);
  afterAll(async () => {
    const t0 = Date.now();
    await node('stop'); // also when the start failed half-way: stop removes whatever exists
    process.stderr.write(`[k8s-node] node stopped in ${Date.now() - t0} ms\n`);
  }, 120_000);
  return () => {
    if (!started) throw new Error('the real node is not running: call useRealNode() at the top of the test file');
    return started;
  };
}

/**
 * Waits until kube-proxy has written the DNAT rule of the Service at `clusterIP` (nat KUBE-SERVICES, written once
 * the Service has endpoints). Call it before the first request to a new ClusterIP: without the rule the host routes
 * the address to its default gateway, off this machine.
 */
export async function awaitServiceRule(clusterIP: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { stdout } = await run('iptables', ['-w', '-t', 'nat', '-S', 'KUBE-SERVICES']);
    if (stdout.includes(`-d ${clusterIP}/32 `)) return;
    if (Date.now() > deadline) throw new Error(`kube-proxy wrote no rule for ${clusterIP} in ${timeoutMs} ms`);
    await sleep(200);
  }
}

/**
 * The Kubernetes platform as the real-node suites run it in `namespace`: the sample app's image, port 8080, health
 * over HTTP at the pod IPs (the host reaches the bridge), a 10 s grace period, the pods' delivery events on their
 * standard output. `spec` is the deployment spec's platform section; `driver` the same for newKubernetesDriver().
 */
export function realNodePlatform(node: RealNode, namespace: string) {
  const spec = {
    kind: 'kubernetes' as const,
    namespace,
    image: node.image,
    port: 8080,
    kubeconfig: node.kubeconfig,
    probe: 'http' as const,
    gracePeriod: '10s',
    env: POD_DELIVERY_ENV,
  };
  const { kind: _kind, ...driver } = { ...spec, gracePeriod: 10_000 };
  return { spec, driver };
}

/** Waits until the replica set has `expected` replicas, each running and answering its health page over HTTP. */
export async function awaitHealthy(
  platform: Platform,
  name: string,
  expected: number,
  timeoutMs = 90_000,
): Promise<ReplicaSetState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await platform.getReplicaSet(name);
    if (state?.replicas.length === expected && state.replicas.every((r) => r.address && r.running)) {
      const results = await Promise.all(state.replicas.map((r) => platform.probe(r, '/Catalog/_ping.html', 1000)));
      if (results.every((r) => r.healthy)) return state;
    }
    if (Date.now() > deadline) throw new Error(`${name}: not ${expected} healthy replicas: ${JSON.stringify(state)}`);
    await sleep(250);
  }
}
