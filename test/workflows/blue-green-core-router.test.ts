/**
 * A router that implements only the core of the Router port (no preview routes, no in-flight counts, no weights)
 * drives a whole blue-green deployment: the workflow over the real activities, on in-memory ports. Asking it for a
 * preview fails at first use with a clear, non-retryable NotSupportedError, and what was done is undone.
 */
import { createActivities } from '../../activities';
import { blueGreenSpec } from '../support/specs';
import type { SpecOverrides } from '../support/specs';
import { memoryDrivers, memoryPlatform, memoryRouter } from '../activities/memory-ports';
import type { MemoryPlatform, MemoryRouter } from '../activities/memory-ports';
import { activityRuns, runsOf } from '../support/history';
import type { ActivityRun } from '../support/history';
import { outcomeOf, useWorkflowHarness } from './harness';
import type { Outcome } from './harness';

const harness = useWorkflowHarness();
const MODULES = ['Catalog', 'Cart'];

interface CoreWorld {
  platform: MemoryPlatform;
  router: MemoryRouter;
  activities: ReturnType<typeof createActivities>;
}

/** Blue 1.0.0 live behind the core-only router. */
async function coreWorld(): Promise<CoreWorld> {
  const platform = memoryPlatform();
  const router = memoryRouter();
  const blue = await platform.ensureReplicaSet({
    name: 'shop-1-0-0-blue',
    application: 'shop',
    version: '1.0.0',
    slot: 'blue',
    modules: MODULES,
    replicas: 2,
    env: {},
  });
  await router.ensureBackend(
    'shop-blue',
    blue.replicas.map((r) => r.address),
  );
  for (const m of MODULES) await router.setModuleRule(m, [{ backend: 'shop-blue', weight: 100 }]);
  return { platform, router, activities: createActivities(memoryDrivers(platform, router)) };
}

async function deploy(world: CoreWorld, overrides: SpecOverrides = {}): Promise<Outcome & { runs: ActivityRun[] }> {
  let outcome: (Outcome & { runs: ActivityRun[] }) | undefined;
  await harness.run(
    {
      workflowType: 'blueGreenDeployment',
      input: { spec: blueGreenSpec({ modules: MODULES, ...overrides }) },
      world,
      taskQueue: 'bg-core-router',
      workflowId: 'deploy-test-core-router',
    },
    async ({ handle }) => {
      const ended = await outcomeOf(handle.result());
      outcome = { ...ended, runs: await activityRuns(harness.env.client, handle.workflowId) };
    },
  );
  if (!outcome) throw new Error('the run ended without an outcome');
  return outcome;
}

describe('blue-green through a router of the core only', () => {
  test('the router has no capability: the deployment succeeds, green serves, blue is retired', async () => {
    const world = await coreWorld();
    expect([world.router.preview, world.router.inFlight, world.router.weights]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    const { result, failed } = await deploy(world);
    expect(failed).toBe(false);
    expect([result.outcome, result.liveColor, result.liveVersion]).toEqual(['succeeded', 'green', '2.0.0']);
    for (const m of MODULES) expect(world.router.rules[m]?.backends).toEqual([{ backend: 'shop-green', weight: 100 }]);
    const green = world.platform.sets.get('shop-2-0-0-green');
    expect([...world.router.backends.keys()]).toEqual(['shop-green']);
    expect(world.router.backends.get('shop-green')).toEqual(green?.replicas.map((r) => r.address));
    expect([...world.platform.sets.keys()]).toEqual(['shop-2-0-0-green']);
    const step = (prefix: string) => result.status.steps.find((s) => s.name.startsWith(prefix));
    // No in-flight counts: the drain says so instead of claiming a drain it could not see.
    expect(step('drain blue')?.detail).toMatch(/cannot count requests in flight/);
    // Verification through a router that cannot send requests is not supported, and the workflow goes on.
    expect(step('verify')?.detail).toMatch(/Catalog: not-supported/);
  });

  test('a preview asked of it fails at first use (NotSupportedError, not retried); green is retired, blue serves', async () => {
    const world = await coreWorld();
    const { result, failed, runs } = await deploy(world, { strategy: { preview: { enabled: true } } });
    expect(failed).toBe(true);
    expect(runsOf(runs, 'setPreview').map((r) => [r.outcome, r.attempt, r.failure?.type])).toEqual([
      ['failed', 1, 'NotSupportedError'],
    ]);
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/the memory router has no preview routes: disable strategy.preview/);
    const preview = result.status.steps.find((s) => s.name.startsWith('open preview route'));
    expect(preview?.state).toBe('failed');
    for (const m of MODULES) expect(world.router.rules[m]?.backends).toEqual([{ backend: 'shop-blue', weight: 100 }]);
    expect([...world.platform.sets.keys()]).toEqual(['shop-1-0-0-blue']);
    expect([...world.router.backends.keys()]).toEqual(['shop-blue']);
  });
});
