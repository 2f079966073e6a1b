/**
 * The `cutover` command line. Exit codes scripts can rely on:
 *   0 success · 1 the deployment ended rolled back or failed · 2 bad input
 *   (spec, arguments) · 3 Temporal unreachable or deployment not found ·
 *   4 refused (already running, promote refused).
 */
import * as fs from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { CutoverClient, DeploymentAlreadyRunningError, SpecInvalidError } from './client';
import type { DeploymentStatus } from './client';
import { formatHookDeadline } from './outsystems/deadline';
import { formatStatus, ProgressPrinter } from './progress';
import { formatSpecIssues, SPEC_LIMITS, validateSpec } from '../workflows/spec';

export const EXIT = { ok: 0, deploymentFailed: 1, badInput: 2, unreachable: 3, refused: 4 } as const;

class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** What the CLI reaches outside itself; tests replace it (nothing may be contacted for bad input). */
export interface CliDeps {
  /** Connects to Temporal (TEMPORAL_* environment). */
  connect: () => Promise<CutoverClient>;
  /** `cutover worker`. */
  runWorker: () => Promise<void>;
  out: (text: string) => void;
  err: (text: string) => void;
}

export const defaultCliDeps: CliDeps = {
  connect: () => CutoverClient.connect(),
  runWorker: async () => {
    const { runWorker } = await import('../worker');
    await runWorker();
  },
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/**
 * The spec in a file's text (YAML, of which JSON is a subset): refused before parsing when larger than
 * SPEC_LIMITS.fileBytes, and when it is not one YAML document. `source` names the file in messages.
 */
export function parseSpecText(text: string, source: string): unknown {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > SPEC_LIMITS.fileBytes) throw tooLarge(source, bytes);
  try {
    // Warnings (e.g. a collection used as a key) are not worth a line on stderr: the schema names what is wrong.
    return parseYaml(text, { logLevel: 'error' });
  } catch (err) {
    throw new CliError(`${source} is not valid YAML: ${(err as Error).message}`, EXIT.badInput);
  }
}

function tooLarge(source: string, bytes: number): CliError {
  const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return new CliError(
    `${source} is ${mib(bytes)}; a spec file may be at most ${mib(SPEC_LIMITS.fileBytes)} (a spec is a few KiB)`,
    EXIT.badInput,
  );
}

function readSpecFile(file: string): unknown {
  let text: string;
  try {
    const size = fs.statSync(file).size;
    if (size > SPEC_LIMITS.fileBytes) throw tooLarge(file, size);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, EXIT.badInput);
  }
  return parseSpecText(text, file);
}

/** Reads and validates a spec file; a bad one is refused here, before anything is contacted. */
function readValidSpec(file: string): ReturnType<typeof validateSpec> & { ok: true } {
  const result = validateSpec(readSpecFile(file));
  if (!result.ok) throw new SpecInvalidError(result.issues);
  return result;
}

// ---- argument checks: a bad value exits 2 naming the argument or option, before anything is contacted ----

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function text(what: string, max: number, { empty = false } = {}) {
  return (value: string): string => {
    if (!empty && value.trim() === '') throw new InvalidArgumentError(`${what} may not be empty.`);
    if (value.length > max) throw new InvalidArgumentError(`${what} must be at most ${max} characters.`);
    if (CONTROL.test(value)) throw new InvalidArgumentError(`${what} must not contain control characters.`);
    return value;
  };
}

function matching(what: string, re: RegExp, expected: string) {
  return (value: string): string => {
    if (!re.test(value)) throw new InvalidArgumentError(`${what} must be ${expected}.`);
    return value;
  };
}

/** A Temporal workflow id (at most 1,000 characters, the server's limit). */
const deploymentIdArg = text('a deployment id', 1000);
const whoArg = text('who decides', 200);
const reasonArg = text('the reason', 1000, { empty: true });
const fileArg = text('a file name', 4096);
const versionArg = matching(
  'the version',
  /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/,
  'letters, digits, ".", "_" and "-" (at most 63, as in the spec)',
);
const labelArg = (what: string) =>
  matching(what, /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/, 'lower-case letters, digits and dashes (as in the spec)');
const portArg = (value: string): number => {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 0 && port <= 65_535)) throw new InvalidArgumentError('the port must be a number from 0 to 65535.');
  return port;
};
const hostArg = matching('the host', /^[A-Za-z0-9.:[\]_-]{1,253}$/, 'a host name or IP address');

