/**
 * The OutSystems hook operation's Update Configurations stage with stubbed activities, on the time-skipping test
 * server: it runs a configuration-only rolling update (`rollingUpdateDeployment`) of the live release as the child
 * `deploy-<environment>-<application>`, and writes the result file (empty on success, the error document on
 * failure). The rolling update itself runs for real against the in-memory rolling world.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import type { Activities } from '../../../activities';
import type { PlatformConfig } from '../../../workflows/spec';
import type { ReplicaSetSpec } from '../../../activities/ports';
import { approveSignal } from '../../../workflows/messages';
import { configRevisionOf, rollingReplicaSetName } from '../../../workflows/rolling-math';
import { configUpdateStrategy } from '../../../workflows/outsystems/config-update';
import { hookWorkflowId } from '../../../workflows/outsystems/types';
import type {
  ConfigSnapshot,
  DeploymentProfile,
  HookOperationInput,
  HookOperationResult,
  ReleaseRecord,
} from '../../../workflows/outsystems/types';
import { validateSpec } from '../../../workflows/spec';
import type { DeploymentSpec } from '../../../workflows/spec';
import { deploymentId } from '../../../workflows/types';
import type { DeploymentResult, DeploymentStatus } from '../../../workflows/types';
import { LIFETIME_IDS } from '../../support/hooks';
import { useWorkflowHarness, waitForStatus } from '../harness';
import { createRollingWorld } from '../rolling-world';
import type { RollingWorld, RollingWorldOptions } from '../rolling-world';

const harness = useWorkflowHarness();
let seq = 0;

const { key: KEY, build: OP_RUN, config: OP_CONFIG } = LIFETIME_IDS;
/** The live version: what the Run of OP_RUN deployed (versionFromOperation(OP_RUN)). */
const VERSION = '111111112222';
const OLD_REVISION = '0123456789ab';
const NEW_REVISION = 'fedcba987654';
const MODULES = ['Catalog', 'Cart'];
const BUILDS = '/srv/cutover/builds';

const blueGreenProfile: DeploymentProfile = {
  environment: 'test',
  replicas: 2,
  platform: { kind: 'local', env: { LOG_LEVEL: 'info' } },
  router: { kind: 'local', adminUrl: 'http://127.0.0.1:9901', publicUrl: 'http://127.0.0.1:9900' },
  strategy: { type: 'blue-green', rollbackWindow: '0s' },
  health: { interval: '100ms', timeout: '1s', successThreshold: 1, deadline: '20s' },
};

interface HookWorld {
  rolling: RollingWorld;
  activities: Activities;
  /** writeHookResult calls: what LifeTime would read. */
  results: { fileName: string; content: string }[];
  recorded: ReleaseRecord[];
  /** awaitWorkflowClosed calls (an operation waiting for another one of the application). */
  waits: { workflowId: string; deadlineAt: number }[];
}

/** Another operation of the application is running when the stage starts: until it closes (or never, by the deadline). */
interface BusyApplication {
  closes: boolean;
}

/** The rolling world (the application live on blue, as a Container Run leaves it) plus the hook activities. */
function createHookWorld(
  application: string,
  options: { release?: ReleaseRecord | null; busy?: BusyApplication } & Partial<RollingWorldOptions>,
) {
  const rolling = createRollingWorld({
    application,
    modules: MODULES,
    live: 'blue',
    liveVersion: VERSION,
    liveReplicas: 2,
    ...options,
  });
  const results: HookWorld['results'] = [];
  const recorded: ReleaseRecord[] = [];
  const waits: HookWorld['waits'] = [];
  let busy = options.busy !== undefined;
  const live =
    options.release === undefined
      ? {
          application,
          version: VERSION,
          operationId: OP_RUN,
          bundleDir: `${BUILDS}/${application}/builds/${OP_RUN}`,
          command: ['/bin/sh', '-c', 'exec node server.js'],
          modules: MODULES,
          config: {
            dir: `${BUILDS}/${application}/configs/${OP_RUN}-${OLD_REVISION}`,
            revision: OLD_REVISION,
            files: [],
          },
          updatedAt: '2026-01-01T00:00:00.000Z',
        }
      : options.release;
  const activities: Activities = {
    ...rolling.activities,
    async snapshotConfig(input): Promise<ConfigSnapshot> {
      return {
        dir: `${BUILDS}/${input.application}/configs/${input.operationId}-${NEW_REVISION}`,
        revision: NEW_REVISION,
        files: ['app.config'],
      };
    },
    async readRelease() {
      return live;
    },
    async recordRelease(input) {
      recorded.push(input.release);
    },
    async isWorkflowRunning() {
      return busy;
    },
    async awaitWorkflowClosed(input) {
      waits.push(input);
      if (options.busy?.closes) busy = false;
      return { closed: !busy };
    },
    async writeHookResult(input) {
      results.push({ fileName: input.fileName, content: input.content });
    },
  };
  return { rolling, activities, results, recorded, waits } satisfies HookWorld;
}

