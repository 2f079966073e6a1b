/**
 * Running nginx: `nginx -t` before every reload, and the graceful reload itself.
 *
 * Why the reload is more than a SIGHUP: on a reload, nginx's old workers finish the requests they are serving and
 * exit; a request that was running promised `Connection: keep-alive`, yet the old worker closes the connection right
 * after answering (ngx_http_finalize_connection skips keep-alive when ngx_exiting), and it closes idle keep-alive
 * connections at once. A client that sends its next request on such a connection at that moment gets a reset or an
 * empty reply: measured without the fix, about one failed request per reload. So the reload is:
 *
 *   1. create the flag file: every location Cutover writes (and `location /` through cutover.drain) now answers from
 *      a location with keepalive_timeout 0, so each response says `Connection: close`;
 *   2. wait `drain` ms: connections with a request running finish it and are closed cleanly by nginx;
 *   3. SIGHUP the master (or run reloadCommand), wait until new workers run and every old one has exited;
 *   4. remove the flag: keep-alive again.
 *
 * A client that honours `Connection: close` (every browser, curl, Node's http and undici) loses nothing.
 *
 * Long-lived connections (server-sent events, WebSocket) keep an old worker alive for as long as they stay open,
 * which is until their replica ends them (when it is stopped, after its drain). So the wait for old workers is
 * bounded by `reload.timeout`: set it above the longest ordinary request. Old workers still running after it hold
 * such connections (or requests longer than that): new requests already reach the new workers, so the reload is
 * complete; they exit once their last connection ends.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { CutoverError, ErrorType } from '../../errors';
import { isErrnoException } from '../local/error-info';
import { FLAG_FILE } from './render';

export interface NginxControlConfig {
  confDir: string;
  nginxConf: string;
  nginxBin: string;
  prefix?: string;
  pidFile: string;
  reloadCommand?: string[];
  reload: { drain: number; timeout: number };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function run(file: string, args: string[], timeoutMs: number): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`.trim();
      if (!err) return resolve({ code: 0, output });
      if (isErrnoException(err) && err.code === 'ENOENT') return reject(err);
      const code = typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1;
      resolve({ code, output: output || err.message });
    });
  });
}

/** Children of `parent` that are still running (zombies count as gone). Linux /proc. */
async function childrenOf(parent: number): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' || fields[0] === 'X' || Number(fields[1]) !== parent) continue;
      const title = (await fs.readFile(`/proc/${entry}/cmdline`, 'utf8')).replace(/\0/g, ' ').trim();
      out.set(Number(entry), title);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export class NginxControl {
  constructor(private readonly config: NginxControlConfig) {}

  private baseArgs(): string[] {
    return ['-c', this.config.nginxConf, ...(this.config.prefix ? ['-p', this.config.prefix] : [])];
  }

  /** `nginx -t`: throws RouterRequestRejectedError with nginx's own words when the configuration is refused. */
  async test(): Promise<void> {
    let result: { code: number; output: string };
    try {
      result = await run(this.config.nginxBin, ['-t', ...this.baseArgs()], 30_000);
    } catch (err) {
      throw new CutoverError(
        ErrorType.DriverUnavailable,
        `cannot run ${this.config.nginxBin} (${isErrnoException(err) ? err.code : String(err)}): install nginx on the worker's host or set router.nginxBin`,
      );
    }
    if (result.code !== 0) {
      const lines = result.output
        .split('\n')
        .filter((l) => !/syntax is ok|test is successful/.test(l))
        .join(' | ');
      throw new CutoverError(ErrorType.RouterRequestRejected, `nginx -t refused the new configuration: ${lines}`);
    }
  }

  private async masterPid(): Promise<number> {
    let text: string;
    try {
      text = await fs.readFile(this.config.pidFile, 'utf8');
    } catch (err) {
      // nginx is not running (or restarting): retryable.
      throw new Error(
        `cannot read nginx's pid file ${this.config.pidFile}: ${isErrnoException(err) ? err.code : String(err)}`,
      );
    }
    const pid = Number(text.trim());
    if (!Number.isInteger(pid) || pid <= 0)
      throw new Error(`${this.config.pidFile} does not hold a pid ("${text.trim()}")`);
    try {
      process.kill(pid, 0);
    } catch {
      throw new Error(`nginx master ${pid} (from ${this.config.pidFile}) is not running`);
    }
    return pid;
  }

  private flagFile(): string {
    return path.join(this.config.confDir, FLAG_FILE);
  }

  /**
   * The graceful reload with the keep-alive drain (see the file comment). Resolves once every old worker is gone, or
   * at `reload.timeout` with the number of old workers still finishing long-lived connections.
   */
  async reload(): Promise<{ lingering: number }> {
    const master = await this.masterPid();
    const before = await childrenOf(master);
    await fs.writeFile(this.flagFile(), `${process.pid} ${new Date().toISOString()}\n`);
    try {
      await sleep(this.config.reload.drain);
      if (this.config.reloadCommand) {
        const [cmd, ...args] = this.config.reloadCommand as [string, ...string[]];
        const result = await run(cmd, args, 30_000);
        if (result.code !== 0) throw new Error(`${this.config.reloadCommand.join(' ')} failed: ${result.output}`);
      } else {
        process.kill(master, 'SIGHUP');
      }
      // Workers already shutting down (an earlier reload left them finishing long-lived connections) are not this
      // reload's to wait for: only the workers that served until now.
      const serving = [...before].filter(([, title]) => !title.includes('shutting down')).map(([pid]) => pid);
      return await this.waitForGeneration(master, new Set(serving));
    } finally {
      await fs.rm(this.flagFile(), { force: true });
    }
  }

  /** Waits (bounded) until new workers run and those from before the reload are gone (or hold long-lived ones). */
  private async waitForGeneration(master: number, old: Set<number>): Promise<{ lingering: number }> {
    const deadline = Date.now() + this.config.reload.timeout;
    let children = await childrenOf(master);
    for (;;) {
      const fresh = [...children.keys()].filter(
        (pid) => !old.has(pid) && !children.get(pid)?.includes('shutting down'),
      );
      const remaining = [...children.keys()].filter((pid) => old.has(pid));
      if (fresh.length > 0 && remaining.length === 0) return { lingering: 0 };
      if (Date.now() >= deadline) {
        if (fresh.length > 0) return { lingering: remaining.length }; // long-lived connections: see the file comment
        throw new Error(
          `nginx (master ${master}) started no new worker within ${this.config.reload.timeout} ms of the reload: see its error log`,
        );
      }
      await sleep(50);
      children = await childrenOf(master);
    }
  }

  /**
   * Waits (bounded by `reload.timeout`) until no worker of an earlier reload is still shutting down (after a retried
   * call); workers still shutting down after it hold long-lived connections, as after a reload.
   */
  async settle(): Promise<void> {
    const master = await this.masterPid();
    const deadline = Date.now() + this.config.reload.timeout;
    for (;;) {
      const shuttingDown = [...(await childrenOf(master)).values()].filter((t) => t.includes('shutting down'));
      if (shuttingDown.length === 0 || Date.now() >= deadline) return;
      await sleep(50);
    }
  }
}
