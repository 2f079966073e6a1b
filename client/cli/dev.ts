/**
 * `cutover dev`: in the foreground, what a laptop needs to run the example specs —
 *
 *   - the Temporal dev server with its UI (the CLI named by TEMPORAL_BIN / .cutover/tools.env), in memory; or the
 *     server already answering at TEMPORAL_ADDRESS, left alone;
 *   - a stand-in platform server (the sample app answering every module as version "platform-server") and the local
 *     router whose default rule sends everything to it, on the ports examples/specs/blue-green.yaml names
 *     (examples/local-stack.ts, as `make demo` and the integration tests start them);
 *   - a worker (`node dist/worker/main.js`), its replicas kept under <state dir>/state;
 *   - optionally the OutSystems hook server (`--hooks <config>`).
 *
 * It prints their URLs, streams the worker's (and hook server's) log with a prefix, and on SIGINT/SIGTERM stops all
 * of it: the worker, the hook server, the replicas the worker launched, the router, the platform server, then the
 * Temporal server it started. A port already taken is refused before anything starts, naming the port and what
 * wanted it.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { Option } from 'commander';
import type { Command } from 'commander';
import { CUTOVER_SEARCH_ATTRIBUTES } from '../../scripts/dev-server';
import { connectionOptions, temporalConfigFromEnv } from '../connection';
import type { TemporalConfig } from '../connection';
import { fileArg, labelArg, portArg } from './args';
import { CliError, EXIT } from './context';
import type { CliDeps } from './context';
import { alive, spawnReady, startWatchdog, stopChild } from './dev-processes';

export interface DevOptions {
  /** The router's public port (examples/specs/blue-green.yaml: router.publicUrl). */
  routerPort: number;
  /** The router's admin API port (router.adminUrl). */
  adminPort: number;
  /** The stand-in platform server's port. */
  platformPort: number;
  /** The Temporal UI's port, when the dev server is started here. */
  uiPort: number;
  /** The application and modules the platform server answers for. */
  application: string;
  modules: string[];
  /** Hook server configuration (YAML); no hook server without it. */
  hooks?: string;
  /** Logs, the router's rules, the replicas' state. */
  stateDir: string;
}

export const DEV_DEFAULTS = {
  routerPort: 18080,
  adminPort: 18081,
  platformPort: 18090,
  application: 'shop',
  modules: ['Catalog', 'Cart', 'Checkout'],
  stateDir: path.join('.cutover', 'dev'),
} as const;

export interface PortClaim {
  port: number;
  host: string;
  /** Who wants it, e.g. "the router (public, --router-port)". */
  what: string;
}

/** Refuses (exit 4) when any claimed port is taken, naming the port and what wanted it. Port 0 is always free. */
export async function assertPortsFree(claims: PortClaim[]): Promise<void> {
  for (const claim of claims) {
    if (claim.port === 0) continue;
    const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const server = net.createServer();
      server.once('error', (err: NodeJS.ErrnoException) => resolve(err));
      server.listen(claim.port, claim.host, () => server.close(() => resolve(undefined)));
    });
    if (error) {
      const why =
        error.code === 'EADDRINUSE' ? 'is already in use' : `cannot be bound (${error.code ?? error.message})`;
      throw new CliError(
        `port ${claim.port} on ${claim.host} ${why}; ${claim.what} needs it. ` +
          `Stop what listens there (\`ss -ltnp 'sport = :${claim.port}'\` shows it) or choose another port.`,
        EXIT.refused,
      );
    }
  }
}

