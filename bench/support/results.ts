/**
 * What every benchmark shares: where its JSON goes (bench/results/<name>.json, committed with docs/benchmarks.md so
 * each figure there has its raw numbers beside it), the machine it ran on, and the small statistics the tables use.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** bench/results in the checkout, whether run from bench/*.ts (ts-node) or dist/bench/*.js. */
export const RESULTS_DIR = path.resolve(
  __dirname,
  __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..',
  'bench',
  'results',
);

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  platform: string;
  /** 1-minute load average when the result is written (the benchmark's end, so mostly its own load). */
  loadAverage: number;
}

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAverage: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
  };
}

/** Writes bench/results/<name>.json with the date, the machine and the command, and returns its path. */
export function writeResult(name: string, command: string, figures: unknown): string {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name}.json`);
  const body = { benchmark: name, command, date: new Date().toISOString(), machine: machine(), figures };
  fs.writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`);
  process.stdout.write(`results: ${path.relative(process.cwd(), file)}\n`);
  return file;
}

/** Nearest-rank percentile (p in 0..1) of `values`; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] as number;
}

export const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** `a / b` as "1.07x" ("-" when b is 0). */
export const ratio = (a: number, b: number): string => (b === 0 ? '-' : `${(a / b).toFixed(2)}x`);

/** Prints rows as a Markdown table (what docs/benchmarks.md pastes). */
export function printTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): void {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(3, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 3)).join(' | ')} |`;
  const out = [line(cells[0] as string[]), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`];
  for (const r of cells.slice(1)) out.push(line(r));
  process.stdout.write(`${out.join('\n')}\n`);
}

/** Samples this process's RSS and CPU time until stopped; returns the peak RSS (MiB) and CPU seconds used. */
export function sampleProcess(everyMs = 200): { stop(): { peakRssMiB: number; cpuSeconds: number } } {
  const cpuStart = process.cpuUsage();
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage.rss());
      const cpu = process.cpuUsage(cpuStart);
      return { peakRssMiB: round(peak / 2 ** 20), cpuSeconds: round((cpu.user + cpu.system) / 1e6, 2) };
    },
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; undefined if it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    const ticks = Number(fields[11]) + Number(fields[12]);
    return round(ticks / 100, 2);
  } catch {
    return undefined;
  }
}

/** Resident memory of a process (MiB) from /proc/<pid>/status; undefined if it is gone. */
export function processRssMiB(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? round(Number(match[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}
