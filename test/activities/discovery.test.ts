/**
 * The one discovery path (activities/discovery.ts): which backend of the application every module routes to, the
 * default rule, and the refusal of anything else, naming each module; and both strategies' discovery activities
 * going through it.
 */
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../activities';
import type { Drivers } from '../../activities/drivers';
import { discoverRouting, primaryBackend, routingOf, sideOfBackend } from '../../activities/discovery';
import { CutoverError } from '../../activities/errors';
import type { ModuleRule, Platform, ReplicaSetState, Router, Slot } from '../../activities/ports';
import type { PlatformConfig, RouterConfig } from '../../workflows/spec';

const modules = ['Catalog', 'Cart', 'Checkout'];

function rule(module: string, ...backends: [string, number][]): ModuleRule {
  return { module, backends: backends.map(([backend, weight]) => ({ backend, weight })) };
}

function allOn(backend: string): Record<string, ModuleRule> {
  return Object.fromEntries(modules.map((m) => [m, rule(m, [backend, 100])]));
}

function refusal(run: () => unknown): CutoverError {
  try {
    run();
  } catch (err) {
    if (err instanceof CutoverError) return err;
    throw err;
  }
  throw new Error('expected InconsistentRouting');
}

describe('primaryBackend and sideOfBackend', () => {
  test('the backend with the most weight serves the module', () => {
    expect(primaryBackend(rule('Catalog', ['shop-blue', 10], ['shop-green', 90]))).toBe('shop-green');
    expect(primaryBackend(rule('Catalog'))).toBeUndefined();
  });

  test('the application own backends are its sides; another application backend is none', () => {
    expect(sideOfBackend('shop', 'shop-blue')).toBe('blue');
    expect(sideOfBackend('shop', 'shop-green')).toBe('green');
    expect(sideOfBackend('shop', 'shop-rolling')).toBe('rolling');
    expect(sideOfBackend('shop', 'shopfront-blue')).toBeUndefined();
    expect(sideOfBackend('shop', 'other-rolling')).toBeUndefined();
  });
});

describe('routingOf', () => {
  test.each(['blue', 'green', 'rolling'] as const)('every module on shop-%s: consistent, that side', (side) => {
    const rules = allOn(`shop-${side}`);
    expect(routingOf('shop', modules, rules)).toEqual({ rules, side, backend: `shop-${side}` });
  });

  test('no explicit rule at all: the default rule (the platform server) serves every module', () => {
    expect(routingOf('shop', modules, {})).toEqual({ rules: {}, side: null, backend: null });
  });

  test('a weighted split counts for the backend with most of the traffic', () => {
    const rules = Object.fromEntries(modules.map((m) => [m, rule(m, ['shop-blue', 20], ['shop-green', 80])]));
    expect(routingOf('shop', modules, rules).side).toBe('green');
  });

  test('every module on a backend of another application is refused, naming it', () => {
    const failure = refusal(() => routingOf('shop', modules, allOn('cart-blue')));
    expect(failure.name).toBe('InconsistentRoutingError');
    expect(failure.message).toMatch(/Catalog -> cart-blue, Cart -> cart-blue, Checkout -> cart-blue/);
    expect(failure.message).toMatch(/finish or roll back the previous deployment first/);
  });

  test('mixed modules (a side, another side, the default rule) are refused, naming each module', () => {
    const rules = { Catalog: rule('Catalog', ['shop-blue', 100]), Cart: rule('Cart', ['shop-rolling', 100]) };
    const failure = refusal(() => routingOf('shop', modules, rules));
    expect(failure.name).toBe('InconsistentRoutingError');
    expect(failure.message).toContain('Catalog -> shop-blue, Cart -> shop-rolling, Checkout -> default');
  });

  test('a rule with no backend is refused as well', () => {
    const rules = { ...allOn('shop-blue'), Cart: rule('Cart') };
    expect(refusal(() => routingOf('shop', modules, rules)).message).toContain('Cart -> (no backend)');
  });
});