/** Resolves with the first SIGINT or SIGTERM (and stops listening for them). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function projectRoot(): string {
  // client/cli/dev.ts in the sources, dist/client/cli/dev.js once built.
  const up = __dirname.split(/[\\/]/).includes('dist') ? ['..', '..', '..'] : ['..', '..'];
  return path.resolve(__dirname, ...up);
}

async function temporalAnswers(config: TemporalConfig): Promise<{ ok: boolean; missing: string[] }> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ ...connectionOptions(config), connectTimeout: 2_000 });
    await connection.workflowService.getSystemInfo({});
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({
        namespace: config.namespace,
      });
      return { ok: true, missing: CUTOVER_SEARCH_ATTRIBUTES.filter((name) => customAttributes?.[name] === undefined) };
    } catch {
      return { ok: true, missing: [] }; // a cloud namespace may not let us list them: assume they are there
    }
  } catch {
    return { ok: false, missing: [] };
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

interface StartedTemporal {
  address: string;
  uiUrl?: string;
  child?: ChildProcess;
}

function logTail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function startTemporal(config: TemporalConfig, opts: DevOptions, deps: CliDeps): Promise<StartedTemporal> {
  const answer = await temporalAnswers(config);
  if (answer.ok) {
    if (answer.missing.length) {
      deps.err(
        `warning: the Temporal server at ${config.address} lacks the search attributes ${answer.missing.join(', ')}; ` +
          'deployments will fail to start (scripts/temporal-server.sh start registers them)\n',
      );
    }
    return { address: config.address };
  }
  const match = /^(127\.0\.0\.1|localhost|\[::1\]):(\d+)$/.exec(config.address);
  if (!match) {
    throw new CliError(
      `no Temporal server answers at TEMPORAL_ADDRESS=${config.address}, and it is not on this machine, so ` +
        '`cutover dev` cannot start one there (unset TEMPORAL_ADDRESS to start one on 127.0.0.1:7233)',
      EXIT.unreachable,
    );
  }
  const port = Number(match[2]);
  await assertPortsFree([
    { port, host: '127.0.0.1', what: `the Temporal dev server (gRPC, TEMPORAL_ADDRESS=${config.address})` },
    { port: opts.uiPort, host: '127.0.0.1', what: 'the Temporal UI (--ui-port / TEMPORAL_UI_PORT)' },
  ]);
  const { toolPath } = await import('../../scripts/tools');
  let bin: string;
  try {
    bin = toolPath('temporal');
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.unreachable);
  }
  let help = '';
  try {
    help = execFileSync(bin, ['server', 'start-dev', '--help'], { encoding: 'utf8' });
  } catch {
    // an older CLI: no optional flags
  }
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--ui-port',
    String(opts.uiPort),
    '--namespace',
    config.namespace,
    '--log-level',
    'warn',
    ...(help.includes('--ui-disable-news-fetch') ? ['--ui-disable-news-fetch'] : []),
    ...CUTOVER_SEARCH_ATTRIBUTES.flatMap((name) => ['--search-attribute', `${name}=Keyword`]),
  ];
  const logFile = path.join(opts.stateDir, 'temporal.log');
  const log = fs.openSync(logFile, 'a');
  const child = spawn(bin, args, { detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const uiUrl = `http://127.0.0.1:${opts.uiPort}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (!alive(child)) {
      throw new CliError(`the Temporal dev server exited during start-up; ${logFile}:\n${logTail(logFile)}`, 1);
    }
    const ui = await fetch(uiUrl, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ui && (await temporalAnswers(config)).ok) return { address: config.address, uiUrl, child };
    await sleep(250);
  }
  await stopChild(child, 1_000);
  throw new CliError(`the Temporal dev server was not ready within 60 s; ${logFile}:\n${logTail(logFile)}`, 1);
}

/** Retires every replica set the worker left in `stateDir` (a run stopped half-way, or this one). */
async function retireReplicas(stateDir: string, deps: CliDeps): Promise<void> {
  const { newLocalPlatformDriver } = await import('../../activities/drivers/local');
  const { PlatformStore } = await import('../../activities/drivers/local/platform-store');
  const platform = newLocalPlatformDriver({ stateDir });
  for (const name of await new PlatformStore(stateDir).listSetNames()) {
    try {
      await platform.retireReplicaSet(name);
      deps.err(`[dev] retired replica set ${name}\n`);
    } catch (err) {
      deps.err(`[dev] could not retire replica set ${name}: ${(err as Error).message}\n`);
    }
  }
}

