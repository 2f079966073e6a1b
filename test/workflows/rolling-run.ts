/**
 * Running a rolling update in the unit tests: a world of 4 replicas of 1.0.0 on the rolling backend, the workflow
 * on the time-skipping server (its result followed across continue-as-new), and the checks most tests end with.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { configRevisionOf, rollingReplicaSetName } from '../../workflows/rolling-math';
import type { DeploymentResult, RollingInput } from '../../workflows/types';
import { rollingSpec } from '../support/specs';
import type { SpecOverrides } from '../support/specs';
import { sleep } from './harness';
import type { Run, WorkflowHarness } from './harness';
import { createRollingWorld } from './rolling-world';
import type { RollingWorld, RollingWorldOptions } from './rolling-world';

export const NEW_SET = rollingReplicaSetName('shop', '2.0.0', configRevisionOf({}));
export const newIds = (n: number, first = 0) => Array.from({ length: n }, (_, i) => `${NEW_SET}-${first + i}`);

export async function withRun(
  harness: WorkflowHarness,
  worldOptions: Partial<RollingWorldOptions>,
  specOverrides: SpecOverrides,
  body: (run: Run<RollingWorld>) => Promise<void>,
  extra: Partial<RollingInput> = {},
  /** Changes the world before the worker starts (e.g. an activity of its own). */
  setUp: (world: RollingWorld) => void = () => undefined,
): Promise<void> {
  const modules = specOverrides.modules ?? ['Catalog', 'Cart'];
  const world = createRollingWorld({ application: 'shop', modules, live: 'rolling', liveReplicas: 4, ...worldOptions });
  setUp(world);
  const input: RollingInput = { spec: rollingSpec({ modules, replicas: 4, ...specOverrides }), ...extra };
  await harness.run(
    {
      workflowType: 'rollingUpdateDeployment',
      input,
      world,
      taskQueue: 'rolling-unit',
      workflowId: 'deploy-test-shop-rolling',
      result: (handle) => resultOf(harness, handle),
      pollAttempts: 800,
    },
    body,
  );
}

/**
 * The workflow's result, following continue-as-new. The time-skipping server does not always close a run's history
 * with its continued-as-new event (so `result()` on the first run may wait forever): also watch the latest run.
 */
export async function resultOf(harness: WorkflowHarness, handle: WorkflowHandle): Promise<DeploymentResult> {
  const { client } = harness.env;
  let done = false;
  // The first run's long poll is cancelled once the race is decided: left open, a gRPC retry of it could fire on
  // the connection closed at teardown ("Channel has been shut down" from a timer fails the suite).
  const cancelFirstRun = new AbortController();
  const viaFirstRun = client.withAbortSignal(cancelFirstRun.signal, () => handle.result()) as Promise<DeploymentResult>;
  const viaLatestRun = (async () => {
    for (;;) {
      await sleep(200);
      if (done) return new Promise<never>(() => undefined);
      const latest = await client.workflow.getHandle(handle.workflowId).describe();
      if (latest.status.name !== 'RUNNING' && latest.status.name !== 'CONTINUED_AS_NEW') {
        return (await client.workflow.getHandle(handle.workflowId, latest.runId).result()) as DeploymentResult;
      }
    }
  })();
  try {
    return await Promise.race([viaFirstRun, viaLatestRun]);
  } finally {
    done = true;
    cancelFirstRun.abort();
    viaFirstRun.catch(() => undefined);
    viaLatestRun.catch(() => undefined);
  }
}

/** The old version back, exactly `n` replicas of it, serving; nothing of the new set left. */
export function expectOldVersionBack(world: RollingWorld, n = 4): void {
  const alive = world.alive();
  expect(alive.map((r) => r.version)).toEqual(Array(n).fill('1.0.0'));
  expect(world.serving()).toHaveLength(n);
  expect(world.sets.has(NEW_SET)).toBe(false);
  expect(world.rules.Catalog?.backends).toEqual([{ backend: 'shop-rolling', weight: 100 }]);
}

/** 4 replicas, maxSurge/maxUnavailable 25%: never fewer than 3 serving, never more than 5 alive. */
export function expectDefaultBounds(world: RollingWorld): void {
  expect(world.bounds.minServing).toBeGreaterThanOrEqual(3);
  expect(world.bounds.maxAlive).toBeLessThanOrEqual(5);
}