describe('both strategies discover through it', () => {
  const platformConfig: PlatformConfig = { kind: 'local', stateDir: '/tmp/none', env: {}, startTimeout: 300_000 };
  const routerConfig: RouterConfig = { kind: 'local', adminUrl: 'http://127.0.0.1:1', publicUrl: 'http://127.0.0.1:2' };
  const input = { application: 'shop', modules, platform: platformConfig, router: routerConfig };

  function drivers(rules: Record<string, ModuleRule>, reads: string[][], sets: ReplicaSetState[] = []): Drivers {
    const router = {
      readRules: async (wanted: string[]) => {
        reads.push(wanted);
        return Object.fromEntries(wanted.filter((m) => rules[m]).map((m) => [m, rules[m] as ModuleRule]));
      },
      describeBackend: async () => ['http://127.0.0.1:40000'],
    } as unknown as Router;
    const platform = { listReplicaSets: async () => sets } as unknown as Platform;
    return { router: () => router, platform: () => platform };
  }

  test('the router read is the one discoverRouting makes, for the modules asked about', async () => {
    const reads: string[][] = [];
    const found = await discoverRouting(drivers(allOn('shop-rolling'), reads).router(routerConfig), 'shop', modules);
    expect(found.side).toBe('rolling');
    expect(reads).toEqual([modules]);
  });

  test('discoverLive, discoverLiveSets and discoverRolling refuse the same mixed routing with the same message', async () => {
    const mixed = { Catalog: rule('Catalog', ['shop-green', 100]) };
    const activities = createActivities(drivers(mixed, []));
    const messages: string[] = [];
    for (const discover of [activities.discoverLive, activities.discoverLiveSets, activities.discoverRolling]) {
      try {
        await discover(input);
        throw new Error('expected a refusal');
      } catch (err) {
        expect(err).toBeInstanceOf(ApplicationFailure);
        expect((err as ApplicationFailure).type).toBe('InconsistentRoutingError');
        expect((err as ApplicationFailure).nonRetryable).toBe(true);
        messages.push((err as ApplicationFailure).message);
      }
    }
    expect(messages[0]).toContain('Catalog -> shop-green, Cart -> default, Checkout -> default');
    expect(messages).toEqual([messages[0], messages[0], messages[0]]);
  });

  test('discoverLiveSets finds what discoverLive finds, each replica set summarised as counts (any replica count)', async () => {
    const set = (version: string, slot: Slot, count: number, port: number): ReplicaSetState => ({
      name: `shop-${version}-${slot}`,
      application: 'shop',
      version,
      slot,
      desired: count,
      replicas: Array.from({ length: count }, (_, i) => ({
        id: `shop-${version}-${slot}-${i}`,
        address: `http://127.0.0.1:${port + i}`,
        running: true,
      })),
    });
    // The backend serves the first replica of 1.0.0 (port 40000); 0.9.0 is a leftover with more replicas.
    const sets = [
      set('0.9.0', 'blue', 10_000, 50_000),
      set('1.0.0', 'blue', 3, 40_000),
      set('2.0.0', 'green', 1, 45_000),
    ];
    const activities = createActivities(drivers(allOn('shop-blue'), [], sets));
    const full = await activities.discoverLive(input);
    const summarised = await activities.discoverLiveSets(input);
    expect(summarised).toEqual({
      liveColor: full.liveColor,
      liveVersion: full.liveVersion,
      rules: full.rules,
      replicaSets: full.replicaSets.map(({ name, application, version, slot, desired, replicas }) => ({
        name,
        application,
        version,
        slot,
        desired,
        launched: replicas.length,
      })),
    });
    expect(summarised.liveVersion).toBe('1.0.0');
    expect(Buffer.byteLength(JSON.stringify(summarised))).toBeLessThan(2_000);
  });

  test('the same consistent routing: blue-green sees side "rolling", the rolling update its backend', async () => {
    const activities = createActivities(drivers(allOn('shop-rolling'), []));
    expect(await activities.discoverLive(input)).toMatchObject({ liveColor: 'rolling' });
    expect(await activities.discoverRolling(input)).toMatchObject({
      routing: 'rolling',
      backend: 'shop-rolling',
      targets: ['http://127.0.0.1:40000'],
    });
  });
});
