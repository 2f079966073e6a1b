/**
 * The `cutover` command line. Exit codes scripts can rely on:
 *   0 success · 1 the deployment ended rolled back or failed · 2 bad input
 *   (spec, arguments) · 3 Temporal unreachable or deployment not found ·
 *   4 refused (already running, promote refused).
 *
 * The program and the deployment commands (validate, deploy, status, list, worker) are here; in client/cli/: the
 * decision commands (decisions.ts), `hooks` (hooks.ts), the argument checks (args.ts), reading a spec file
 * (spec-file.ts), and what every command shares (context.ts: exit codes, CliDeps, a connected client).
 */
import { Command, CommanderError, Option } from 'commander';
import { CutoverClient, DeploymentAlreadyRunningError, SpecInvalidError } from './client';
import type { DeploymentStatus } from './client';
import { deploymentIdArg, fileArg, labelArg } from './cli/args';
import { CliError, EXIT, print, withClient } from './cli/context';
import type { CliDeps } from './cli/context';
import { addCodecServerCommand } from './cli/codec-server';
import { addDecisionCommands } from './cli/decisions';
import { addDevCommand } from './cli/dev';
import { addRouterCommand } from './cli/router';
import { addHookCommands } from './cli/hooks';
import { readValidSpec } from './cli/spec-file';
import { formatHookDeadline } from './outsystems/deadline';
import { formatStatus, ProgressPrinter } from './progress';
import { formatSpecIssues } from '../workflows/spec';

export { EXIT } from './cli/context';
export type { CliDeps } from './cli/context';
export { parseSpecText } from './cli/spec-file';

