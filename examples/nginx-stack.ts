/**
 * A real nginx (Debian package, installed by `scripts/provision.sh --with nginx`) for the nginx driver's tests and
 * benchmarks, in the OutSystems pattern: `location /` proxies to the platform server, `include <confDir>/*.location;` picks up
 * the module files Cutover writes, `<confDir>/*.upstream` the upstreams. Everything (pid, logs, temp paths) lives
 * in a temp dir; nginx listens on a free loopback port, with a master process so reloads are graceful.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { prepareConfDir } from '../activities/drivers/nginx';
import type { NginxRouterConfig } from '../activities/drivers/nginx';

/** The nginx binary: NGINX_BIN, else the Debian path, else `nginx` on PATH; a clear error when there is none. */
export function nginxBin(): string {
  if (process.env.NGINX_BIN) return process.env.NGINX_BIN;
  const candidates = ['/usr/sbin/nginx', ...(process.env.PATH ?? '').split(':').map((d) => path.join(d, 'nginx'))];
  const found = candidates.find((file) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!found) {
    throw new Error(
      'nginx is not installed: run `bash scripts/provision.sh --with nginx` (or `make test PROVISION_ARGS="--with nginx"`), or set NGINX_BIN',
    );
  }
  return found;
}

export interface NginxServer {
  url: string;
  dir: string;
  confDir: string;
  nginxConf: string;
  pidFile: string;
  errorLog: string;
  /** The master process (daemon off: our child). */
  child: ChildProcess;
  /** The driver configuration for this nginx (durations in ms), as the spec produces it. */
  routerConfig(overrides?: Partial<NginxRouterConfig>): NginxRouterConfig;
  /** The spec's `router` section for this nginx. */
  routerSpec(): Record<string, unknown>;
  /** Worker pids (children of the master). */
  workers(): number[];
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A free TCP port on 127.0.0.1 (free when asked; nginx binds it right after, and a clash is retried). */
/**
 * The reload's keep-alive drain, longer than undici's idle keep-alive timeout (4 s): by the SIGHUP every keep-alive
 * connection of the load's clients has either carried a request during the drain (answered `Connection: close`) or
 * been closed by the client itself. A connection still idle at the SIGHUP is closed by the exiting worker, and a
 * client that writes its next request on it at that instant gets a socket error: with a 300 ms drain that was seen
 * about once in 2,000 requests on a busy machine (idle pool connections outlive a short drain).
 */
const RELOAD_DRAIN_MS = 4_500;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export function mainConf(o: {
  dir: string;
  confDir: string;
  port: number;
  platformServer: string;
  workers: number;
}): string {
  const tmp = path.join(o.dir, 'tmp');
  // Workers run as root here (tests run as root in CI): they must be able to stat the flag file in confDir.
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${user}worker_processes ${o.workers};
pid ${o.dir}/nginx.pid;
error_log ${o.dir}/error.log notice;
daemon off;
master_process on;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path ${tmp}/body;
    proxy_temp_path ${tmp}/proxy;
    fastcgi_temp_path ${tmp}/fastcgi;
    uwsgi_temp_path ${tmp}/uwsgi;
    scgi_temp_path ${tmp}/scgi;

    include ${o.confDir}/*.upstream;

    upstream platform {
        server ${new URL(o.platformServer).host};
        keepalive 16;
        keepalive_timeout 4s;
    }

    server {
        listen 127.0.0.1:${o.port};

        # The default rule: the platform server.
        location / {
            set $cutover_upstream platform;
            include ${o.confDir}/*.drain;
            proxy_pass http://$cutover_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }

        # One file per module, written by Cutover.
        include ${o.confDir}/*.location;
    }
}
`;
}

/**
 * Starts nginx. Like an operator who followed docs/routers.md, Cutover's layout files are written before nginx
 * starts (`prepare: false` leaves confDir empty: the first change then installs them with a plain reload).
 */
export async function startNginx(opts: {
  platformServer: string;
  workers?: number;
  dir?: string;
  prepare?: boolean;
}): Promise<NginxServer> {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-nginx-'));
  const confDir = path.join(dir, 'cutover');
  fs.mkdirSync(confDir, { recursive: true });
  if (opts.prepare !== false) {
    await prepareConfDir({ confDir, defaultUpstream: 'platform', previewHeader: 'x-cutover-preview' });
  }
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  const nginxConf = path.join(dir, 'nginx.conf');
  const pidFile = path.join(dir, 'nginx.pid');
  const errorLog = path.join(dir, 'error.log');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    fs.writeFileSync(
      nginxConf,
      mainConf({ dir, confDir, port, platformServer: opts.platformServer, workers: opts.workers ?? 2 }),
    );
    const log = fs.openSync(path.join(dir, 'nginx.stderr'), 'a');
    const child = spawn(nginxBin(), ['-c', nginxConf, '-p', `${dir}/`], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    child.on('error', () => undefined); // a failed spawn shows up below as "nginx did not start"
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 15_000;
    let ready = false;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        const res = await fetch(`${url}/__ready`, { signal: AbortSignal.timeout(1_000) });
        await res.arrayBuffer();
        ready = fs.existsSync(pidFile);
        if (ready) break;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    if (!ready) {
      child.kill('SIGKILL');
      const why = fs.readFileSync(path.join(dir, 'nginx.stderr'), 'utf8');
      if (attempt < 3 && /Address already in use/.test(why)) continue;
      throw new Error(`nginx did not start:\n${why}`);
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const kill = () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    };
    process.once('exit', kill);
    const server: NginxServer = {
      url,
      dir,
      confDir,
      nginxConf,
      pidFile,
      errorLog,
      child,
      routerConfig: (overrides = {}) => ({
        confDir,
        nginxConf,
        nginxBin: nginxBin(),
        prefix: `${dir}/`,
        pidFile,
        defaultUpstream: 'platform',
        publicUrl: url,
        previewHeader: 'x-cutover-preview',
        reload: { drain: RELOAD_DRAIN_MS, timeout: 20_000 },
        ...overrides,
      }),
      routerSpec: () => ({
        kind: 'nginx',
        confDir,
        nginxConf,
        nginxBin: nginxBin(),
        prefix: `${dir}/`,
        pidFile,
        publicUrl: url,
        reload: { drain: `${RELOAD_DRAIN_MS}ms`, timeout: '20s' },
      }),
      workers: () => {
        const out: number[] = [];
        for (const entry of fs.readdirSync('/proc')) {
          if (!/^\d+$/.test(entry)) continue;
          try {
            const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
            const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
            if (fields[0] !== 'Z' && Number(fields[1]) === child.pid) out.push(Number(entry));
          } catch {
            // gone
          }
        }
        return out.sort((a, b) => a - b);
      },
      stop: async () => {
        process.removeListener('exit', kill);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGQUIT');
        const timer = setTimeout(kill, 10_000);
        await exited;
        clearTimeout(timer);
      },
    };
    return server;
  }
}