interface ConfigsRun {
  world: HookWorld;
  application: string;
  hook: WorkflowHandle;
  /** The application's deployment, `deploy-test-<application>`. */
  child: WorkflowHandle;
  /** The hook deadline given to the operation (epoch ms, test-server time). */
  hookDeadline: number;
  waitForChild: (predicate: (s: DeploymentStatus) => boolean, what: string) => Promise<DeploymentStatus>;
}

async function withConfigs(
  options: {
    profile?: DeploymentProfile;
    release?: ReleaseRecord | null;
    busy?: BusyApplication;
  } & Partial<RollingWorldOptions>,
  body: (run: ConfigsRun) => Promise<void>,
): Promise<void> {
  const application = `portal-${++seq}`;
  const world = createHookWorld(application, options);
  const hookDeadline = (await harness.env.currentTimeMs()) + 30 * 60_000;
  const input: HookOperationInput = {
    stage: 'configs',
    call: {
      address: 'lifetime.example.internal',
      applicationName: 'Customer Portal',
      applicationKey: KEY,
      operationId: OP_CONFIG,
      modules: MODULES,
    },
    application,
    profile: options.profile ?? blueGreenProfile,
    build: { timeoutMs: 600_000, maxBundleBytes: 1 << 30 },
    paths: { result: '/srv/lifetime/result', config: '/srv/lifetime/config' },
    roots: { target: [], result: ['/srv/lifetime/result'], config: ['/srv/lifetime/config'] },
    buildsRoot: BUILDS,
    hookDeadline: new Date(hookDeadline).toISOString(),
    finishMarginMs: 120_000,
    exclusiveRetryMs: 1000,
  };
  await harness.run(
    {
      workflowType: 'outSystemsHookOperation',
      input,
      world,
      taskQueue: 'hooks-unit',
      workflowId: hookWorkflowId(KEY, OP_CONFIG, 'configs'),
    },
    async ({ handle: hook }) => {
      const child = harness.env.client.workflow.getHandle(deploymentId('test', application));
      try {
        await body({
          world,
          application,
          hook,
          child,
          hookDeadline,
          waitForChild: (predicate, what) => waitForStatus(child, predicate, what),
        });
      } finally {
        await child.terminate('test finished').catch(() => undefined);
      }
    },
  );
}

/** The replica set the rolling update launched into, and the platform config of its launches. */
/** Each launch asks for the set's size after it (launchToCount); `added` is how many that launch adds. */
interface Launch {
  platform: PlatformConfig;
  count: number;
  added: number;
}

function launched(world: HookWorld): { set: ReplicaSetSpec; launches: Launch[] } {
  const ensure = world.rolling.calls.filter((c) => c.name === 'ensureRollingReplicaSet');
  expect(ensure).toHaveLength(1);
  return {
    set: (ensure[0]?.input as { replicaSet: ReplicaSetSpec }).replicaSet,
    launches: world.rolling.calls
      .filter((c) => c.name === 'launchToCount')
      .map((c) => c.input as Omit<Launch, 'added'>)
      .map((l, i, all) => ({ ...l, added: l.count - (all[i - 1]?.count ?? 0) })),
  };
}

