/**
 * `cutover hooks`: the OutSystems deployment-zone hooks (docs/outsystems-hooks.md). The hook server is loaded when
 * the command runs, so the other commands never load it.
 */
import { Option } from 'commander';
import type { Command } from 'commander';
import { fileArg, hostArg, portArg } from './args';
import { CliError, EXIT } from './context';
import type { CliDeps } from './context';

/** Adds `hooks` and its subcommands to `program`. */
export function addHookCommands(program: Command, deps: CliDeps): void {
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
      const { serveHooks } = await import('../outsystems/serve');
      try {
        // The configuration is read and checked before Temporal is contacted.
        await serveHooks({ configFile: opts.config, port: opts.port, host: opts.host, connect: deps.connect });
      } catch (err) {
        if ((err as Error).name === 'HookConfigError') throw new CliError((err as Error).message, EXIT.badInput);
        throw err;
      }
    });
}
