/** The workflow's current details, as rendered from a deployment's status (what the Temporal UI shows). */
import { renderCurrentDetails } from '../../workflows/current-details';
import type { DeploymentStatus } from '../../workflows/types';

function status(overrides: Partial<DeploymentStatus> = {}): DeploymentStatus {
  return {
    deploymentId: 'deploy-production-shop',
    application: 'shop',
    environment: 'production',
    strategy: 'blue-green',
    version: '2.0.0',
    phase: 'Validating',
    liveColor: null,
    liveVersion: null,
    previousVersion: null,
    targetColor: null,
    replicas: { desired: 2, launched: 0, healthy: 0 },
    approval: { mode: 'required', pending: false, onTimeout: 'rollback' },
    steps: [],
    events: [],
    ...overrides,
  };
}

const at = '2026-01-01T00:00:00.000Z';

test('at the start: the phase, no step yet, the gate not reached, nothing discovered', () => {
  expect(renderCurrentDetails(status()).split('\n')).toEqual([
    '- **Phase:** Validating',
    '- **Step:** none yet',
    '- **Gate:** not reached',
    '- **Traffic:** not yet discovered',
    '- **Replicas:** 0/2 healthy, 0 launched',
  ]);
});

test('a running step is the one shown, with the live and target colors', () => {
  const text = renderCurrentDetails(
    status({
      phase: 'ProductionTrafficShift',
      liveColor: 'blue',
      liveVersion: '1.0.0',
      targetColor: 'green',
      replicas: { desired: 2, launched: 2, healthy: 2 },
      steps: [
        { name: 'discover live version', state: 'done', startedAt: at, endedAt: at, detail: 'blue serves 1.0.0' },
        { name: 'switch Catalog, Cart to green', state: 'running', startedAt: at },
      ],
      events: [{ at, message: 'approved by alice' }],
    }),
  );
  expect(text).toContain('- **Phase:** ProductionTrafficShift');
  expect(text).toContain('- **Step:** switch Catalog, Cart to green (running)');
  expect(text).toContain('- **Traffic:** blue (1.0.0); target green (2.0.0)');
  expect(text).toContain('- **Last event:** approved by alice');
});

test('no step running: the last one with how it ended', () => {
  const text = renderCurrentDetails(
    status({ steps: [{ name: 'discover live version', state: 'failed', startedAt: at, endedAt: at, detail: 'boom' }] }),
  );
  expect(text).toContain('- **Step:** discover live version (failed: boom)');
});

test('an open gate says until when it waits and what happens then; a decided one says who decided', () => {
  const waiting = status({
    phase: 'AwaitingApproval',
    approval: { mode: 'required', pending: true, deadline: at, onTimeout: 'rollback' },
  });
  expect(renderCurrentDetails(waiting)).toContain(`- **Gate:** waiting for approval until ${at}, then rollback`);
  const approved = status({
    approval: { mode: 'required', pending: false, onTimeout: 'rollback', approved: { by: 'alice', at } },
  });
  expect(renderCurrentDetails(approved)).toContain('- **Gate:** approved by alice');
});

test("a canary's step and weight, a rolling update's batch, and the strategy's note", () => {
  const canary = renderCurrentDetails(
    status({
      strategy: 'canary',
      phase: 'Paused',
      canary: {
        step: 2,
        steps: 3,
        current: 'pause',
        weight: 20,
        canaryVersion: '2.0.0',
        stableVersion: '1.0.0',
        canaryReplicas: 1,
        headerRoute: false,
        splits: [],
        analyses: [],
        run: 1,
        runEvents: [],
      },
    }),
  );
  expect(canary).toContain('- **Canary:** step 2/3 pause, weight 20 % (run 1)');
  const rolling = renderCurrentDetails(
    status({
      strategy: 'rolling',
      rolling: {
        batch: 1,
        batches: 3,
        direction: 'forward',
        old: 2,
        new: 1,
        healthy: 3,
        maxSurge: 1,
        maxUnavailable: 0,
        replicaSet: 'shop-2-0-0',
        replacing: ['shop-1-0-0'],
        run: 1,
        runEvents: [],
      },
    }),
    'batch 1/3: take out 0, launch 1, retire 1 after',
  );
  expect(rolling).toContain('- **Rolling:** batch 1/3, 2 old and 1 new serving (run 1)');
  expect(rolling).toContain('- **Now:** batch 1/3: take out 0, launch 1, retire 1 after');
});
