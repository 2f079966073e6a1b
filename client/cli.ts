/**
 * The `cutover` command line. Exit codes scripts can rely on:
 *   0 success · 1 the deployment ended rolled back or failed · 2 bad input
 *   (spec, arguments) · 3 Temporal unreachable or deployment not found ·
 *   4 refused (already running, promote refused).
 */
import * as fs from 'node:fs';
import { Command, CommanderError } from 'commander';
import { parse as parseYaml } from 'yaml';
import { CutoverClient, DeploymentAlreadyRunningError, SpecInvalidError } from './client';
import type { DeploymentStatus } from './client';
import { formatHookDeadline } from './hooks/deadline';
import { formatStatus, ProgressPrinter } from './progress';
import { formatSpecIssues, validateSpec } from '../workflows/spec';

export const EXIT = { ok: 0, deploymentFailed: 1, badInput: 2, unreachable: 3, refused: 4 } as const;

class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

function readSpecFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, EXIT.badInput);
  }
  try {
    return parseYaml(text);
  } catch (err) {
    throw new CliError(`${file} is not valid YAML: ${(err as Error).message}`, EXIT.badInput);
  }
}

function print(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(`${json ? JSON.stringify(value, null, 2) : human()}\n`);
}

async function withClient<T>(fn: (client: CutoverClient) => Promise<T>): Promise<T> {
  let client: CutoverClient;
  try {
    client = await CutoverClient.connect();
  } catch (err) {
    throw new CliError(
      `cannot reach Temporal at ${process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233'}: ${(err as Error).message}`,
      EXIT.unreachable,
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

async function watchUntilDone(client: CutoverClient, id: string): Promise<number> {
  const printer = new ProgressPrinter();
  let last: Awaited<ReturnType<CutoverClient['status']>> | undefined;
  for await (const status of client.watch(id)) {
    printer.update(status);
    last = status;
  }
  return last?.outcome === 'succeeded' ? EXIT.ok : EXIT.deploymentFailed;
}

/** For a deployment started by an OutSystems hook: how long LifeTime still waits for its result. */
function hookLine(status: DeploymentStatus): string {
  return status.hook ? `\n${formatHookDeadline(status.hook)}` : '';
}

async function hookNote(client: CutoverClient, id: string): Promise<string> {
  const status = await client.status(id).catch(() => undefined);
  return status?.hook ? ` (${formatHookDeadline(status.hook)})` : '';
}

function requireBy(by: string | undefined): string {
  const who = by ?? process.env.CUTOVER_USER ?? process.env.USER;
  if (!who) throw new CliError('--by <who> is required (or set CUTOVER_USER)', EXIT.badInput);
  return who;
}

export function buildProgram(): Command {
  const program = new Command('cutover')
    .description('Zero-downtime blue-green and rolling upgrades, as durable Temporal workflows')
    .showHelpAfterError()
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples:
  cutover validate examples/specs/blue-green.yaml
  cutover deploy examples/specs/blue-green.yaml --watch
  cutover status deploy-production-shop --watch
  cutover approve deploy-production-shop --by alice --version 2.0.0
  cutover promote deploy-production-shop --by alice --version 2.0.0
  cutover rollback deploy-production-shop --by alice --reason "checkout errors"
  cutover deploy examples/specs/rolling.yaml --watch      (rolling update: batch i/n as it goes)
  cutover approve deploy-production-shop --by alice --version 2.1.0   (passes a rolling pause)
  cutover abort deploy-production-shop --by alice         (rolling: the replaced replicas are rolled back)

Connection (environment): TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE,
  TEMPORAL_TLS_CA / TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY (mTLS), TEMPORAL_API_KEY(_FILE).
Exit codes: 0 ok, 1 deployment rolled back/failed, 2 bad input, 3 unreachable/not found, 4 refused.`,
    );

  program
    .command('validate')
    .description('check a spec file and print it with defaults filled in; starts nothing')
    .argument('<spec>', 'deployment spec (YAML or JSON)')
    .option('--json', 'machine-readable output')
    .action((file: string, opts: { json?: boolean }) => {
      const result = validateSpec(readSpecFile(file));
      if (!result.ok) throw new SpecInvalidError(result.issues);
      print(Boolean(opts.json), result.spec, () => `${file}: valid\n${JSON.stringify(result.spec, null, 2)}`);
    });

  program
    .command('deploy')
    .description('validate a spec and start its deployment')
    .argument('<spec>', 'deployment spec (YAML or JSON)')
    .option('--watch', 'follow progress until the deployment ends (exit 1 unless it succeeds)')
    .option('--id <deploymentId>', 'override the deployment id (default deploy-<environment>-<application>)')
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts: { watch?: boolean; id?: string; json?: boolean }) => {
      const raw = readSpecFile(file);
      const code = await withClient(async (client) => {
        const started = await client.deploy(raw, { deploymentId: opts.id });
        print(
          Boolean(opts.json),
          started,
          () => `started ${started.deploymentId} (${started.spec.application} ${started.spec.version})`,
        );
        return opts.watch ? watchUntilDone(client, started.deploymentId) : EXIT.ok;
      });
      process.exitCode = code;
    });

  program
    .command('status')
    .description('phase, steps, replicas, live color and pending approval of a deployment')
    .argument('<deploymentId>')
    .option('--watch', 'live progress until the deployment ends')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { watch?: boolean; json?: boolean }) => {
      const code = await withClient(async (client) => {
        if (opts.watch && !opts.json) return watchUntilDone(client, id);
        if (opts.watch) {
          let last;
          for await (const status of client.watch(id)) {
            process.stdout.write(`${JSON.stringify(status)}\n`);
            last = status;
          }
          return last?.outcome === 'succeeded' ? EXIT.ok : EXIT.deploymentFailed;
        }
        const status = await client.status(id);
        print(Boolean(opts.json), status, () => `${formatStatus(status)}${hookLine(status)}`);
        return EXIT.ok;
      });
      process.exitCode = code;
    });

  program
    .command('list')
    .description('recent deployments, newest first')
    .option('--application <name>')
    .option('--environment <name>')
    .option('--json', 'machine-readable output')
    .action(async (opts: { application?: string; environment?: string; json?: boolean }) => {
      await withClient(async (client) => {
        const rows = await client.list(opts);
        print(Boolean(opts.json), rows, () =>
          rows
            .map(
              (r) =>
                `${r.deploymentId}\t${r.status}\t${r.phase ?? '-'}\t${r.version ?? '-'}\t${r.startTime.toISOString()}`,
            )
            .join('\n'),
        );
      });
    });

  const decision = (
    name: string,
    description: string,
    act: (c: CutoverClient, id: string, by: string, o: Record<string, string | undefined>) => Promise<void>,
  ) =>
    program
      .command(name)
      .description(description)
      .argument('<deploymentId>')
      .option('--by <who>', 'who decides (default $CUTOVER_USER or $USER); recorded in the audit trail')
      .option('--reason <text>')
      .option('--version <version>', 'the version you mean (refused if another is waiting)')
      .action(async (id: string, opts: Record<string, string | undefined>) => {
        const by = requireBy(opts.by);
        const note = await withClient(async (client) => {
          await act(client, id, by, opts);
          return hookNote(client, id);
        });
        process.stdout.write(`${name} sent to ${id}${note}\n`);
      });

  decision('approve', 'approve the deployment waiting at its approval gate', (c, id, by, o) =>
    c.approve(id, { by, version: o.version, comment: o.reason }),
  );
  decision('reject', 'reject at the approval gate: the deployment rolls back', (c, id, by, o) =>
    c.reject(id, { by, reason: o.reason }),
  );
  decision('abort', 'abort at any stage: everything done so far is undone', (c, id, by, o) =>
    c.abort(id, { by, reason: o.reason }),
  );
  decision('rollback', 'switch back to the previous version during the rollback window', (c, id, by, o) =>
    c.rollback(id, { by, reason: o.reason }),
  );

  program
    .command('promote')
    .description('approve with confirmation: refused unless exactly this version waits for approval')
    .argument('<deploymentId>')
    .requiredOption('--version <version>', 'the version to promote')
    .option('--by <who>')
    .option('--reason <text>')
    .action(async (id: string, opts: { version: string; by?: string; reason?: string }) => {
      const by = requireBy(opts.by);
      await withClient(async (client) => {
        try {
          const result = await client.promote(id, { by, version: opts.version, comment: opts.reason });
          process.stdout.write(`promoted ${result.version} (${id})${await hookNote(client, id)}\n`);
        } catch (err) {
          const cause = (err as { cause?: Error }).cause;
          throw new CliError(cause?.message ?? (err as Error).message, EXIT.refused);
        }
      });
    });

  const hooks = program.command('hooks').description('the OutSystems deployment-zone hooks (docs/outsystems-hooks.md)');
  hooks
    .command('serve')
    .description('serve the four Automatic-mode hook endpoints (runs until SIGINT/SIGTERM)')
    .requiredOption('--config <file>', 'hook configuration (YAML), e.g. examples/hooks.yaml')
    .option('--port <port>', 'port to listen on (default: server.port of the configuration, else 8480)')
    .option('--host <host>', 'address to bind (default: server.host of the configuration, else 127.0.0.1)')
    .action(async (opts: { config: string; port?: string; host?: string }) => {
      const { serveHooks } = await import('./hooks/serve');
      const port = opts.port === undefined ? undefined : Number(opts.port);
      if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65_535)) {
        throw new CliError(`--port must be a port number, got "${opts.port}"`, EXIT.badInput);
      }
      try {
        await serveHooks({ configFile: opts.config, port, host: opts.host });
      } catch (err) {
        if ((err as Error).name === 'HookConfigError') throw new CliError((err as Error).message, EXIT.badInput);
        throw err;
      }
    });

  program
    .command('worker')
    .description('run a worker (polls the task queue until SIGINT/SIGTERM)')
    .action(async () => {
      const { runWorker } = await import('../worker');
      await runWorker();
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    }
    if (err instanceof SpecInvalidError) {
      process.stderr.write(`error: ${err.issues.length} problem(s) in the spec:\n`);
      for (const issue of err.issues) process.stderr.write(`  ${issue.field}: ${issue.message}\n`);
      return EXIT.badInput;
    }
    if (err instanceof DeploymentAlreadyRunningError) {
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT.refused;
    }
    if (err instanceof CliError) {
      process.stderr.write(`error: ${err.message}\n`);
      return err.exitCode;
    }
    const name = (err as Error)?.name;
    if (name === 'WorkflowNotFoundError' || /not found/i.test((err as Error)?.message ?? '')) {
      process.stderr.write(`error: ${(err as Error).message}\n`);
      return EXIT.unreachable;
    }
    process.stderr.write(`error: ${(err as Error)?.message ?? String(err)}\n`);
    return EXIT.deploymentFailed;
  }
}

export { formatSpecIssues };
