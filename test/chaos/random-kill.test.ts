/**
 * Chaos at random points: each run picks, from a seed it prints, a step of each runbook and a moment (before, during
 * with a random delay, or after it) at which the worker dies. `CHAOS_SEED=<n>` replays a run's choices; `make soak`
 * runs many more of them (test/chaos/soak.soak.ts).
 */
import { givenLiveV1, killDuringUpgrade, randomPoint, seededRandom } from '../support/chaos';
import type { Strategy } from '../support/chaos';
import { expectZeroDowntime } from '../support/load';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';

const seed = Number(process.env['CHAOS_SEED'] ?? Date.now() % 1_000_000);
const random = seededRandom(seed);

describe(`chaos: the worker SIGKILLed at a random point (CHAOS_SEED=${seed})`, () => {
  let f: Fixture;

  beforeEach(async () => {
    f = await createFixture('chaos-rnd');
  });

  afterEach(async () => {
    await f.close();
  });

  test.each<Strategy>(['blue-green', 'rolling'])('%s', async (strategy) => {
    const point = randomPoint(random, strategy);
    await givenLiveV1(f, strategy);

    const { result, report, invariants } = await killDuringUpgrade(f, strategy, point);

    process.stdout.write(`chaos ${strategy} (seed ${seed}): killed ${point.name}\n`);
    expect(result.outcome).toBe('succeeded');
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['2.0.0'] },
      deliveries: f.deliveries(),
    });
    expect(invariants.violations).toEqual([]);
  });
});