describe('Update Configurations: a configuration-only rolling update', () => {
  test('starts rollingUpdateDeployment as deploy-<env>-<app> with the live version and the new configuration; empty result file', async () => {
    await withConfigs({}, async ({ world, application, hook, child }) => {
      const result = (await hook.result()) as HookOperationResult;

      // The result file: empty on success.
      expect(world.results).toEqual([{ fileName: `${KEY}_${OP_CONFIG}.configsdone`, content: '' }]);
      expect(result).toMatchObject({
        ok: true,
        content: '',
        deploymentId: `deploy-test-${application}`,
        deploymentType: 'rollingUpdateDeployment',
        version: VERSION,
        outcome: 'succeeded',
      });

      // The child is a rolling update, with the application's business id, carrying the hook on its memo.
      const description = await child.describe();
      expect(description.type).toBe('rollingUpdateDeployment');
      expect(description.status.name).toBe('COMPLETED');
      expect(description.memo).toMatchObject({ hookStage: 'configs', operationId: OP_CONFIG });
      const deployment = (await child.result()) as DeploymentResult;
      expect(deployment.status).toMatchObject({ strategy: 'rolling', version: VERSION, liveVersion: VERSION });
      expect(deployment.status.previousVersion).toBe(VERSION);
      // Safe defaults for a blue-green profile: one extra replica at a time, none out of service.
      expect(deployment.status.rolling).toMatchObject({ maxSurge: 1, maxUnavailable: 0, batches: 2, new: 2, old: 0 });

      // What rolled: the live build (same version, bundle, command) with the new configuration.
      const { set, launches } = launched(world);
      expect(set.version).toBe(VERSION);
      expect(set.env).toEqual({
        LOG_LEVEL: 'info',
        CUTOVER_BUNDLE_DIR: `${BUILDS}/${application}/builds/${OP_RUN}`,
        CUTOVER_OPERATION_ID: OP_RUN,
        OUTSYSTEMS_APPLICATION_KEY: KEY,
        CUTOVER_CONFIG_DIR: `${BUILDS}/${application}/configs/${OP_CONFIG}-${NEW_REVISION}`,
        CUTOVER_CONFIG_REVISION: NEW_REVISION,
      });
      expect(set.name).toBe(rollingReplicaSetName(application, VERSION, configRevisionOf(set.env)));
      expect(launches.map((l) => l.added)).toEqual([1, 1]);
      for (const l of launches)
        expect(l.platform.kind === 'local' && l.platform.command).toEqual(['/bin/sh', '-c', 'exec node server.js']);

      // Every replica replaced within the bounds; the blue-green backend adopted and removed.
      expect(world.rolling.alive()).toEqual([
        { id: `${set.name}-0`, version: VERSION },
        { id: `${set.name}-1`, version: VERSION },
      ]);
      expect(world.rolling.bounds).toEqual({ minServing: 2, maxAlive: 3 });
      expect([...world.rolling.sets.keys()]).toEqual([set.name]);
      expect(world.rolling.rules.Catalog?.backends).toEqual([{ backend: `${application}-rolling`, weight: 100 }]);
      expect(world.rolling.backends.has(`${application}-blue`)).toBe(false);

      // The release stays the same build; only its configuration is new.
      expect(world.recorded).toHaveLength(1);
      expect(world.recorded[0]).toMatchObject({
        version: VERSION,
        operationId: OP_RUN,
        config: { revision: NEW_REVISION, dir: `${BUILDS}/${application}/configs/${OP_CONFIG}-${NEW_REVISION}` },
      });
    });
  });

  test('a rolling update that rolls back is reported as {"Error":{"Message":...}}; the old configuration keeps serving', async () => {
    await withConfigs({ failLaunch: 2 }, async ({ world, application, hook, child }) => {
      const result = (await hook.result()) as HookOperationResult;

      expect(result).toMatchObject({ ok: false, outcome: 'rolled-back', deploymentType: 'rollingUpdateDeployment' });
      expect(world.results).toHaveLength(1);
      expect(world.results[0]?.fileName).toBe(`${KEY}_${OP_CONFIG}.configsdone`);
      const message = (JSON.parse(world.results[0]?.content ?? '') as { Error: { Message: string } }).Error.Message;
      expect(message).toMatch(
        new RegExp(
          `^configuration-only rolling update deploy-test-${application} of ${application} ${VERSION} rolled-back: .*the platform refused the launch`,
        ),
      );
      expect(result.message).toBe(message);
      expect((await child.describe()).type).toBe('rollingUpdateDeployment');
      expect(world.recorded).toEqual([]);
      // Back where it was: the blue replicas (old configuration) serve through the blue backend.
      expect(world.rolling.alive().map((r) => r.version)).toEqual([VERSION, VERSION]);
      expect(world.rolling.rules.Catalog?.backends).toEqual([{ backend: `${application}-blue`, weight: 100 }]);
      expect(world.rolling.alive().every((r) => r.id.startsWith(`${application}-${VERSION}-blue-`))).toBe(true);
    });
  });

  test("a blue-green profile's required approval becomes a canary pause after batch 1, closing before the hook deadline", async () => {
    const profile: DeploymentProfile = {
      ...blueGreenProfile,
      strategy: { type: 'blue-green', rollbackWindow: '0s', approval: { mode: 'required', timeout: '1h' } },
    };
    await withConfigs({ profile }, async ({ world, hook, child, hookDeadline, waitForChild }) => {
      const paused = await waitForChild((s) => s.phase === 'AwaitingApproval', 'the approval pause');

      expect(paused.strategy).toBe('rolling');
      expect(paused.rolling).toMatchObject({ batch: 1, batches: 2, old: 1, new: 1 });
      expect(paused.approval).toMatchObject({ mode: 'required', pending: true, onTimeout: 'rollback' });
      // The 1h timeout is cut to what is left of the hook (minus finishMargin, 2 min) when the operation starts it.
      const opened = Date.parse(paused.events.find((e) => e.message.startsWith('waiting for approval'))!.at);
      const timeout = Date.parse(paused.approval.deadline!) - opened;
      const hookStarted = (await hook.describe()).startTime.getTime();
      expect(timeout).toBeLessThanOrEqual(hookDeadline - 120_000 - hookStarted);
      expect(timeout).toBeGreaterThan(hookDeadline - 120_000 - hookStarted - 60_000);
      expect(world.results).toEqual([]);

      await child.signal(approveSignal, { by: 'release-manager' });
      const result = (await hook.result()) as HookOperationResult;
      expect(result).toMatchObject({ ok: true, content: '', outcome: 'succeeded' });
      expect(world.results).toEqual([{ fileName: `${KEY}_${OP_CONFIG}.configsdone`, content: '' }]);
      expect(world.rolling.alive()).toHaveLength(2);
      expect(world.rolling.alive().every((r) => r.id.startsWith(launched(world).set.name))).toBe(true);
    });
  });

  test("a rolling profile's own settings are used, except a fixed configRevision (which would make the update a no-op)", async () => {
    const profile: DeploymentProfile = {
      ...blueGreenProfile,
      strategy: {
        type: 'rolling',
        maxSurge: '100%',
        maxUnavailable: 0,
        drainTimeout: '5s',
        configRevision: 'pinned',
        approval: { mode: 'automatic' },
      },
    };
    await withConfigs({ profile }, async ({ world, hook, child }) => {
      const result = (await hook.result()) as HookOperationResult;

      expect(result).toMatchObject({ ok: true, content: '', deploymentType: 'rollingUpdateDeployment' });
      const deployment = (await child.result()) as DeploymentResult;
      expect(deployment.status.rolling).toMatchObject({ maxSurge: 2, maxUnavailable: 0, batches: 1 });
      const { set, launches } = launched(world);
      expect(launches.map((l) => l.added)).toEqual([2]);
      expect(set.name).toBe(rollingReplicaSetName(set.application, VERSION, configRevisionOf(set.env)));
      expect(set.name).not.toContain('pinned');
      expect(set.env.CUTOVER_CONFIG_REVISION).toBe(NEW_REVISION);
      expect(world.rolling.alive().every((r) => r.id.startsWith(set.name))).toBe(true);
    });
  });

  test('a deployment still running at the hook deadline is aborted: rolled back, and the error file says why', async () => {
    // A timed pause of 2 hours after the canary batch outlives the 30-minute hook.
    const profile: DeploymentProfile = {
      ...blueGreenProfile,
      strategy: {
        type: 'rolling',
        maxSurge: 1,
        maxUnavailable: 0,
        steps: [{ afterBatch: 1, pause: { duration: '2h' } }],
        approval: { mode: 'automatic' },
      },
    };
    await withConfigs({ profile }, async ({ world, application, hook, child, hookDeadline }) => {
      const result = (await hook.result()) as HookOperationResult;

      expect(result).toMatchObject({ ok: false, outcome: 'rolled-back', deploymentType: 'rollingUpdateDeployment' });
      const message = (JSON.parse(world.results[0]?.content ?? '') as { Error: { Message: string } }).Error.Message;
      expect(message).toContain(`the hook deadline (${new Date(hookDeadline).toISOString()}) passed first`);
      expect(message).toContain("the configs hook's deadline");
      // The abort came at the deadline, not before: the pause had begun and its 2 hours were cut short.
      const deployment = await child
        .result()
        .then(() => undefined)
        .catch((err: { cause?: { details?: DeploymentResult[] } }) => err.cause?.details?.[0]);
      expect(deployment?.outcome).toBe('rolled-back');
      const aborted = deployment?.status.events.find((e) => e.message.includes('aborted by cutover hook server'));
      expect(aborted).toBeDefined();
      expect(Date.parse(aborted!.at)).toBeGreaterThanOrEqual(hookDeadline);
      expect(Date.parse(aborted!.at)).toBeLessThan(hookDeadline + 60 * 60_000);
      // The old configuration serves again; nothing of the new set is left, and the release is not recorded.
      expect(world.rolling.alive().every((r) => !r.id.startsWith(launched(world).set.name))).toBe(true);
      expect(world.rolling.alive()).toHaveLength(2);
      expect(world.recorded).toEqual([]);
      expect(world.rolling.rules.Catalog?.backends).toEqual([{ backend: `${application}-blue`, weight: 100 }]);
    });
  });

  test('waits for another operation of the application by its result (one activity, a few events), then deploys', async () => {
    await withConfigs({ busy: { closes: true } }, async ({ world, application, hook, hookDeadline }) => {
      const result = (await hook.result()) as HookOperationResult;

      expect(result).toMatchObject({ ok: true, deploymentId: `deploy-test-${application}` });
      expect(world.waits).toEqual([{ workflowId: `deploy-test-${application}`, deadlineAt: hookDeadline }]);
      // Until the child starts: the check, the wait, the check again; no polling timer.
      const events = (await hook.fetchHistory()).events ?? [];
      const childStarted = events.findIndex((e) => e.startChildWorkflowExecutionInitiatedEventAttributes);
      const beforeChild = events.slice(0, childStarted);
      const activities = beforeChild.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
      expect(activities.filter((a) => a === 'isWorkflowRunning' || a === 'awaitWorkflowClosed')).toEqual([
        'isWorkflowRunning',
        'awaitWorkflowClosed',
        'isWorkflowRunning',
      ]);
      expect(beforeChild.filter((e) => e.timerStartedEventAttributes)).toHaveLength(0);
      expect(childStarted).toBeLessThan(60);
    });
  });

  test('another operation still running at the hook deadline: the error file names it, and nothing is deployed', async () => {
    await withConfigs({ busy: { closes: false } }, async ({ world, application, hook, child }) => {
      const result = (await hook.result()) as HookOperationResult;

      expect(result.ok).toBe(false);
      expect(result.message).toBe(
        `another operation on ${application} (deploy-test-${application}) was still running at the hook deadline`,
      );
      expect(world.results).toEqual([
        {
          fileName: `${KEY}_${OP_CONFIG}.configsdone`,
          content: JSON.stringify({ Error: { Message: result.message } }),
        },
      ]);
      expect(world.waits).toHaveLength(1);
      await expect(child.describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    });
  });

  test('no release deployed by the hook server yet: the error file, and no deployment starts', async () => {
    await withConfigs({ release: null }, async ({ world, application, hook, child }) => {
      const result = (await hook.result()) as HookOperationResult;

      expect(result.ok).toBe(false);
      expect(world.results).toEqual([
        {
          fileName: `${KEY}_${OP_CONFIG}.configsdone`,
          content: JSON.stringify({
            Error: {
              Message: `${application} has no release deployed by the hook server yet: nothing to reconfigure (a Container Run must succeed first)`,
            },
          }),
        },
      ]);
      await expect(child.describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
      expect(world.rolling.calls).toEqual([]);
    });
  });
});

describe('configUpdateStrategy', () => {
  const specOf = (strategy: Record<string, unknown>, health: Record<string, unknown> = {}): DeploymentSpec => {
    const result = validateSpec({
      ...blueGreenProfile,
      application: 'portal',
      version: VERSION,
      modules: MODULES,
      strategy,
      health,
    });
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    return result.spec;
  };

  test('blue-green, automatic approval: maxSurge 1, maxUnavailable 0, the health deadline as progress deadline, no pause', () => {
    expect(configUpdateStrategy(specOf({ type: 'blue-green' }, { deadline: '90s' }))).toEqual({
      type: 'rolling',
      maxSurge: 1,
      maxUnavailable: 0,
      minReadySeconds: 0,
      drainTimeout: 30_000,
      progressDeadline: 90_000,
      onProgressDeadline: 'rollback',
      steps: [],
      approval: { mode: 'automatic', timeout: 86_400_000, onTimeout: 'rollback' },
    });
  });

  test('blue-green, required approval: an approval pause after the first batch, with its timeout and onTimeout', () => {
    const strategy = configUpdateStrategy(
      specOf({ type: 'blue-green', approval: { mode: 'required', timeout: '2h', onTimeout: 'promote' } }),
    );
    expect(strategy).toMatchObject({
      steps: [{ afterBatch: 1, pause: { approval: true } }],
      approval: { mode: 'required', timeout: 7_200_000, onTimeout: 'promote' },
    });
    // What the workflow starts the rolling update with must be a valid spec.
    expect(validateSpec({ ...specOf({ type: 'blue-green' }), strategy }).ok).toBe(true);
  });

  test('canary: an approval pause after the first batch only when its steps wait for a person (pause: {})', () => {
    const timed = configUpdateStrategy(
      specOf({ type: 'canary', steps: [{ setWeight: 50 }, { pause: { duration: '2s' } }, { setWeight: 100 }] }),
    );
    expect(timed).toMatchObject({ maxSurge: 1, maxUnavailable: 0, steps: [], approval: { mode: 'automatic' } });
    const open = configUpdateStrategy(
      specOf({
        type: 'canary',
        steps: [{ setWeight: 50 }, { pause: {} }],
        approval: { timeout: '2h', onTimeout: 'promote' },
      }),
    );
    expect(open).toMatchObject({
      steps: [{ afterBatch: 1, pause: { approval: true } }],
      approval: { mode: 'required', timeout: 7_200_000, onTimeout: 'promote' },
    });
    // What the workflow starts the rolling update with must be a valid spec.
    for (const strategy of [timed, open])
      expect(validateSpec({ ...specOf({ type: 'blue-green' }), strategy }).ok).toBe(true);
  });

  test('rolling: its own settings, without configRevision', () => {
    const spec = specOf({ type: 'rolling', maxSurge: '50%', maxUnavailable: 1, configRevision: 'pinned' });
    const strategy = configUpdateStrategy(spec);
    expect(strategy).toEqual({ ...spec.strategy, configRevision: undefined });
    expect('configRevision' in strategy).toBe(false);
    expect(spec.strategy).toMatchObject({ configRevision: 'pinned' });
  });
});
