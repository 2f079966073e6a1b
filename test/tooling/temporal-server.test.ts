/**
 * The real Temporal servers are there: the dev server from the jest global setup (with Cutover's search attributes
 * and its Web UI), and the time-skipping test server from `make provision`.
 */
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import {
  CUTOVER_SEARCH_ATTRIBUTES,
  createTimeSkippingEnv,
  devServerAddress,
  startDevServer,
  testServerPath,
} from '../support/temporal';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('Temporal dev server (global setup)', () => {
  let connection: Connection;

  beforeAll(async () => {
    connection = await Connection.connect({ address: devServerAddress() });
  });

  afterAll(async () => {
    await connection.close();
  });

  it('answers on TEMPORAL_ADDRESS', async () => {
    const info = await connection.workflowService.getSystemInfo({});
    expect(info.serverVersion).toMatch(/^\d+\.\d+/);
  });

  it('has the five Cutover search attributes registered as Keyword', async () => {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    const keyword = encodeSearchAttributeIndexedValueType(SearchAttributeType.KEYWORD);
    for (const name of CUTOVER_SEARCH_ATTRIBUTES) {
      expect(customAttributes?.[name]).toBe(keyword);
    }
  });

  // TEMPORAL_UI_URL is set when the global setup started the server (or given with an external TEMPORAL_ADDRESS).
  const itWithUi = process.env['TEMPORAL_UI_URL'] ? it : it.skip;
  itWithUi('serves the Web UI', async () => {
    const res = await fetch(process.env['TEMPORAL_UI_URL'] ?? '');
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/<html/i);
  });
});

describe('time-skipping test server', () => {
  let env: TestWorkflowEnvironment;

  beforeAll(async () => {
    env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: testServerPath() } },
    });
  });

  afterAll(async () => {
    await env?.teardown();
  });

  it('skips a day of time in well under a minute', async () => {
    expect(env.supportsTimeSkipping).toBe(true);
    const before = await env.currentTimeMs();
    const wallStart = Date.now();
    await env.sleep(DAY_MS);
    const after = await env.currentTimeMs();
    expect(after - before).toBeGreaterThanOrEqual(DAY_MS);
    expect(Date.now() - wallStart).toBeLessThan(60_000);
  });
});

describe('createTimeSkippingEnv()', () => {
  let env: TestWorkflowEnvironment;

  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });

  afterAll(async () => {
    await env?.teardown();
  });

  it('lets workflows carry the Cutover search attributes', async () => {
    // The server validates search attributes when the workflow starts; no worker is needed for that.
    const handle = await env.client.workflow.start('noSuchWorkflow', {
      taskQueue: 'tooling-search-attributes',
      workflowId: 'tooling-search-attributes',
      typedSearchAttributes: CUTOVER_SEARCH_ATTRIBUTES.map((name) => ({
        key: defineSearchAttributeKey(name, SearchAttributeType.KEYWORD),
        value: `${name}-value`,
      })),
    });
    await handle.terminate('only checking the search attributes');
    const described = await handle.describe();
    expect(described.status.name).toBe('TERMINATED');
  });
});

describe('startDevServer()', () => {
  it('restarts on the same database and keeps the workflows (stop with keepData)', async () => {
    const first = await startDevServer();
    let second: Awaited<ReturnType<typeof startDevServer>> | undefined;
    try {
      const port = Number(first.address.split(':')[1]);
      const connection = await Connection.connect({ address: first.address });
      const client = new Client({ connection });
      await client.workflow.start('noSuchWorkflow', { taskQueue: 'tooling-restart', workflowId: 'survives-restart' });
      await connection.close();
      await first.stop({ keepData: true });

      second = await startDevServer({ dbFilename: first.dbFilename, port });
      const again = await Connection.connect({ address: second.address });
      try {
        const described = await new Client({ connection: again }).workflow.getHandle('survives-restart').describe();
        expect(described.status.name).toBe('RUNNING');
      } finally {
        await again.close();
      }
    } finally {
      await second?.stop();
      await first.stop();
    }
  });
});