/** Runs `cutover dev` until SIGINT/SIGTERM (resolves with exit 0) or until a part it started dies (exit 1). */
export async function runDev(opts: DevOptions, deps: CliDeps): Promise<number> {
  const root = projectRoot();
  const config = temporalConfigFromEnv();
  const stateDir = path.resolve(opts.stateDir);
  const replicaDir = path.join(stateDir, 'state');
  fs.mkdirSync(stateDir, { recursive: true });

  // Every port is checked before anything starts, so a taken one leaves nothing behind.
  await assertPortsFree([
    { port: opts.routerPort, host: '127.0.0.1', what: 'the router (public, --router-port; router.publicUrl)' },
    { port: opts.adminPort, host: '127.0.0.1', what: 'the router (admin API, --admin-port; router.adminUrl)' },
    { port: opts.platformPort, host: '127.0.0.1', what: 'the stand-in platform server (--platform-port)' },
  ]);
  // What a run stopped half-way left: its replicas, and router rules pointing at them.
  await retireReplicas(replicaDir, deps);
  fs.rmSync(path.join(stateDir, 'router-rules.json'), { force: true });

  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) {
      await stop().catch((err: unknown) => deps.err(`[dev] ${(err as Error).message}\n`));
    }
  };
  const crashed: { name: string; code: number | null }[] = [];
  let onCrash: () => void = () => undefined;
  const watch = (name: string, child: ChildProcess) =>
    child.once('exit', (code) => {
      crashed.push({ name, code });
      onCrash();
    });

  try {
    const temporal = await startTemporal(config, opts, deps);
    if (temporal.child) {
      const child = temporal.child;
      stops.push(() => stopChild(child, 10_000));
      watch('the Temporal dev server', child);
    }

    const { startLocalStack } = await import('../../examples/local-stack');
    const stack = await startLocalStack({
      stateDir,
      modules: opts.modules,
      application: opts.application,
      routerPort: opts.routerPort,
      adminPort: opts.adminPort,
      platformServerEnv: { PORT: String(opts.platformPort) },
    });
    stops.push(() => stack.stop());
    for (const { name, child } of stack.processes) watch(name, child);
    stops.push(() => retireReplicas(replicaDir, deps)); // after the worker stops, before the router does

    const env = { ...process.env, TEMPORAL_ADDRESS: temporal.address, CUTOVER_STATE_DIR: replicaDir };
    const worker = await spawnReady(
      'worker',
      [path.join(root, 'dist', 'worker', 'main.js')],
      env,
      /polling task queue/,
      180_000,
      deps,
    );
    stops.push(() => stopChild(worker.child, 20_000));
    watch('the worker', worker.child);

    const watched = [temporal.child, worker.child, ...stack.processes.map((p) => p.child)];
    let hookLine = '';
    if (opts.hooks) {
      const hooks = await spawnReady(
        'hooks',
        [path.join(root, 'bin', 'cutover.js'), 'hooks', 'serve', '--config', opts.hooks],
        env,
        /cutover hooks serving on/,
        60_000,
        deps,
      );
      stops.push(() => stopChild(hooks.child, 10_000));
      watch('the hook server', hooks.child);
      watched.push(hooks.child);
      hookLine = `  hook server      ${/serving on ([^;\s]+)/.exec(hooks.line)?.[1] ?? hooks.line}`;
    }
    startWatchdog(watched.map((child) => child?.pid).filter((pid): pid is number => typeof pid === 'number'));

    deps.out(
      [
        'cutover dev: ready (Ctrl-C stops everything it started)',
        `  Temporal gRPC    ${temporal.address}${temporal.child ? ' (started here, in memory)' : ' (already running; left alone)'}`,
        `  Temporal UI      ${temporal.uiUrl ?? '(the running server’s own)'}`,
        `  router public    ${stack.publicUrl}`,
        `  router admin     ${stack.adminUrl}`,
        `  platform server  ${stack.platformServerUrl} (${opts.application}: ${opts.modules.join(', ')})`,
        `  worker           task queue "${config.taskQueue}", replicas in ${replicaDir}`,
        ...(hookLine ? [hookLine] : []),
        `  logs             ${stateDir}`,
        '',
      ].join('\n'),
    );

    const crash = new Promise<void>((resolve) => {
      onCrash = resolve;
      if (crashed.length) resolve();
    });
    const signal = await Promise.race([untilSignal(), crash.then(() => undefined)]);
    if (signal) {
      deps.err(`[dev] ${signal}: stopping the worker, replicas, router, platform server and Temporal\n`);
      await stopAll();
      deps.err('[dev] stopped\n');
      return EXIT.ok;
    }
    const what = crashed.map((c) => `${c.name} (exit ${c.code ?? 'signal'})`).join(', ');
    deps.err(`[dev] ${what} stopped unexpectedly: stopping the rest\n`);
    await stopAll();
    return EXIT.deploymentFailed;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

const MODULE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;

function modulesArg(value: string): string[] {
  const modules = value.split(',').map((m) => m.trim());
  if (!modules.length || modules.some((m) => !MODULE_NAME.test(m))) {
    throw new CliError(
      `--modules must be comma-separated module names (as in the spec), got "${value}"`,
      EXIT.badInput,
    );
  }
  return modules;
}

/** Adds `dev` to `program`. */
export function addDevCommand(program: Command, deps: CliDeps, result: { code: number }): void {
  program
    .command('dev')
    .description(
      'start, in the foreground, a Temporal dev server + UI, the local router, a stand-in platform server and a ' +
        'worker (what examples/specs/blue-green.yaml needs); Ctrl-C stops all of it',
    )
    .addOption(
      new Option('--router-port <port>', 'router public port').argParser(portArg).default(DEV_DEFAULTS.routerPort),
    )
    .addOption(
      new Option('--admin-port <port>', 'router admin API port').argParser(portArg).default(DEV_DEFAULTS.adminPort),
    )
    .addOption(
      new Option('--platform-port <port>', 'stand-in platform server port')
        .argParser(portArg)
        .default(DEV_DEFAULTS.platformPort),
    )
    .addOption(
      new Option(
        '--ui-port <port>',
        'Temporal UI port when the dev server is started here (default TEMPORAL_UI_PORT, else 8233)',
      ).argParser(portArg),
    )
    .addOption(
      new Option('--application <name>', 'application the platform server answers for')
        .argParser(labelArg('the application'))
        .default(DEV_DEFAULTS.application),
    )
    .option('--modules <list>', 'its modules, comma-separated', DEV_DEFAULTS.modules.join(','))
    .addOption(new Option('--hooks <config>', 'also run the hook server with this configuration').argParser(fileArg))
    .addOption(
      new Option('--state-dir <dir>', 'logs, router rules, replicas').argParser(fileArg).default(DEV_DEFAULTS.stateDir),
    )
    .action(
      async (o: {
        routerPort: number;
        adminPort: number;
        platformPort: number;
        uiPort?: number;
        application: string;
        modules: string;
        hooks?: string;
        stateDir: string;
      }) => {
        const envUi = process.env.TEMPORAL_UI_PORT;
        let uiPort = o.uiPort;
        if (uiPort === undefined && envUi !== undefined) {
          try {
            uiPort = portArg(envUi);
          } catch {
            throw new CliError(`TEMPORAL_UI_PORT must be a port number, got "${envUi}"`, EXIT.badInput);
          }
        }
        if (o.hooks && !fs.existsSync(o.hooks)) {
          throw new CliError(`--hooks: no such file ${o.hooks}`, EXIT.badInput);
        }
        result.code = await runDev(
          {
            routerPort: o.routerPort,
            adminPort: o.adminPort,
            platformPort: o.platformPort,
            uiPort: uiPort ?? 8233,
            application: o.application,
            modules: modulesArg(o.modules),
            hooks: o.hooks,
            stateDir: o.stateDir,
          },
          deps,
        );
      },
    );
}
