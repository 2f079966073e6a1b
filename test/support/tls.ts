/**
 * TLS in front of the Temporal dev server, for real: certificates made with the openssl CLI (a CA, a server
 * certificate for 127.0.0.1/localhost, client certificates), and nginx as a TLS-terminating gRPC proxy that requires
 * a client certificate (mTLS) and passes the calls to the dev server in plain gRPC — the way docs/operations.md
 * ("Connecting to Temporal") has an operator put TLS in front of a self-hosted frontend.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { nginxBin } from './nginx';
import { freePort } from './temporal';

export interface CertFiles {
  crt: string;
  key: string;
}

export interface TestPki {
  dir: string;
  /** The CA that signed the server and client certificates (TEMPORAL_TLS_CA). */
  ca: CertFiles;
  /** The server certificate nginx presents: SAN IP 127.0.0.1 and DNS localhost. */
  server: CertFiles;
  /** A client certificate signed by the CA (TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY). */
  client: CertFiles;
  /** Another CA, unrelated: trusting it instead of `ca` must fail the handshake. */
  otherCa: CertFiles;
  /** A client certificate signed by the other CA: nginx must reject it. */
  strangerClient: CertFiles;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): CertFiles {
  const crt = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      crt,
      '-days',
      '2',
      '-subj',
      `/CN=Cutover test ${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  return { crt, key };
}

function makeLeaf(dir: string, name: string, ca: CertFiles, extensions: string): CertFiles {
  const crt = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  openssl(
    [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      csr,
      '-subj',
      `/CN=${name}`,
    ],
    dir,
  );
  fs.writeFileSync(ext, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n${extensions}\n`);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.crt,
      '-CAkey',
      ca.key,
      '-CAcreateserial',
      '-out',
      crt,
      '-days',
      '2',
      '-extfile',
      ext,
    ],
    dir,
  );
  return { crt, key };
}

/** A fresh PKI in `dir`: EC P-256 keys (PKCS#8), v3 certificates valid for two days. */
export function makeTestPki(dir: string): TestPki {
  fs.mkdirSync(dir, { recursive: true });
  const ca = makeCa(dir, 'ca');
  const otherCa = makeCa(dir, 'other-ca');
  return {
    dir,
    ca,
    otherCa,
    server: makeLeaf(dir, 'server', ca, 'extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost'),
    client: makeLeaf(dir, 'cutover-worker', ca, 'extendedKeyUsage=clientAuth'),
    strangerClient: makeLeaf(dir, 'stranger', otherCa, 'extendedKeyUsage=clientAuth'),
  };
}

/**
 * nginx as a gRPC proxy with TLS and required client certificates. The settings that matter for Temporal (see
 * docs/operations.md): HTTP/2 on the TLS listener (gRPC needs it); grpc_read_timeout/grpc_send_timeout above the
 * workers' long polls (~70 s; nginx's 60 s default cuts every idle poll with a 504); no request-body limit (a
 * deployment spec or history can exceed nginx's 1 MB default); keepalive_timeout for idle HTTP/2 connections
 * (http2_idle_timeout is obsolete since 1.19.7); keepalive_requests raised (HTTP/2 connections are
 * otherwise closed after 1000 calls; a worker makes that many in minutes); upstream keepalive (one HTTP/2
 * connection to the frontend reused, not one per call).
 */
