/**
 * What `cutover status` and `--watch` print for a rolling update: batch i of n
 * with old / new / serving counts, once per batch, and the rollback direction.
 */
import { formatBatch, formatStatus, ProgressPrinter } from '../../client/progress';
import type { DeploymentStatus, RollingProgress } from '../../workflows/types';

function status(rolling: Partial<RollingProgress>, phase: DeploymentStatus['phase'] = 'ScalingUp'): DeploymentStatus {
  return {
    deploymentId: 'deploy-production-shop',
    application: 'shop',
    environment: 'production',
    strategy: 'rolling',
    version: '2.1.0',
    phase,
    liveColor: null,
    liveVersion: '2.0.0',
    previousVersion: '2.0.0',
    targetColor: null,
    replicas: { desired: 8, launched: 2, healthy: 8 },
    approval: { mode: 'required', pending: false, onTimeout: 'rollback' },
    steps: [],
    events: [],
    rolling: {
      batch: 1,
      batches: 4,
      direction: 'forward',
      old: 6,
      new: 2,
      healthy: 8,
      maxSurge: 2,
      maxUnavailable: 0,
      replicaSet: 'shop-2-1-0-rolling-abc1234',
      replacing: ['shop-2-0-0-rolling-abc1234'],
      run: 1,
      runEvents: [],
      ...rolling,
    },
  };
}

describe('rolling progress', () => {
  test('formatBatch names the batch, its direction and the counts', () => {
    expect(formatBatch(status({}))).toBe('batch 1/4: old 6, new 2, serving 8');
    expect(formatBatch(status({ direction: 'rollback', batch: 2, batches: 2 }))).toBe(
      'rollback batch 2/2: old 6, new 2, serving 8',
    );
  });

  test('--watch prints each batch once, with the phase lines', () => {
    const lines: string[] = [];
    const printer = new ProgressPrinter((l) => lines.push(l));
    printer.update(status({ batch: 1 }, 'ScalingUp'));
    printer.update(status({ batch: 1 }, 'AwaitingHealthy'));
    printer.update(status({ batch: 2, old: 4, new: 4 }, 'ScalingUp'));
    expect(lines.filter((l) => l.includes('▸'))).toEqual([
      '  ▸ batch 1/4: old 6, new 2, serving 8',
      '  ▸ batch 2/4: old 4, new 4, serving 8',
    ]);
    expect(lines.find((l) => l.includes('AwaitingHealthy'))).toMatch(/live rolling \(2\.0\.0\).*batch 1\/4/);
  });

  test('status shows the batch, the bounds, the run and the replica sets', () => {
    const text = formatStatus(status({ run: 2 }));
    expect(text).toMatch(/rolling {6}batch 1\/4: old 6, new 2, serving 8 \(maxSurge 2, maxUnavailable 0\), run 2/);
    expect(text).toMatch(/replica set {2}shop-2-1-0-rolling-abc1234 replacing shop-2-0-0-rolling-abc1234/);
    expect(text).toMatch(/live {9}shop-rolling serving 2\.0\.0/);
  });

  test('status and --watch show the analysis after a batch (status.analyses), with its latest measurement', () => {
    const measurement = {
      metric: 'error-rate',
      provider: 'prometheus' as const,
      query: 'sum(rate(errors{backend="shop-rolling"}[20s]))',
      value: 0.31,
      samples: 140,
      phase: 'failed' as const,
      message: 'failed: result > 0.05 (0.31 on 140 samples)',
      measuredAt: '2026-12-02T10:00:00.000Z',
    };
    const s: DeploymentStatus = {
      ...status({}, 'Verifying'),
      analyses: [
        {
          label: 'after batch 1',
          templates: ['health'],
          outcome: 'failed',
          reason: 'error-rate failed: 1 of 1',
          startedAt: '2026-12-02T09:59:40.000Z',
          metrics: [
            {
              name: 'error-rate',
              dryRun: false,
              outcome: 'failed',
              counts: { successful: 0, failed: 1, inconclusive: 0, insufficient: 0, error: 0 },
              measurements: [measurement],
              errors: [],
            },
          ],
        },
      ],
    };
    const text = formatStatus(s);
    expect(text).toMatch(/^analysis$/m);
    expect(text).toMatch(/after batch 1 \(health\): failed — error-rate failed: 1 of 1/);
    expect(text).toMatch(/error-rate: failed; 0 successful, 1 failed.*0\.31 on 140 samples/);
    const lines: string[] = [];
    const printer = new ProgressPrinter((line) => lines.push(line));
    printer.update(s);
    expect(lines.join('\n')).toMatch(/◆ after batch 1 error-rate: failed — failed: result > 0\.05/);
  });
});
