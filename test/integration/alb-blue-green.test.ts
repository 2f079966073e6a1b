/**
 * Blue-green with `router.kind: aws-alb`, end to end against moto: the Temporal dev server, the blue-green
 * workflow, local-platform replicas (probed directly; moto routes no traffic, so the workflow's verify step gets
 * `not-supported` and goes on), and every rule and weight read back from the ELBv2 API after each deployment.
 * ALB calls are counted per Router method (the worker's router driver uses a counting ELBv2 client).
 */
import type { Router } from '../../activities/ports';
import { useAlbFixtures } from '../support/alb-fixture';
import type { AlbFixture } from '../support/alb-fixture';
import { describeTargetGroup, ruleTable } from '../support/moto';
import type { RuleRow } from '../support/moto';

jest.setTimeout(180_000);

const createAlbFixture = useAlbFixtures();

/** ALB calls by Router method ("setModuleRule" -> {"DescribeRules": 2, ...}), and calls of each method. */
class CallLog {
  byMethod = new Map<string, Map<string, number>>();
  invocations: string[] = [];
  current = 'other';

  record(op: string): void {
    const calls = this.byMethod.get(this.current) ?? new Map<string, number>();
    calls.set(op, (calls.get(op) ?? 0) + 1);
    this.byMethod.set(this.current, calls);
  }

  total(method: string): number {
    return [...(this.byMethod.get(method)?.values() ?? [])].reduce((sum, n) => sum + n, 0);
  }

  reset(): void {
    this.byMethod.clear();
    this.invocations = [];
  }

  /** Wraps a Router so that each ALB call is attributed to the method that made it (activities run one at a time). */
  wrap(router: Router): Router {
    return new Proxy(router, {
      get: (target, prop, receiver) => {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          this.current = String(prop);
          this.invocations.push(`${String(prop)}(${typeof args[0] === 'string' ? args[0] : ''})`);
          try {
            const method = value as (...a: unknown[]) => Promise<unknown>;
            return await method.apply(target, args);
          } finally {
            this.current = 'other';
          }
        };
      },
    });
  }
}

/** An ALB fixture whose ALB calls are logged by Router method. */
async function createLoggedAlbFixture(modules?: string[]): Promise<AlbFixture & { log: CallLog }> {
  const log = new CallLog();
  const fixture = await createAlbFixture({
    modules,
    onCall: (op) => log.record(op),
    wrapRouter: (router) => log.wrap(router),
  });
  return { ...fixture, log };
}

const calls = (log: CallLog, method: string) => Object.fromEntries(log.byMethod.get(method) ?? new Map());