export function grpcProxyConf(o: {
  dir: string;
  port: number;
  upstream: string;
  pki: TestPki;
  /** A second listener, TLS without client certificates, that lets through only `authorization: Bearer <key>`. */
  apiKey?: { port: number; key: string };
}): string {
  const tmp = path.join(o.dir, 'tmp');
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${user}worker_processes 1;
pid ${o.dir}/nginx.pid;
error_log ${o.dir}/error.log info;
daemon off;
master_process on;
events { worker_connections 1024; }
http {
    access_log ${o.dir}/access.log;
    client_body_temp_path ${tmp}/body;
    proxy_temp_path ${tmp}/proxy;
    fastcgi_temp_path ${tmp}/fastcgi;
    uwsgi_temp_path ${tmp}/uwsgi;
    scgi_temp_path ${tmp}/scgi;

    upstream temporal_frontend {
        server ${o.upstream};
        keepalive 16;
    }

    server {
        listen 127.0.0.1:${o.port} ssl http2;

        ssl_certificate ${o.pki.server.crt};
        ssl_certificate_key ${o.pki.server.key};
        ssl_protocols TLSv1.2 TLSv1.3;

        # mTLS: only clients with a certificate signed by this CA get through.
        ssl_client_certificate ${o.pki.ca.crt};
        ssl_verify_client on;

        client_max_body_size 0;
        keepalive_requests 100000;
        keepalive_timeout 300s;

        location / {
            grpc_pass grpc://temporal_frontend;
            grpc_read_timeout 300s;
            grpc_send_timeout 300s;
            grpc_socket_keepalive on;
        }
    }
${o.apiKey ? apiKeyServer(o.apiKey, o.pki) : ''}}
`;
}

/**
 * What an API-key frontend (Temporal Cloud) checks, done by nginx: TLS with the server certificate, and a call passes
 * only with the right bearer token (the SDK sends TEMPORAL_API_KEY as `authorization: Bearer <key>`); any other
 * call gets gRPC status 16 (UNAUTHENTICATED).
 */
function apiKeyServer(apiKey: { port: number; key: string }, pki: TestPki): string {
  if (!/^[A-Za-z0-9._-]+$/.test(apiKey.key)) throw new Error('the test API key must be [A-Za-z0-9._-]+');
  return `
    server {
        listen 127.0.0.1:${apiKey.port} ssl http2;
        ssl_certificate ${pki.server.crt};
        ssl_certificate_key ${pki.server.key};
        client_max_body_size 0;

        location / {
            if ($http_authorization != "Bearer ${apiKey.key}") {
                add_header grpc-status 16 always;
                add_header grpc-message "invalid API key" always;
                add_header content-type application/grpc always;
                return 200;
            }
            grpc_pass grpc://temporal_frontend;
            grpc_read_timeout 300s;
            grpc_send_timeout 300s;
        }
    }
`;
}

export interface GrpcTlsProxy {
  /** host:port clients dial (TEMPORAL_ADDRESS). */
  address: string;
  /** host:port of the API-key listener (when started with `apiKey`). */
  apiKeyAddress?: string;
  dir: string;
  child: ChildProcess;
  errorLog(): string;
  stop(): Promise<void>;
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts nginx in `dir` proxying TLS on a free port to `upstream` (host:port, plain gRPC). */
export async function startGrpcTlsProxy(opts: {
  dir: string;
  upstream: string;
  pki: TestPki;
  apiKey?: string;
}): Promise<GrpcTlsProxy> {
  fs.mkdirSync(path.join(opts.dir, 'tmp'), { recursive: true });
  const conf = path.join(opts.dir, 'nginx.conf');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const apiKey = opts.apiKey ? { port: await freePort(), key: opts.apiKey } : undefined;
    fs.writeFileSync(conf, grpcProxyConf({ dir: opts.dir, port, upstream: opts.upstream, pki: opts.pki, apiKey }));
    const log = fs.openSync(path.join(opts.dir, 'nginx.stderr'), 'a');
    const child = spawn(nginxBin(), ['-c', conf, '-p', `${opts.dir}/`], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    child.on('error', () => undefined);
    const deadline = Date.now() + 15_000;
    let ready = false;
    while (!ready && Date.now() < deadline && child.exitCode === null) {
      ready = (await listening(port)) && (!apiKey || (await listening(apiKey.port)));
      if (!ready) await new Promise((r) => setTimeout(r, 50));
    }
    const errorLog = () => {
      try {
        return fs.readFileSync(path.join(opts.dir, 'error.log'), 'utf8');
      } catch {
        return '';
      }
    };
    if (ready) {
      return {
        address: `127.0.0.1:${port}`,
        apiKeyAddress: apiKey ? `127.0.0.1:${apiKey.port}` : undefined,
        dir: opts.dir,
        child,
        errorLog,
        async stop() {
          if (child.exitCode !== null) return;
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGQUIT');
          await exited;
        },
      };
    }
    if (child.exitCode === null) child.kill('SIGKILL');
    const stderr = fs.readFileSync(path.join(opts.dir, 'nginx.stderr'), 'utf8');
    if (attempt < 3 && /Address already in use/.test(stderr + errorLog())) continue;
    throw new Error(`nginx (gRPC TLS proxy) did not start: ${stderr}${errorLog()}`);
  }
}
