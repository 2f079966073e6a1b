/**
 * `cutover hooks serve`: loads the hook configuration and the token, connects
 * to Temporal, and serves the hook endpoints until SIGINT/SIGTERM.
 */
import { CutoverClient } from '../client';
import { loadHookConfig, loadHookToken } from './config';
import { buildHookServer, hookPath } from './server';
import { HOOK_STAGE_NAMES, HOOK_STAGES } from '../../workflows/outsystems/types';

export interface ServeOptions {
  configFile: string;
  port?: number;
  host?: string;
  /** How to reach Temporal (after the configuration and the token are known to be good). */
  connect?: () => Promise<CutoverClient>;
}

export async function serveHooks(options: ServeOptions): Promise<void> {
  const config = loadHookConfig(options.configFile);
  const token = loadHookToken(config);
  const client = await (options.connect ?? (() => CutoverClient.connect()))();
  const app = await buildHookServer({ config, token, client });
  const host = options.host ?? config.server.host;
  const address = await app.listen({ port: options.port ?? config.server.port, host });
  const lines = [`cutover hooks serving on ${address}; deployment zone trigger URLs:`];
  for (const stage of HOOK_STAGE_NAMES) {
    lines.push(
      `  ${HOOK_STAGES[stage].title.padEnd(22)} ${address}${hookPath(stage)}?${config.auth.queryParameter}=<token>`,
    );
  }
  process.stderr.write(`${lines.join('\n')}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await app.close();
  await client.close();
}
