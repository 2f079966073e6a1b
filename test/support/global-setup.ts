/**
 * Jest global setup: checks the build is there and starts ONE real Temporal dev server (with its Web UI and Cutover's
 * search attributes) for the whole run. Tests read its address from TEMPORAL_ADDRESS and the UI from TEMPORAL_UI_URL
 * (environment variables set here reach every test worker). If TEMPORAL_ADDRESS is already set, that server is used.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isReady, startDevServer, type DevServer } from './temporal';

const REPO_ROOT = resolve(__dirname, '..', '..');
/** A file the build emits that integration tests run as a real process. */
const BUILD_MARKER = join('dist', 'examples', 'sample-app', 'server.js');

/** Shared with global-teardown.ts (both run in jest's main process). */
export const DEV_SERVER_KEY = '__cutoverTemporalDevServer';
type WithDevServer = typeof globalThis & { [DEV_SERVER_KEY]?: DevServer };

function log(message: string): void {
  process.stderr.write(`[global-setup] ${message}\n`);
}

export default async function globalSetup(): Promise<void> {
  if (!existsSync(join(REPO_ROOT, BUILD_MARKER))) {
    throw new Error(
      `${BUILD_MARKER} is missing: build first with \`make build\` (\`make test\` builds, then runs jest)`,
    );
  }

  const given = process.env['TEMPORAL_ADDRESS'];
  if (given) {
    if (!(await isReady(given))) {
      throw new Error(
        `TEMPORAL_ADDRESS=${given} does not answer, or lacks the Cutover search attributes ` +
          '(scripts/temporal-server.sh start registers them); unset it to let the tests start their own server',
      );
    }
    log(`using the Temporal server at ${given} (TEMPORAL_ADDRESS)`);
    return;
  }

  const started = Date.now();
  const server = await startDevServer();
  (globalThis as WithDevServer)[DEV_SERVER_KEY] = server;
  // If jest dies without running the teardown, do not leave the server behind.
  process.once('exit', () => {
    if (!(globalThis as WithDevServer)[DEV_SERVER_KEY]) return; // the teardown stopped it
    try {
      process.kill(-server.pid, 'SIGKILL');
    } catch {
      // already stopped
    }
  });
  process.env['TEMPORAL_ADDRESS'] = server.address;
  process.env['TEMPORAL_UI_URL'] = server.uiUrl;
  log(
    `Temporal dev server ready in ${Date.now() - started} ms: ${server.address}, UI ${server.uiUrl} ` +
      `(pid ${server.pid}, log ${server.logFile})`,
  );
}
