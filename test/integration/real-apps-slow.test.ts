/**
 * Issue 15: slow but healthy applications deploy on the budgets their spec gives. The Python application (not
 * Cutover's code; it only listens on PORT) takes 90 s before it listens at all, or listens at once and fails its
 * health page for 60 s; blue-green and rolling, each under the strict load. Before, a replica that did not write
 * the ready file within a fixed 30 s was killed and relaunched (10 times), whatever the spec's health deadline said.
 *
 * The four scenarios are inherently slow (90 s, 60 s) and mostly wait, so they run side by side (Promise.all), each
 * with its own application, router, worker and load. What they prove is counted, never timed: each launch and
 * each wait for health took one attempt, each replica process was started once (one "listening" line in its log),
 * the warm-up really failed health checks first (the application logs how many), 0 failed requests.
 */
import { activityRuns, activityTimings, formatTimings } from '../support/history';
import { expectZeroDowntime, underLoad } from '../support/load';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';
import { occurrences, pythonSpec, readyFilesUnder, replicaLogs } from '../support/python-app';
import type { PythonAppBehaviour } from '../support/python-app';

jest.setTimeout(420_000);

type Strategy = 'blue-green' | 'rolling';

interface Scenario {
  name: string;
  strategy: Strategy;
  behaviour: PythonAppBehaviour & { startTimeout?: string; healthDeadline?: string };
  /** The activities whose single attempt proves the budget was enough. */
  waits: string[];
}

const START_MS = 90_000;
const WARMUP_MS = 60_000;

const scenarios: Scenario[] = [
  {
    name: 'blue-green, 90 s start',
    strategy: 'blue-green',
    behaviour: { pageMs: 100, startDelayMs: START_MS, startTimeout: '3m' },
    waits: ['scaleUpReplicaSet', 'awaitReplicaSetHealthy'],
  },
  {
    name: 'rolling, 90 s start',
    strategy: 'rolling',
    behaviour: { pageMs: 100, startDelayMs: START_MS, startTimeout: '3m' },
    waits: ['launchToCount', 'awaitSetAvailable'],
  },
  {
    name: 'blue-green, 60 s of failing health',
    strategy: 'blue-green',
    behaviour: { pageMs: 100, warmupMs: WARMUP_MS, healthDeadline: '3m' },
    waits: ['scaleUpReplicaSet', 'awaitReplicaSetHealthy'],
  },
  {
    name: 'rolling, 60 s of failing health',
    strategy: 'rolling',
    behaviour: { pageMs: 100, warmupMs: WARMUP_MS },
    waits: ['launchToCount', 'awaitSetAvailable'],
  },
];

async function run(scenario: Scenario, f: Fixture): Promise<string> {
  const deploy = (version: string, behaviour: Scenario['behaviour']) => {
    // Rolling: both new replicas in one batch (maxSurge 100%), so the scenario waits for one slow start, not two.
    const strategy = scenario.strategy === 'rolling' ? { maxSurge: '100%', maxUnavailable: 0 } : {};
    const overrides = pythonSpec(f, behaviour, { strategy });
    return scenario.strategy === 'rolling' ? f.deployRolling(version, overrides) : f.deploy(version, overrides);
  };
  // Given: v1, which starts at once.
  expect((await f.result(await deploy('1.0.0', { pageMs: 100 }))).outcome).toBe('succeeded');

  // When: v2, slow to start or to warm up, under load.
  let id = '';
  const { value: result, report } = await underLoad(f.load({ clients: ['undici'] }), async () => {
    id = await deploy('2.0.0', scenario.behaviour);
    return f.result(id);
  });

  // Then
  expect(result.outcome).toBe('succeeded');
  expectZeroDowntime(report, {
    label: scenario.name,
    versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['2.0.0'] },
    deliveries: f.deliveries(),
  });
  const runs = await activityRuns(f.client.temporal, id);
  for (const type of scenario.waits) {
    expect({ type, attempts: runs.filter((r) => r.type === type).map((r) => r.attempt) }).toEqual({
      type,
      attempts: [1],
    });
  }
  const logs = await replicaLogs(f, f.platformDir, f.application, '2.0.0');
  expect(Object.keys(logs)).toHaveLength(2);
  for (const log of Object.values(logs)) {
    expect(occurrences(log, /listening on http/)).toBe(1); // started once: never killed and relaunched
    if (scenario.behaviour.startDelayMs) expect(log).toContain(`preparing for ${START_MS} ms before listening`);
    const failed = Number(/healthy after (\d+) failed health checks/.exec(log)?.[1] ?? -1);
    if (scenario.behaviour.warmupMs) expect(failed).toBeGreaterThan(0);
  }
  expect(readyFilesUnder(f.platformDir)).toEqual([]);
  return `${scenario.name}: ${report.sent} requests, ${report.failed} failed; ${formatTimings(await activityTimings(f.client.temporal, id), 3)}`;
}

describe('slow but healthy: a 90 s start and 60 s of warm-up, blue-green and rolling', () => {
  const fixtures: Fixture[] = [];

  afterAll(async () => {
    await Promise.all(fixtures.map((f) => f.close()));
  });

  test('each deploys on its spec budgets (platform.startTimeout, health.deadline) with 0 failed requests', async () => {
    for (const s of scenarios) {
      const f = await createFixture(`slow-${s.strategy}`, ['Catalog', 'Cart']);
      await f.startInProcessWorker();
      fixtures.push(f);
    }
    const lines = await Promise.all(scenarios.map((s, i) => run(s, fixtures[i] as Fixture)));
    process.stdout.write(`${lines.join('\n')}\n`);
  });
});
