/**
 * The sample app's delivery log (test/support/delivery-log.ts) from pods. A pod cannot append to the test's file on
 * the host (the Kubernetes driver mounts no volume), so its replicas are given SAMPLE_DELIVERY_LOG=- (the app then
 * writes the events to its standard output) and they are read back from the container logs through the API: each
 * pod's log is followed from the moment its container runs until the container exits (the stream then ends, after
 * the last line), with the container runtime's timestamp on every line. The events of all pods are merged by those
 * timestamps (one host clock), each pod's in its own order, so the checks that need the order across replicas (a
 * slow request on the old version still running when the new one got traffic) work as with the shared file.
 */
import { PassThrough } from 'node:stream';
import { KubeConfig, Log } from '@kubernetes/client-node';
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import type { DeliveryEvent } from './delivery-log';

/** The pods' environment that sends their delivery events to the container log. */
export const POD_DELIVERY_ENV = { SAMPLE_DELIVERY_LOG: '-' };

export interface PodDeliveries {
  /**
   * Every pod's events so far, merged by timestamp. Waits first until no new line has arrived for `quietMs` (the
   * kubelet serves a followed log a moment after the app wrote it), at most `maxWaitMs`.
   */
  events(options?: { quietMs?: number; maxWaitMs?: number }): Promise<DeliveryEvent[]>;
  /** Pods whose log could not be followed to the end (their events may be missing). */
  problems(): string[];
  stop(): void;
}

interface Line {
  /** The runtime's timestamp with all nine digits of its fraction (sortOf): sorts as text. */
  at: string;
  event: DeliveryEvent;
}

interface Followed {
  lines: Line[];
  /** The last timestamp read: a stream that ends early is resumed from it. */
  lastAt?: string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A log line's timestamp in a form that sorts as text (every line of one node has the same zone): nine fraction
 * digits, in case the API drops trailing zeros as RFC 3339 allows ("…:45.1234567Z").
 */
function sortable(at: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(at);
  if (!m) throw new Error(`a container log line without an RFC 3339 timestamp: "${at}"`);
  const [, seconds = '', fraction = '', zone = ''] = m;
  return `${seconds}.${fraction.padEnd(9, '0')}${zone}`;
}

function started(pod: V1Pod): boolean {
  const state = pod.status?.containerStatuses?.[0]?.state;
  return Boolean(state?.running || state?.terminated);
}

/** Follows the container logs of every pod of `namespace` (polling the pod list every 200 ms) until stop(). */
export function collectPodDeliveries(o: {
  kubeconfig: string;
  namespace: string;
  core: CoreV1Api;
  container?: string;
}): PodDeliveries {
  const kc = new KubeConfig();
  kc.loadFromFile(o.kubeconfig);
  const log = new Log(kc);
  const container = o.container ?? 'app';
  /** By pod uid: a pod made again under the same name is another process. */
  const followed = new Map<string, Followed>();
  const failures: string[] = [];
  /** The streams of the reads in progress: stop() ends them. */
  const reads = new Set<PassThrough>();
  let stopped = false;
  let lastLineAt = Date.now();

  /** One line of a read that resumed after `skipUpTo` (the lines up to it were read before). */
  const parse = (name: string, state: Followed, text: string, skipUpTo: string | undefined) => {
    if (!text) return;
    const space = text.indexOf(' ');
    try {
      const at = sortable(text.slice(0, space));
      const message = text.slice(space + 1);
      if (skipUpTo !== undefined && at <= skipUpTo) return;
      state.lastAt = at;
      lastLineAt = Date.now();
      if (!message.startsWith('{')) return; // the app's own log lines
      const event = JSON.parse(message) as DeliveryEvent;
      if (event.event) state.lines.push({ at, event });
    } catch (err) {
      failures.push(`${name}: ${err instanceof Error ? err.message : String(err)} in "${text}"`);
    }
  };

  /**
   * One read of the pod's log from the last line read; followed, it resolves when the stream ends (the container
   * exited, or the API closed it early).
   */
  async function read(name: string, state: Followed, follow: boolean): Promise<void> {
    const skipUpTo = state.lastAt;
    const stream = new PassThrough();
    stream.setEncoding('utf8');
    let buffered = '';
    const ended = new Promise<void>((resolve) => {
      stream.on('data', (chunk: string) => {
        buffered += chunk;
        for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
          parse(name, state, buffered.slice(0, i), skipUpTo);
          buffered = buffered.slice(i + 1);
        }
      });
      stream.on('end', () => resolve());
      stream.on('close', () => resolve());
      stream.on('error', () => resolve());
    });
    await log.log(o.namespace, name, container, stream, {
      follow,
      timestamps: true,
      ...(skipUpTo ? { sinceTime: skipUpTo } : {}),
    });
    reads.add(stream);
    await ended;
    reads.delete(stream);
  }

  /** This pod (not another of its name) still exists and its container runs. */
  async function running(name: string, uid: string): Promise<boolean> {
    const pod = await o.core.readNamespacedPod({ name, namespace: o.namespace }).catch(() => undefined);
    return pod?.metadata?.uid === uid && Boolean(pod.status?.containerStatuses?.[0]?.state?.running);
  }

  /**
   * Follows until the container has exited, resuming a stream that ended (or a request that failed) while it still
   * ran, or until stop(); then one last read for lines a stream that ended early missed (the log stays readable
   * until the pod is gone).
   */
  async function follow(name: string, uid: string, state: Followed): Promise<void> {
    for (let attempt = 1; !stopped; attempt++) {
      try {
        await read(name, state, true);
      } catch (err) {
        if (!(await running(name, uid))) break;
        if (attempt >= 20) {
          failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
          return;
        }
        await sleep(200);
        continue;
      }
      if (!(await running(name, uid))) break;
      await sleep(100); // the stream ended early, or the pod's status still says running: read on from lastAt
    }
    if (!stopped) await read(name, state, false).catch(() => undefined);
  }

  void (async () => {
    while (!stopped) {
      const pods = await o.core.listNamespacedPod({ namespace: o.namespace }).catch(() => undefined);
      for (const pod of pods?.items ?? []) {
        const uid = pod.metadata?.uid ?? '';
        const name = pod.metadata?.name ?? '';
        if (!uid || followed.has(uid) || !started(pod)) continue;
        const state: Followed = { lines: [] };
        followed.set(uid, state);
        void follow(name, uid, state);
      }
      await sleep(200);
    }
  })();

  return {
    async events({ quietMs = 1500, maxWaitMs = 10_000 } = {}) {
      const deadline = Date.now() + maxWaitMs;
      while (Date.now() - lastLineAt < quietMs && Date.now() < deadline) await sleep(100);
      return [...followed.values()]
        .flatMap((s) => s.lines)
        .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
        .map((l) => l.event);
    },
    problems: () => [...failures],
    stop() {
      stopped = true;
      // Not by aborting the requests: the library pipes the response into our stream without an error handler, so
      // the abort's error would be uncaught. The responses end when their containers exit (close() retires them).
      for (const stream of reads) stream.destroy();
    },
  };
}
