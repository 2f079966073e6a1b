/**
 * The real Temporal servers tests run against.
 *
 * - `devServerAddress()`: the dev server (Temporal CLI `server start-dev`) that the jest global setup starts once per
 *   run, or the one named by `TEMPORAL_ADDRESS` when that is set before jest starts.
 * - `testServerPath()`: the time-skipping test server binary, for
 *   `TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path } } })`.
 * - `startDevServer()`: start another dev server (own ports, own database), e.g. to restart one mid-test.
 *
 * Binaries always come from `make provision` (scripts/tools.ts): the SDK is never allowed to download a server.
 */
import type { Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { CUTOVER_SEARCH_ATTRIBUTES } from '../../scripts/dev-server';
import { toolPath } from '../../scripts/tools';

// The dev server starter lives in scripts/ so that bench/ uses the same one.
export { CUTOVER_SEARCH_ATTRIBUTES, freePort, isReady, startDevServer } from '../../scripts/dev-server';
export type { DevServer, DevServerOptions } from '../../scripts/dev-server';

/** host:port of the dev server started by the jest global setup (or given in TEMPORAL_ADDRESS). */
export function devServerAddress(): string {
  const address = process.env['TEMPORAL_ADDRESS'];
  if (!address) {
    throw new Error('TEMPORAL_ADDRESS is not set: run tests through jest (its global setup starts a dev server)');
  }
  return address;
}

/** The dev server's Web UI, e.g. http://127.0.0.1:41234 (unset when an external TEMPORAL_ADDRESS was given alone). */
export function temporalUiUrl(): string {
  const url = process.env['TEMPORAL_UI_URL'];
  if (!url) throw new Error('TEMPORAL_UI_URL is not set: this run uses an external Temporal server without a UI URL');
  return url;
}

/** The time-skipping test server executable (`TEMPORAL_TEST_SERVER_BIN`, else `.cutover/tools.env`). */
export function testServerPath(): string {
  return toolPath('temporal-test-server');
}

/**
 * Registers Cutover's search attributes (Keyword) on a server that does not have them yet. The time-skipping test
 * server starts without them and rejects workflows that set them ("search attribute ... is not defined").
 */
export async function registerSearchAttributes(connection: Connection, namespace = 'default'): Promise<void> {
  const keyword = encodeSearchAttributeIndexedValueType(SearchAttributeType.KEYWORD)!;
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(CUTOVER_SEARCH_ATTRIBUTES.map((name) => [name, keyword])),
  });
}

/** A time-skipping environment on the provisioned test server, with Cutover's search attributes registered. */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: testServerPath() } },
  });
  try {
    await registerSearchAttributes(env.connection);
  } catch (err) {
    await env.teardown();
    throw err;
  }
  return env;
}
