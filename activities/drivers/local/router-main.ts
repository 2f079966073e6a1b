/**
 * Runs the local router as a process:
 *
 *   node dist/activities/drivers/local/router-main.js --port 8080 --admin-port 8081 \
 *     --state-file .cutover/router.json --default-target http://127.0.0.1:9000 \
 *     [--host 0.0.0.0] [--preview-header x-cutover-preview] [--sticky]
 *
 * --sticky pins each client to one backend of a rule that lists several (a canary split) with a `cutover-backend`
 * cookie scoped to the module's path; without it every request gets its own weighted pick.
 *
 * Prints one JSON line {"port":..,"adminPort":..} on stdout once both ports
 * listen (ports may be 0 = any free port). SIGTERM/SIGINT close it gracefully
 * (in-flight requests finish); a second signal exits at once.
 */
import { parseArgs } from 'node:util';
import { startRouterServer } from './router-server';

function port(name: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < 0 || n > 65_535) {
    throw new Error(`--${name} must be a port number (0 = any free port), got ${value ?? 'nothing'}`);
  }
  return n;
}

function required(name: string, value: string | undefined): string {
  if (!value) throw new Error(`--${name} is required`);
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'admin-port': { type: 'string' },
      host: { type: 'string' },
      'state-file': { type: 'string' },
      'default-target': { type: 'string' },
      'preview-header': { type: 'string' },
      sticky: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const server = await startRouterServer({
    port: port('port', values.port),
    adminPort: port('admin-port', values['admin-port']),
    host: values.host,
    stateFile: required('state-file', values['state-file']),
    defaultTarget: required('default-target', values['default-target']),
    previewHeader: values['preview-header'],
    sticky: values.sticky,
  });
  process.stdout.write(`${JSON.stringify({ port: server.port, adminPort: server.adminPort })}\n`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) process.exit(1);
    stopping = true;
    process.stderr.write(`router: ${signal}, closing (in-flight requests finish)\n`);
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`router: close failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`router: ${(err as Error | undefined)?.message ?? String(err)}\n`);
  process.exit(1);
});