export const defaultCliDeps: CliDeps = {
  connect: () => CutoverClient.connect(),
  runWorker: async () => {
    const { runWorker } = await import('../worker');
    await runWorker();
  },
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** `untilApproval`: also stop (exit 0) once the deployment waits for an approval. */
async function watchUntilDone(client: CutoverClient, id: string, untilApproval = false): Promise<number> {
  const printer = new ProgressPrinter();
  let last: Awaited<ReturnType<CutoverClient['status']>> | undefined;
  for await (const status of client.watch(id)) {
    printer.update(status);
    last = status;
    if (untilApproval && status.approval.pending && !status.outcome) return EXIT.ok;
  }
  return last?.outcome === 'succeeded' ? EXIT.ok : EXIT.deploymentFailed;
}

/** For a deployment started by an OutSystems hook: how long LifeTime still waits for its result. */
function hookLine(status: DeploymentStatus): string {
  return status.hook ? `\n${formatHookDeadline(status.hook)}` : '';
}

/**
 * The program. Each action sets `result.code` (the exit code); `deps` is what it may contact — never before its
 * arguments and spec are known to be good.
 */
export function buildProgram(deps: CliDeps = defaultCliDeps, result: { code: number } = { code: EXIT.ok }): Command {
  const program = new Command('cutover')
    .description('Zero-downtime blue-green and rolling upgrades, as durable Temporal workflows')
    .configureOutput({ writeOut: deps.out, writeErr: deps.err })
    .showHelpAfterError()
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples:
  cutover dev                                              (Temporal + UI, router, platform server, worker; Ctrl-C stops)
  cutover validate examples/specs/blue-green.yaml
  cutover deploy examples/specs/blue-green.yaml --watch
  cutover status deploy-production-shop --watch
  cutover status deploy-production-shop --watch --until-approval   (returns at the gate)
  cutover approve deploy-production-shop --by alice --version 2.0.0
  cutover promote deploy-production-shop --by alice --version 2.0.0
  cutover rollback deploy-production-shop --by alice --reason "checkout errors"
  cutover deploy examples/specs/rolling.yaml --watch      (rolling update: batch i/n as it goes)
  cutover approve deploy-production-shop --by alice --version 2.1.0   (passes a rolling pause)
  cutover abort deploy-production-shop --by alice         (rolling: the replaced replicas are rolled back)

Connection (environment): TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE,
  TEMPORAL_TLS_CA / TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY (mTLS), TEMPORAL_API_KEY(_FILE).
Payload encryption: CUTOVER_CODEC_KEYS_FILE or CUTOVER_CODEC_KEYS (docs/operations.md).
Exit codes: 0 ok, 1 deployment rolled back/failed, 2 bad input, 3 unreachable/not found, 4 refused.`,
    );

  program
    .command('validate')
    .description('check a spec file and print it with defaults filled in; starts nothing')
    .argument('<spec>', 'deployment spec (YAML or JSON)', fileArg)
    .option('--json', 'machine-readable output')
    .action((file: string, opts: { json?: boolean }) => {
      const { spec } = readValidSpec(file);
      print(deps, Boolean(opts.json), spec, () => `${file}: valid\n${JSON.stringify(spec, null, 2)}`);
    });

  program
    .command('deploy')
    .description('validate a spec and start its deployment')
    .argument('<spec>', 'deployment spec (YAML or JSON)', fileArg)
    .option('--watch', 'follow progress until the deployment ends (exit 1 unless it succeeds)')
    .addOption(
      new Option(
        '--id <deploymentId>',
        'override the deployment id (default deploy-<environment>-<application>)',
      ).argParser(deploymentIdArg),
    )
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts: { watch?: boolean; id?: string; json?: boolean }) => {
      // Validated before Temporal is contacted: a bad spec exits 2 naming its fields, reachable server or not.
      const { spec } = readValidSpec(file);
      result.code = await withClient(deps, async (client) => {
        const started = await client.deploy(spec, { deploymentId: opts.id });
        print(
          deps,
          Boolean(opts.json),
          started,
          () => `started ${started.deploymentId} (${started.spec.application} ${started.spec.version})`,
        );
        return opts.watch ? watchUntilDone(client, started.deploymentId) : EXIT.ok;
      });
    });

  program
    .command('status')
    .description('phase, steps, replicas, live color and pending approval of a deployment')
    .argument('<deploymentId>', 'the deployment (cutover list shows them)', deploymentIdArg)
    .option('--watch', 'live progress until the deployment ends')
    .option('--until-approval', 'with --watch: stop (exit 0) once it waits for an approval, if it does before it ends')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { watch?: boolean; untilApproval?: boolean; json?: boolean }) => {
      if (opts.untilApproval && !opts.watch) throw new CliError('--until-approval needs --watch', EXIT.badInput);
      result.code = await withClient(deps, async (client) => {
        if (opts.watch && !opts.json) return watchUntilDone(client, id, opts.untilApproval);
        if (opts.watch) {
          let last;
          for await (const status of client.watch(id)) {
            deps.out(`${JSON.stringify(status)}\n`);
            last = status;
            if (opts.untilApproval && status.approval.pending && !status.outcome) return EXIT.ok;
          }
          return last?.outcome === 'succeeded' ? EXIT.ok : EXIT.deploymentFailed;
        }
        const status = await client.status(id);
        print(deps, Boolean(opts.json), status, () => `${formatStatus(status)}${hookLine(status)}`);
        return EXIT.ok;
      });
    });

  program
    .command('list')
    .description('recent deployments, newest first')
    .addOption(new Option('--application <name>').argParser(labelArg('the application')))
    .addOption(new Option('--environment <name>').argParser(labelArg('the environment')))
    .option('--json', 'machine-readable output')
    .action(async (opts: { application?: string; environment?: string; json?: boolean }) => {
      await withClient(deps, async (client) => {
        const rows = await client.list(opts);
        print(deps, Boolean(opts.json), rows, () =>
          rows
            .map(
              (r) =>
                `${r.deploymentId}\t${r.status}\t${r.phase ?? '-'}\t${r.version ?? '-'}\t${r.startTime.toISOString()}`,
            )
            .join('\n'),
        );
      });
    });

  addDecisionCommands(program, deps);
  addHookCommands(program, deps);
  addDevCommand(program, deps, result);
  addRouterCommand(program, deps);
  addCodecServerCommand(program, deps);

  program
    .command('worker')
    .description('run a worker (polls the task queue until SIGINT/SIGTERM)')
    .action(async () => {
      await deps.runWorker();
    });

  return program;
}

/** Runs the CLI on `argv` (process.argv shape) and returns its exit code; never throws, never exits the process. */
export async function main(argv: string[], deps: CliDeps = defaultCliDeps): Promise<number> {
  const result = { code: EXIT.ok as number };
  const program = buildProgram(deps, result);
  try {
    await program.parseAsync(argv);
    return result.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    }
    if (err instanceof SpecInvalidError) {
      deps.err(`error: ${err.issues.length} problem(s) in the spec:\n`);
      for (const issue of err.issues) deps.err(`  ${issue.field}: ${issue.message}\n`);
      return EXIT.badInput;
    }
    if (err instanceof DeploymentAlreadyRunningError) {
      deps.err(`error: ${err.message}\n`);
      return EXIT.refused;
    }
    if (err instanceof CliError) {
      deps.err(`error: ${err.message}\n`);
      return err.exitCode;
    }
    const name = (err as Error)?.name;
    if (name === 'WorkflowNotFoundError' || /not found/i.test((err as Error)?.message ?? '')) {
      deps.err(`error: ${(err as Error).message}\n`);
      return EXIT.unreachable;
    }
    deps.err(`error: ${(err as Error)?.message ?? String(err)}\n`);
    return EXIT.deploymentFailed;
  }
}

export { formatSpecIssues };