function print(deps: CliDeps, json: boolean, value: unknown, human: () => string): void {
  deps.out(`${json ? JSON.stringify(value, null, 2) : human()}\n`);
}

async function withClient<T>(deps: CliDeps, fn: (client: CutoverClient) => Promise<T>): Promise<T> {
  let client: CutoverClient;
  try {
    client = await deps.connect();
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
  try {
    return whoArg(who);
  } catch (err) {
    throw new CliError(`--by (from $CUTOVER_USER / $USER): ${(err as Error).message}`, EXIT.badInput);
  }
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
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { watch?: boolean; json?: boolean }) => {
      result.code = await withClient(deps, async (client) => {
        if (opts.watch && !opts.json) return watchUntilDone(client, id);
        if (opts.watch) {
          let last;
          for await (const status of client.watch(id)) {
            deps.out(`${JSON.stringify(status)}\n`);
            last = status;
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

  const decision = (
    name: string,
    description: string,
    act: (c: CutoverClient, id: string, by: string, o: Record<string, string | undefined>) => Promise<void>,
  ) =>
    program
      .command(name)
      .description(description)
      .argument('<deploymentId>', 'the deployment', deploymentIdArg)
      .addOption(
        new Option('--by <who>', 'who decides (default $CUTOVER_USER or $USER); recorded in the audit trail').argParser(
          whoArg,
        ),
      )
      .addOption(new Option('--reason <text>').argParser(reasonArg))
      .addOption(
        new Option('--version <version>', 'the version you mean (refused if another is waiting)').argParser(versionArg),
      )
      .action(async (id: string, opts: Record<string, string | undefined>) => {
        const by = requireBy(opts.by);
        const note = await withClient(deps, async (client) => {
          await act(client, id, by, opts);
          return hookNote(client, id);
        });
        deps.out(`${name} sent to ${id}${note}\n`);
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
    .command('dry-run')
    .description('canary releases: a metric is still measured and shown, but no longer decides (recorded)')
    .argument('<deploymentId>', 'the deployment', deploymentIdArg)
    .argument('<metric>', "the analysis metric's name")
    .addOption(new Option('--by <who>').argParser(whoArg))
    .addOption(new Option('--reason <text>').argParser(reasonArg))
    .action(async (id: string, metric: string, opts: { by?: string; reason?: string }) => {
      const by = requireBy(opts.by);
      await withClient(deps, (client) => client.metricDryRun(id, { metric, by, reason: opts.reason }));
      deps.out(`metric ${metric} of ${id} switched to dry run\n`);
    });

  program
    .command('promote')
    .description('approve with confirmation: refused unless exactly this version waits for approval')
    .argument('<deploymentId>', 'the deployment', deploymentIdArg)
    .addOption(new Option('--version <version>', 'the version to promote').argParser(versionArg).makeOptionMandatory())
    .addOption(new Option('--by <who>').argParser(whoArg))
    .addOption(new Option('--reason <text>').argParser(reasonArg))
    .action(async (id: string, opts: { version: string; by?: string; reason?: string }) => {
      const by = requireBy(opts.by);
      await withClient(deps, async (client) => {
        try {
          const promoted = await client.promote(id, { by, version: opts.version, comment: opts.reason });
          deps.out(`promoted ${promoted.version} (${id})${await hookNote(client, id)}\n`);
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
    .addOption(
      new Option('--config <file>', 'hook configuration (YAML), e.g. examples/hooks.yaml')
        .argParser(fileArg)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--port <port>', 'port to listen on (default: server.port of the configuration, else 8480)').argParser(
        portArg,
      ),
    )
    .addOption(
      new Option(
        '--host <host>',
        'address to bind (default: server.host of the configuration, else 127.0.0.1)',
      ).argParser(hostArg),
    )
    .action(async (opts: { config: string; port?: number; host?: string }) => {
      const { serveHooks } = await import('./outsystems/serve');
      try {
        // The configuration is read and checked before Temporal is contacted.
        await serveHooks({ configFile: opts.config, port: opts.port, host: opts.host, connect: deps.connect });
      } catch (err) {
        if ((err as Error).name === 'HookConfigError') throw new CliError((err as Error).message, EXIT.badInput);
        throw err;
      }
    });

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
