/**
 * The commands that decide on a running deployment, each recorded with who decided: approve, reject, abort and
 * rollback (signals and updates through CutoverClient), dry-run (a canary metric no longer decides), and promote
 * (approve, refused unless exactly that version waits).
 */
import { Option } from 'commander';
import type { Command } from 'commander';
import type { CutoverClient } from '../client';
import { formatHookDeadline } from '../outsystems/deadline';
import { deploymentIdArg, reasonArg, requireBy, versionArg, whoArg } from './args';
import { CliError, EXIT, withClient } from './context';
import type { CliDeps } from './context';

/** Adds the decision commands to `program`. */
export function addDecisionCommands(program: Command, deps: CliDeps): void {
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
}

/** For a deployment started by an OutSystems hook: how long LifeTime still waits for its result. */
async function hookNote(client: CutoverClient, id: string): Promise<string> {
  const status = await client.status(id).catch(() => undefined);
  return status?.hook ? ` (${formatHookDeadline(status.hook)})` : '';
}
