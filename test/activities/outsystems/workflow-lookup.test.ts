/**
 * awaitWorkflowClosed, the wait of a hook operation for another operation of the same application, on the real dev
 * server: it returns once that workflow closes (however it ends), says "not closed" at the deadline, and stops when
 * it is cancelled. The workflows waited on run on a task queue no worker polls, so they stay open until the test
 * ends them.
 */
import { randomUUID } from 'node:crypto';
import { CancelledFailure } from '@temporalio/activity';
import { Client, Connection } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { defaultDrivers } from '../../../activities/drivers';
import { createHookActivities } from '../../../activities/outsystems';
import { devServerAddress } from '../../support/temporal';

const TASK_QUEUE = `no-worker-${randomUUID()}`;

describe('awaitWorkflowClosed (real dev server)', () => {
  let connection: Connection;
  let client: Client;
  const { awaitWorkflowClosed } = createHookActivities(defaultDrivers());

  beforeAll(async () => {
    connection = await Connection.connect({ address: devServerAddress() });
    client = new Client({ connection });
  });

  afterAll(async () => {
    await connection.close();
  });

  /** A workflow that stays open (no worker runs it). */
  async function openWorkflow(): Promise<string> {
    const workflowId = `deploy-test-waited-on-${randomUUID()}`;
    await client.workflow.start('blueGreenDeployment', { taskQueue: TASK_QUEUE, workflowId, args: [{}] });
    return workflowId;
  }

  const inActivity = <T>(fn: () => Promise<T>, env = new MockActivityEnvironment(undefined, { client })) => env.run(fn);

  test('returns closed once the workflow is terminated while it waits', async () => {
    const workflowId = await openWorkflow();
    const waiting = inActivity(() => awaitWorkflowClosed({ workflowId, deadlineAt: Date.now() + 120_000 }));
    await new Promise((r) => setTimeout(r, 300)); // the long-poll is under way
    await client.workflow.getHandle(workflowId).terminate('the other operation ended');

    expect(await waiting).toEqual({ closed: true });
  });

  test('returns closed at once for a workflow that has already completed or never existed', async () => {
    const workflowId = await openWorkflow();
    await client.workflow.getHandle(workflowId).terminate('ended before the wait');

    expect(await inActivity(() => awaitWorkflowClosed({ workflowId, deadlineAt: Date.now() + 120_000 }))).toEqual({
      closed: true,
    });
    expect(
      await inActivity(() =>
        awaitWorkflowClosed({ workflowId: `never-started-${randomUUID()}`, deadlineAt: Date.now() + 120_000 }),
      ),
    ).toEqual({ closed: true });
  });

  test('returns not closed at the deadline while the workflow still runs', async () => {
    const workflowId = await openWorkflow();

    expect(await inActivity(() => awaitWorkflowClosed({ workflowId, deadlineAt: Date.now() + 1_000 }))).toEqual({
      closed: false,
    });
    expect((await client.workflow.getHandle(workflowId).describe()).status.name).toBe('RUNNING');
    await client.workflow.getHandle(workflowId).terminate('test done');
  });

  test('a cancelled wait ends with the cancellation, not with an answer', async () => {
    const workflowId = await openWorkflow();
    const env = new MockActivityEnvironment(undefined, { client });
    const waiting = inActivity(() => awaitWorkflowClosed({ workflowId, deadlineAt: Date.now() + 120_000 }), env);
    await new Promise((r) => setTimeout(r, 300));
    env.cancel('CANCELLED');

    await expect(waiting).rejects.toBeInstanceOf(CancelledFailure);
    await client.workflow.getHandle(workflowId).terminate('test done');
  });
});