describe('blue-green on an AWS ALB (moto)', () => {
  let f: AlbFixture & { log: CallLog };

  afterEach(async () => {
    await f?.close();
  });

  test('migration creates the module rules, the upgrade moves them to the other target group; reads back each step', async () => {
    f = await createLoggedAlbFixture();
    const green = `${f.application}-green`;
    const blue = `${f.application}-blue`;

    // Given: the listener's default action (the platform server) serves every module.
    expect(await ruleTable(f.world)).toEqual([{ priority: 'default', paths: [], forward: ['platform-server=100'] }]);

    // When: migrate to 1.0.0.
    const first = await f.result(await f.deploy('1.0.0'));

    // Then: one rule per module forwarding everything to the green target group; nothing of ours to retire.
    expect(first.outcome).toBe('succeeded');
    expect(summary(await ruleTable(f.world))).toEqual([
      `/Cart* -> ${green}=100`,
      `/Catalog* -> ${green}=100`,
      'default -> platform-server=100',
    ]);
    expect(first.status.steps.find((s) => s.name.startsWith('verify'))?.detail).toBe(
      'Catalog: not-supported, Cart: not-supported',
    );

    // When: upgrade to 2.0.0 (blue-green between target groups).
    f.log.reset();
    const second = await f.result(await f.deploy('2.0.0'));

    // Then: every rule forwards to blue, green's target group is gone, blue holds the new replica.
    expect(second.outcome).toBe('succeeded');
    expect(second.status.previousVersion).toBe('1.0.0');
    expect(summary(await ruleTable(f.world))).toEqual([
      `/Cart* -> ${blue}=100`,
      `/Catalog* -> ${blue}=100`,
      'default -> platform-server=100',
    ]);
    expect(await describeTargetGroup(f.world, green)).toBeUndefined();
    expect(await describeTargetGroup(f.world, blue)).toMatchObject({ tags: { 'cutover:backend': blue } });

    // ALB calls of the switch (2 modules): attach at weight 0 + health + weight 100 for the first module,
    // health + weight 100 for the second, one read-back of both rules.
    expect(calls(f.log, 'setModuleRule')).toEqual({ DescribeRules: 2, ModifyRule: 3, DescribeTargetHealth: 2 });
    expect(f.log.invocations.filter((i) => i.startsWith('readRules'))).toHaveLength(2); // discovery + read-back
    expect(calls(f.log, 'verify')).toEqual({ DescribeRules: 2, DescribeTargetHealth: 2 });
  });

  test('preview rules while waiting for approval; rollback in the window restores the previous weights', async () => {
    f = await createLoggedAlbFixture();
    await f.result(await f.deploy('1.0.0'));
    const green = `${f.application}-green`;
    const blue = `${f.application}-blue`;

    const id = await f.deploy('2.0.0', {
      strategy: { approval: { mode: 'required', timeout: '10m' }, preview: { enabled: true }, rollbackWindow: '10m' },
    });
    await f.waitForPhase(id, 'AwaitingApproval');
    expect(summary(await ruleTable(f.world))).toEqual([
      `/Cart* -> ${green}=100`,
      `/Cart* [x-cutover-preview] -> ${blue}=100`,
      `/Catalog* -> ${green}=100`,
      `/Catalog* [x-cutover-preview] -> ${blue}=100`,
      'default -> platform-server=100',
    ]);
    // Preview rules are evaluated first (lower priorities) so marked requests reach the new version.
    const rows = await ruleTable(f.world);
    const priorityOf = (paths: string, header: boolean) =>
      rows.find((r) => r.paths[0] === paths && Boolean(r.header) === header)?.priority as number;
    expect(priorityOf('/Catalog*', true)).toBeLessThan(priorityOf('/Catalog*', false));
    expect(priorityOf('/Cart*', true)).toBeLessThan(priorityOf('/Cart*', false));

    await f.client.approve(id, { by: 'alice', version: '2.0.0' });
    await f.waitForPhase(id, 'RollbackWindow');
    // Preview rules removed before the switch; every module on the new target group.
    expect(summary(await ruleTable(f.world))).toEqual([
      `/Cart* -> ${blue}=100`,
      `/Catalog* -> ${blue}=100`,
      'default -> platform-server=100',
    ]);

    await f.client.rollback(id, { by: 'dave' });
    const result = await f.result(id);
    expect(result.outcome).toBe('rolled-back');
    expect(summary(await ruleTable(f.world))).toEqual([
      `/Cart* -> ${green}=100`,
      `/Catalog* -> ${green}=100`,
      'default -> platform-server=100',
    ]);
    expect(await describeTargetGroup(f.world, blue)).toBeUndefined(); // green of this run (blue color) retired
  });

  test('a permanent ALB error during the switch: not retried, and compensation undoes the switch', async () => {
    f = await createLoggedAlbFixture(['Catalog', 'Cart', 'Orders']);
    // Two priorities for three modules: the third rule cannot be created (RouterRequestRejectedError).
    const result = await f.result(await f.deploy('1.0.0', { router: { rulePriorities: { first: 1, last: 2 } } }));

    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/no free rule priority for the module rule of Orders in 1\.\.2/);
    expect(f.log.invocations.filter((i) => i === 'setModuleRule(Orders)')).toHaveLength(1); // non-retryable
    expect(await ruleTable(f.world)).toEqual([{ priority: 'default', paths: [], forward: ['platform-server=100'] }]);
    expect(await describeTargetGroup(f.world, `${f.application}-green`)).toBeUndefined();
  });

  test('a wrong listener ARN fails the deployment at once with a clear message', async () => {
    f = await createLoggedAlbFixture();
    const wrong = f.world.listenerArn.replace(/[0-9a-f]{16}$/, '0000000000000000');
    const result = await f.result(await f.deploy('1.0.0', { router: { listenerArn: wrong } }));

    expect(result.outcome).toBe('failed');
    expect(result.reason).toMatch(/DescribeRules on .*0000000000000000 failed: ListenerNotFound/);
    expect(f.log.invocations.filter((i) => i.startsWith('readRules'))).toHaveLength(1); // not retried
  });
});

/** Rules as sorted "paths [header] -> target group=weight" lines. */
function summary(rows: RuleRow[]): string[] {
  return rows
    .map((r) => {
      const match = r.priority === 'default' ? 'default' : r.paths.join(',');
      return `${match}${r.header ? ` [${r.header}]` : ''} -> ${r.forward.join(', ')}`;
    })
    .sort();
}
