/**
 * A real mtail for the tests (Debian package, installed by `scripts/provision.sh --with mtail`) running the nginx
 * driver's program (activities/drivers/nginx/cutover-router.mtail) over a metrics log: the router metrics through
 * nginx. Its own temp dir (the program, mtail.log), a free loopback port; `host` is what Prometheus scrapes
 * (startPrometheus({ targets: [mtail.host] })). Mirrors test/support/prometheus.ts.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnServer } from './server-process';
import { freePort } from './temporal';
import { parseEnvFile, toolsEnvFile } from '../../scripts/tools';

const INSTALL_HINT = 'run `bash scripts/provision.sh --with mtail`, or set MTAIL_BIN';

/** The program the nginx driver's metrics log is written for. */
export const MTAIL_PROGRAM = path.resolve(__dirname, '../../activities/drivers/nginx/cutover-router.mtail');

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The mtail binary: MTAIL_BIN, else MTAIL_BIN in .cutover/tools.env (scripts/provision.sh writes it), else the Debian
 * path, else `mtail` on PATH; a clear error if none.
 */
export function mtailBin(): string {
  let fromFile: string | undefined;
  try {
    fromFile = parseEnvFile(fs.readFileSync(toolsEnvFile(), 'utf8')).MTAIL_BIN;
  } catch {
    fromFile = undefined; // no tools file: the other candidates
  }
  const candidates = [
    ...(process.env.MTAIL_BIN ? [process.env.MTAIL_BIN] : []),
    ...(fromFile ? [fromFile] : []),
    '/usr/bin/mtail',
    ...(process.env.PATH ?? '').split(':').map((d) => path.join(d, 'mtail')),
  ];
  const found = candidates.find(executable);
  if (!found) throw new Error(`mtail is not installed: ${INSTALL_HINT}`);
  return found;
}

/** One series of mtail's /metrics (Prometheus text format). */
export interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MtailServer {
  url: string;
  /** "127.0.0.1:<port>": a Prometheus scrape target (path /metrics). */
  host: string;
  dir: string;
  child: ChildProcess;
  /** Every series of /metrics named `name` (all of them without a name). */
  metrics(name?: string): Promise<Series[]>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `name{a="x",b="y"} 3` lines (label values as mtail writes them: no escapes in ours). */
export function parseMetrics(text: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{([^}]*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="([^"]*)"/g)) {
      labels[pair[1] as string] = pair[2] as string;
    }
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/**
 * Starts mtail with `program` (default: the nginx driver's) over `log` (created empty if missing: mtail reads only
 * what is appended after it starts), and waits until /metrics answers. `--emit_prog_label=false`: the series carry the
 * same labels as the local router's. `dir` (default: a new temp dir) holds the program and mtail.log; stop() removes
 * it if it made it.
 */
export async function startMtail(opts: { log: string; program?: string; dir?: string }): Promise<MtailServer> {
  const bin = mtailBin();
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-mtail-'));
  const progs = path.join(dir, 'progs');
  fs.mkdirSync(progs, { recursive: true });
  const program = opts.program ?? MTAIL_PROGRAM;
  fs.copyFileSync(program, path.join(progs, path.basename(program)));
  if (!fs.existsSync(opts.log)) fs.writeFileSync(opts.log, '');
  const logFile = path.join(dir, 'mtail.log');

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { child, stop } = spawnServer(
    bin,
    [
      '--progs',
      progs,
      '--logs',
      opts.log,
      '--address',
      '127.0.0.1',
      '--port',
      String(port),
      '--emit_prog_label=false',
      '--logtostderr',
    ],
    logFile,
    () => ownDir && fs.rmSync(dir, { recursive: true, force: true }),
  );

  const fetchMetrics = async (): Promise<string> => {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
    const text = await res.text();
    if (!res.ok) throw new Error(`mtail answered /metrics with ${res.status}: ${text.slice(0, 200)}`);
    return text;
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      const why = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-2_000) : '';
      await stop();
      throw new Error(`mtail (${bin}) did not answer at ${url}/metrics:\n${why}`);
    }
    try {
      await fetchMetrics();
      break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }

  return {
    url,
    host: `127.0.0.1:${port}`,
    dir,
    child,
    metrics: async (name) => {
      const all = parseMetrics(await fetchMetrics());
      return name === undefined ? all : all.filter((s) => s.name === name);
    },
    stop,
  };
}
