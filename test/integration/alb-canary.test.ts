/**
 * Canary with `router.kind: aws-alb`, end to end against moto: the Temporal dev server, the canary workflow,
 * local-platform replicas, every module rule split between two target groups with a weighted forward action, and
 * the analysis querying CloudWatch on the same moto server (the test puts the canary's error metric there first).
 *
 * moto routes no traffic: the split after each weight cannot be measured (the router has no `sampling` without
 * router.publicUrl), so it is recorded as not-supported and the rules read back through DescribeRules are what the
 * test checks, polled while the workflow runs.
 *
 * - A good canary (0 errors in CloudWatch): 20 % -> analysis -> 100 %, promoted, the stable target group retired.
 * - A bad canary (50 errors): rolled back at its analysis, every rule back on the stable target group at 100.
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { useAlbFixtures } from '../support/alb-fixture';
import type { AlbFixture } from '../support/alb-fixture';
import { REGION, describeTargetGroup, ruleTable } from '../support/moto';
import type { DeploymentSpecInput } from '../../workflows/spec';
import type { DeploymentResult } from '../../workflows/types';

jest.setTimeout(240_000);

const createAlbFixture = useAlbFixtures();

const NAMESPACE = 'Cutover/Test';
const METRIC = 'Errors5xx';

/** The canary's 5xx count in CloudWatch (dimension TargetGroup = the canary's backend), judged by CEL. */
function canarySpec(f: AlbFixture, version: string): DeploymentSpecInput {
  return {
    ...f.spec(version),
    strategy: {
      type: 'canary',
      steps: [{ setWeight: 20 }, { analysis: { templates: ['errors'] } }, { setWeight: 100 }],
      abortScaleDownDelay: '1s',
    },
    analysis: {
      templates: {
        errors: {
          metrics: [
            {
              name: 'errors',
              provider: {
                cloudwatch: {
                  region: REGION,
                  endpoint: f.world.endpoint,
                  period: 60,
                  window: '5m',
                  queries: [
                    {
                      id: 'm1',
                      metricStat: {
                        namespace: NAMESPACE,
                        metricName: METRIC,
                        dimensions: [{ name: 'TargetGroup', value: '{{args.canary}}' }],
                        stat: 'Sum',
                      },
                    },
                  ],
                },
              },
              // Holds the 20 % weight a while, so the test reads it during the analysis (and the poll sees it).
              initialDelay: '2s',
              count: 1,
              successCondition: 'result < 5.0',
              failureCondition: 'result >= 5.0',
            },
          ],
        },
      },
    },
  };
}

/** Puts one datapoint of the canary's error metric, a minute ago (inside the provider's 5-minute window). */
async function putErrors(f: AlbFixture, targetGroup: string, value: number): Promise<void> {
  const client = new CloudWatchClient({ region: REGION, endpoint: f.world.endpoint });
  try {
    await client.send(
      new PutMetricDataCommand({
        Namespace: NAMESPACE,
        MetricData: [
          {
            MetricName: METRIC,
            Dimensions: [{ Name: 'TargetGroup', Value: targetGroup }],
            Timestamp: new Date(Date.now() - 60_000),
            Value: value,
            Unit: 'Count',
          },
        ],
      }),
    );
  } finally {
    client.destroy();
  }
}

