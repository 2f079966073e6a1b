/**
 * `cutover codec-server`: serves the payload codec (docs/operations.md, "Payload encryption") so the Temporal UI
 * and CLI show decrypted payloads to those allowed to reach it. The keys come from the same environment as the
 * worker's (CUTOVER_CODEC_KEYS_FILE or CUTOVER_CODEC_KEYS). The server is loaded when the command runs.
 */
import * as fs from 'node:fs';
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import { fileArg, hostArg, portArg } from './args';
import { CliError, EXIT } from './context';
import type { CliDeps } from './context';

const DEFAULT_ORIGINS = ['http://localhost:8233', 'http://127.0.0.1:8233'];

/** An origin as a browser sends it: scheme, host and port, no path. */
export function originArg(value: string, previous: string[] | undefined): string[] {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || !['http:', 'https:'].includes(url.protocol) || url.origin !== value.replace(/\/$/, '')) {
    throw new InvalidArgumentError('an origin is http(s)://host[:port], without a path (e.g. http://localhost:8233).');
  }
  return [...(previous ?? []), url.origin];
}

function readToken(file: string): string {
  let token: string;
  try {
    token = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new CliError(`--token-file ${file}: cannot read (${(err as Error).message})`, EXIT.badInput);
  }
  if (token === '') throw new CliError(`--token-file ${file}: the file is empty`, EXIT.badInput);
  return token;
}

/** Adds `codec-server` to `program`. */
export function addCodecServerCommand(program: Command, deps: CliDeps): void {
  program
    .command('codec-server')
    .description('serve the payload codec to the Temporal UI and CLI (runs until SIGINT/SIGTERM)')
    .addOption(new Option('--port <port>', 'port to listen on').argParser(portArg).default(8888))
    .addOption(new Option('--host <host>', 'address to bind').argParser(hostArg).default('127.0.0.1'))
    .addOption(
      new Option(
        '--cors-origin <origin>',
        `a browser origin allowed to call (repeatable; default ${DEFAULT_ORIGINS.join(', ')})`,
      ).argParser(originArg),
    )
    .addOption(
      new Option('--token-file <file>', 'require Authorization: Bearer <the file content> on every call').argParser(
        fileArg,
      ),
    )
    .action(async (opts: { port: number; host: string; corsOrigin?: string[]; tokenFile?: string }) => {
      const { codecKeysFromEnv, EncryptionCodec, CODEC_KEYS_ENV, CODEC_KEYS_FILE_ENV } =
        await import('../../shared/codec');
      let keys: ReturnType<typeof codecKeysFromEnv>;
      try {
        keys = codecKeysFromEnv();
      } catch (err) {
        throw new CliError((err as Error).message, EXIT.badInput);
      }
      if (!keys) {
        throw new CliError(
          `codec-server needs the keys: set ${CODEC_KEYS_FILE_ENV} or ${CODEC_KEYS_ENV}`,
          EXIT.badInput,
        );
      }
      const token = opts.tokenFile === undefined ? undefined : readToken(opts.tokenFile);
      const corsOrigins = opts.corsOrigin ?? DEFAULT_ORIGINS;
      const { buildCodecServer } = await import('../codec-server');
      const app = await buildCodecServer({ codec: new EncryptionCodec(keys), corsOrigins, token });
      const address = await app.listen({ port: opts.port, host: opts.host });
      deps.err(
        `cutover codec-server on ${address} (current key ${keys.current}, ${keys.keys.size} key(s); ` +
          `CORS: ${corsOrigins.join(', ')}; ${token ? 'bearer token required' : 'no token'})\n`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await app.close();
    });
}
