/**
 * "Started" for a local replica: its PORT accepts connections, and the socket listening there is the replica's own.
 *
 * The platform picks the port (a free one, never handed out twice by this worker) and passes it as PORT, the
 * convention most servers follow (Heroku's Procfile, Cloud Run, Cloud Foundry). A connection that succeeds proves
 * something listens; /proc proves it is the replica (a process of its process group holds the listening socket) and
 * not another program that happened to take the port meanwhile. Where /proc cannot tell (no such file, another
 * network namespace), accepting connections is taken as enough.
 */
import * as fs from 'node:fs/promises';
import * as net from 'node:net';

/** Ports this worker handed out recently: the OS may offer a port again before the replica given it has bound it. */
const handedOut = new Map<number, number>();
const HANDED_OUT_FOR_MS = 10 * 60_000;

/** A port nothing listens on now, bound and released at once, and not handed out by this worker recently. */
export async function pickFreePort(host = '127.0.0.1'): Promise<number> {
  const now = Date.now();
  for (const [port, at] of handedOut) if (now - at > HANDED_OUT_FOR_MS) handedOut.delete(port);
  for (let i = 0; i < 50; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen({ port: 0, host, exclusive: true }, () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    if (port > 0 && !handedOut.has(port)) {
      handedOut.set(port, now);
      return port;
    }
  }
  throw new Error('no free port found after 50 tries');
}

/** Whether a TCP connection to host:port succeeds within `timeoutMs`. */
export function acceptsConnections(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Inodes of the sockets listening on `port` (any address, IPv4 and IPv6), from /proc/net/tcp{,6}. */
async function listeningInodes(port: number): Promise<Set<string> | undefined> {
  const inodes = new Set<string>();
  let readAny = false;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch {
      continue;
    }
    readAny = true;
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      const state = fields[3];
      const inode = fields[9];
      if (!local || state !== '0A' || !inode) continue; // 0A = LISTEN
      const hexPort = local.slice(local.lastIndexOf(':') + 1);
      if (Number.parseInt(hexPort, 16) === port) inodes.add(inode);
    }
  }
  return readAny ? inodes : undefined;
}

/** Pids whose process group is `pgid` (a replica is spawned detached: it leads its own group). */
async function processGroup(pgid: number): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await fs.readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid pgrp ...": fields after the last ')'
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/**
 * Who holds the socket listening on `port`: a process of the replica's group, another program, or "unknown" when
 * /proc cannot say (then a connection that succeeds is all there is to go on).
 */
export async function listenerOf(port: number, replicaPid: number): Promise<'replica' | 'other' | 'unknown'> {
  const inodes = await listeningInodes(port);
  if (!inodes || inodes.size === 0) return 'unknown';
  let sawFds = false;
  for (const pid of await processGroup(replicaPid)) {
    let fds: string[];
    try {
      fds = await fs.readdir(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    sawFds = true;
    for (const fd of fds) {
      const target = await fs.readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && inodes.has(inode)) return 'replica';
    }
  }
  return sawFds ? 'other' : 'unknown';
}
