/**
 * `cutover router`: the embedded local router (Main Load Balancer and Reverse Proxy) on its own, in the foreground —
 * what `node dist/activities/drivers/local/router-main.js` runs, with defaults matching examples/specs/blue-green.yaml
 * (public 18080, admin 18081). Prints one JSON line {"port":..,"adminPort":..} on stdout once both ports listen;
 * SIGINT/SIGTERM close it (in-flight requests finish).
 */
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import { fileArg, hostArg, portArg } from './args';
import { assertPortsFree, untilSignal } from './dev';
import type { CliDeps } from './context';
import type { RouterServerOptions } from '../../activities/drivers/local/router-server';

export const ROUTER_DEFAULTS = { port: 18080, adminPort: 18081, stateFile: '.cutover/router.json' } as const;

type RouterOptions = Pick<
  RouterServerOptions,
  'port' | 'adminPort' | 'host' | 'stateFile' | 'defaultTarget' | 'previewHeader' | 'sticky'
>;

function urlArg(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('the default target must be an http(s) URL.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError('the default target must be an http(s) URL.');
  }
  return value;
}

/** Adds `router` to `program`. */
export function addRouterCommand(program: Command, deps: CliDeps): void {
  program
    .command('router')
    .description('run the embedded local router (public proxy + admin API) until SIGINT/SIGTERM')
    .addOption(
      new Option('--port <port>', 'public (traffic) port; 0 = any free port')
        .argParser(portArg)
        .default(ROUTER_DEFAULTS.port),
    )
    .addOption(
      new Option('--admin-port <port>', 'admin API port (always on 127.0.0.1); 0 = any free port')
        .argParser(portArg)
        .default(ROUTER_DEFAULTS.adminPort),
    )
    .addOption(new Option('--host <host>', 'address the public port binds (default 127.0.0.1)').argParser(hostArg))
    .addOption(
      new Option('--state-file <file>', 'where the rules are kept (loaded at start)')
        .argParser(fileArg)
        .default(ROUTER_DEFAULTS.stateFile),
    )
    .addOption(
      new Option('--default-target <url>', 'where paths without a rule go: the platform server')
        .argParser(urlArg)
        .makeOptionMandatory(),
    )
    .option('--preview-header <name>', 'header that marks preview requests (default x-cutover-preview)')
    .option('--sticky', 'pin each client to one backend of a split rule (cookie)')
    .action(async (opts: RouterOptions) => {
      await assertPortsFree([
        { port: opts.port, host: opts.host ?? '127.0.0.1', what: 'the router (public, --port)' },
        { port: opts.adminPort, host: '127.0.0.1', what: 'the router (admin API, --admin-port)' },
      ]);
      const { startRouterServer } = await import('../../activities/drivers/local/router-server');
      const server = await startRouterServer({ ...opts, sticky: Boolean(opts.sticky) });
      deps.out(`${JSON.stringify({ port: server.port, adminPort: server.adminPort })}\n`);
      const host = opts.host ?? '127.0.0.1';
      deps.err(
        `router: public http://${host}:${server.port}, admin http://127.0.0.1:${server.adminPort}, ` +
          `default rule -> ${opts.defaultTarget}, rules in ${opts.stateFile}\n`,
      );
      const signal = await untilSignal();
      deps.err(`router: ${signal}, closing (in-flight requests finish)\n`);
      await server.close();
    });
}