/** Waits until the deployment's first analysis runs; then every module's forward action as DescribeRules reads it. */
async function rulesDuringAnalysis(f: AlbFixture, id: string): Promise<Record<string, string | undefined>> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const status = await f.client.status(id).catch(() => undefined);
    if (status?.canary?.analyses[0]?.outcome === 'running') {
      const out: Record<string, string | undefined> = {};
      for (const m of f.modules) out[m] = await forwardOf(f, m);
      return out;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${id} did not start its analysis within 60 s`);
}

/** A module's forward action as "group=weight, group=weight" (the order the ALB answers with). */
async function forwardOf(f: AlbFixture, module: string): Promise<string | undefined> {
  const row = (await ruleTable(f.world)).find((r) => r.paths[0] === `/${module}*` && !r.header);
  return row?.forward.join(', ');
}

/**
 * Reads every module's rule through DescribeRules every 50 ms until stopped; returns, per module, each distinct
 * forward action in the order seen.
 */
function recordRules(f: AlbFixture): { stop(): Promise<Record<string, string[]>> } {
  const seen: Record<string, string[]> = Object.fromEntries(f.modules.map((m) => [m, []]));
  let running = true;
  const loop = (async () => {
    while (running) {
      const rows = await ruleTable(f.world);
      for (const module of f.modules) {
        const forward = rows.find((r) => r.paths[0] === `/${module}*` && !r.header)?.forward.join(', ');
        const states = seen[module] as string[];
        if (forward !== undefined && states[states.length - 1] !== forward) states.push(forward);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return seen;
    },
  };
}

function printLedger(title: string, result: DeploymentResult): void {
  const c = result.status.canary;
  const lines = [`${title}: ${result.outcome}${result.reason ? ` (${result.reason})` : ''}`];
  for (const s of c?.splits ?? []) lines.push(`  split step ${s.step} weight ${s.weight}%: ${s.status}: ${s.detail}`);
  for (const run of c?.analyses ?? []) {
    lines.push(`  analysis ${run.label}: ${run.outcome} — ${run.reason ?? ''}`);
    for (const m of run.metrics) {
      for (const x of m.measurements) lines.push(`    ${m.name} ${x.query} = ${JSON.stringify(x.value)}: ${x.phase}`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

describe('canary on an AWS ALB (moto), judged by CloudWatch on the same moto', () => {
  let f: AlbFixture;
  let stable: string;
  let canary: string;

  beforeEach(async () => {
    f = await createAlbFixture({ name: 'albcanary' });
    stable = `${f.application}-green`;
    canary = `${f.application}-blue`;
    // Given: v1 serves every module from the green target group (migrated by blue-green).
    const v1 = await f.result(await f.deploy('1.0.0'));
    expect(v1.outcome).toBe('succeeded');
    for (const m of f.modules) expect(await forwardOf(f, m)).toBe(`${stable}=100`);
  });

  afterEach(async () => {
    await f?.close();
  });

  test('a good canary: each weight read back from DescribeRules, splits not-supported, CloudWatch in the ledger', async () => {
    // Given: CloudWatch holds no error of the canary's target group worth speaking of.
    await putErrors(f, canary, 0);

    // When: the canary runs 20 % -> analysis -> 100 %, the rules read through DescribeRules all along.
    const recorder = recordRules(f);
    const id = await f.deploySpec(canarySpec(f, '2.0.0'));
    const during = await rulesDuringAnalysis(f, id);
    const result = await f.result(id);
    const seen = await recorder.stop();
    printLedger('good canary', result);

    // While the analysis ran, every rule split 80 / 20 between the stable and the canary's target group.
    expect(during).toEqual(Object.fromEntries(f.modules.map((m) => [m, `${stable}=80, ${canary}=20`])));

    // Then: promoted, every rule on the canary's target group, the stable one deleted.
    expect(result.outcome).toBe('succeeded');
    expect(result.liveVersion).toBe('2.0.0');
    expect(result.status.previousVersion).toBe('1.0.0');
    for (const m of f.modules) {
      // The weight-0 attachment (health checks before traffic) may come and go between two polls.
      const weights = (seen[m] ?? []).filter((s) => s !== `${stable}=100, ${canary}=0`);
      expect({ module: m, weights }).toEqual({
        module: m,
        weights: [`${stable}=100`, `${stable}=80, ${canary}=20`, `${canary}=100`],
      });
      expect(await forwardOf(f, m)).toBe(`${canary}=100`);
    }
    expect(await describeTargetGroup(f.world, stable)).toBeUndefined();
    expect(await describeTargetGroup(f.world, canary)).toMatchObject({ tags: { 'cutover:backend': canary } });

    // The splits: moto sends no traffic, so neither weight was measured, and the ledger says why.
    const splits = result.status.canary?.splits ?? [];
    expect(splits.map((s) => [s.weight, s.status, s.requests])).toEqual([
      [20, 'not-supported', 0],
      [100, 'not-supported', 0],
    ]);
    for (const s of splits) {
      expect(s.detail).toMatch(/aws-alb router cannot send requests through its load balancer.*router\.publicUrl/);
    }

    // The analysis: one CloudWatch measurement of the canary's target group, its query and value.
    const analyses = result.status.canary?.analyses ?? [];
    expect(analyses.map((a) => [a.label, a.outcome])).toEqual([['step 2', 'successful']]);
    const measurements = analyses[0]?.metrics.flatMap((m) => m.measurements) ?? [];
    expect(measurements).toHaveLength(1);
    expect(measurements[0]).toMatchObject({
      metric: 'errors',
      provider: 'cloudwatch',
      query: `m1=${NAMESPACE} ${METRIC} Sum {TargetGroup=${canary}}; period 60 s over 300 s`,
      value: 0,
      phase: 'successful',
    });
  });

  test('a bad canary: rolled back at its analysis, every rule back on the stable target group at 100', async () => {
    // Given: CloudWatch holds 50 errors of the canary's target group.
    await putErrors(f, canary, 50);

    const recorder = recordRules(f);
    const id = await f.deploySpec(canarySpec(f, '2.0.0-bad'));
    const during = await rulesDuringAnalysis(f, id);
    const result = await f.result(id);
    const seen = await recorder.stop();
    printLedger('bad canary', result);

    expect(during).toEqual(Object.fromEntries(f.modules.map((m) => [m, `${stable}=80, ${canary}=20`])));

    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/analysis step 2 failed: errors/);
    expect(result.liveVersion).toBe('1.0.0');
    const measurement = result.status.canary?.analyses[0]?.metrics[0]?.measurements[0];
    expect(measurement).toMatchObject({ provider: 'cloudwatch', value: 50, phase: 'failed' });
    expect(result.status.canary?.splits.map((s) => [s.weight, s.status])).toEqual([[20, 'not-supported']]);
    for (const m of f.modules) {
      const weights = (seen[m] ?? []).filter((s) => s !== `${stable}=100, ${canary}=0`);
      // The canary took 20 % and never more; then the rule was restored.
      expect({ module: m, weights }).toEqual({
        module: m,
        weights: [`${stable}=100`, `${stable}=80, ${canary}=20`, `${stable}=100`],
      });
      expect(await forwardOf(f, m)).toBe(`${stable}=100`);
    }
    // The canary's target group is gone after abortScaleDownDelay; the stable one serves as before.
    expect(await describeTargetGroup(f.world, canary)).toBeUndefined();
    expect(await describeTargetGroup(f.world, stable)).toMatchObject({ tags: { 'cutover:backend': stable } });
  });
});
