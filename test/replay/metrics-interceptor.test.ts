/**
 * The deployment-metrics workflow interceptor (workflows/metrics-interceptor.ts) commands nothing: every recorded
 * history still replays without nondeterminism with it bundled in, as the worker process bundles it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';

const HISTORIES = join(__dirname, 'histories');

test('every recorded history replays with the metrics interceptor bundled', async () => {
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    workflowInterceptorModules: [require.resolve('../../workflows/metrics-interceptor')],
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
  });
  const files = readdirSync(HISTORIES).filter((f) => f.endsWith('.binpb'));
  expect(files.length).toBeGreaterThan(0);
  const histories = files.map((file) => ({
    workflowId: file,
    history: temporal.api.history.v1.History.decode(readFileSync(join(HISTORIES, file))),
  }));
  const failed: string[] = [];
  let replayed = 0;
  for await (const result of Worker.runReplayHistories(
    { workflowBundle, replayName: 'metrics-interceptor' },
    histories,
  )) {
    replayed++;
    if (result.error) failed.push(`${result.workflowId}: ${result.error.message}`);
  }
  expect(failed).toEqual([]);
  expect(replayed).toBe(files.length);
});
