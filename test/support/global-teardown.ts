/** Jest global teardown: stops the Temporal dev server that global-setup.ts started (if it started one). */
import type { DevServer } from './temporal';
import { DEV_SERVER_KEY } from './global-setup';

type WithDevServer = typeof globalThis & { [DEV_SERVER_KEY]?: DevServer };

export default async function globalTeardown(): Promise<void> {
  const holder = globalThis as WithDevServer;
  const server = holder[DEV_SERVER_KEY];
  if (!server) return;
  delete holder[DEV_SERVER_KEY];
  await server.stop();
}
