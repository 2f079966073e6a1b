/**
 * The chaos suite's tools: a worker process that SIGKILLs itself (or holds) at a chosen point of a chosen activity
 * (test/chaos/chaos-worker.cjs), the kill points of each runbook, and the invariants every deployment must meet
 * afterwards, whatever was killed when:
 *
 * - it ended as the scenario expects (succeeded, or rolled back with the old version serving);
 * - replicas launched = what the runbook asks: each replica id was started as exactly one process (the sample app's
 *   start ledger, written by the processes themselves), and the history's completed launch activities asked for each
 *   exactly once;
 * - no orphan: the live processes of the application are exactly the replicas the platform lists, of one version;
 * - every module's rule points at one backend whose targets are exactly those replicas, each answering its health
 *   page and the version expected.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { newLocalRouterDriver } from '../../activities/drivers/local';
import { projectRoot } from '../../examples/local-stack';
import { activityRuns } from './history';
import { LAUNCH_ACTIVITIES, launchesInHistory } from './launches';
import type { ActivityRun } from './history';
import type { Fixture } from './local-fixture';
import { replicaProcessesOf } from './proc';
import type { LoadReport } from './load';
import { underLoad } from './load';
import type { DeploymentResult } from '../../workflows/types';

export type KillWhen = 'before' | 'during' | 'after';

/** One chaos plan: where the chaos worker acts (see chaos-worker.cjs). */
export interface ChaosPlan {
  activity: string;
  when: KillWhen;
  action: 'kill' | 'hold';
  /** For "during": how long into the activity. */
  afterMs?: number;
  /** For "hold": how long to hold it. */
  holdMs?: number;
  /** The nth execution of the activity in the chaos worker (default 1). */
  nth?: number;
  /** Only in a run after the first (after a continue-as-new). */
  newRun?: boolean;
}

/** A named point of a runbook where the worker dies. */
export interface KillPoint {
  name: string;
  plan: ChaosPlan;
  /** Sample-app settings that make the point's window long enough (a slow start, a slow warm-up). */
  env?: Record<string, string>;
}

export const CHAOS_WORKER = path.join(projectRoot(), 'test', 'chaos', 'chaos-worker.cjs');

export interface ChaosWorker {
  child: ChildProcess;
  /** Resolves once the plan's point is reached (its marker file written); rejects after `timeoutMs`. */
  reached(timeoutMs?: number): Promise<void>;
  /** Resolves when the process has exited (for a kill: SIGKILLed itself). */
  exited: Promise<void>;
}

export async function startChaosWorker(f: Fixture, plan: ChaosPlan): Promise<ChaosWorker> {
  const markers = fs.mkdtempSync(path.join(f.stateDir, 'chaos-'));
  const child = await f.startWorkerProcess({
    script: CHAOS_WORKER,
    env: { CHAOS_PLAN: JSON.stringify(plan), CHAOS_MARKER_DIR: markers },
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const marker = path.join(markers, `${plan.activity}.reached`);
  return {
    child,
    exited,
    async reached(timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      while (!fs.existsSync(marker)) {
        if (Date.now() > deadline) throw new Error(`the chaos worker never reached ${plan.when} ${plan.activity}`);
        if (child.exitCode !== null) throw new Error(`the chaos worker exited (${child.exitCode}) before its point`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** SIGKILL, and wait for the exit. */
export function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Replica id -> processes started for it, from the fixture's start ledger (every replica appends its line). */
export function startsOf(f: Fixture): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of fs.readFileSync(f.startLedger, 'utf8').split('\n')) {
    const [replica] = line.split(' ');
    if (replica) out[replica] = (out[replica] ?? 0) + 1;
  }
  return out;
}

export interface Expected {
  /** The version serving at the end, and how many replicas of it. */
  version: string;
  replicas: number;
}

export interface InvariantReport {
  violations: string[];
  /** Launch activities completed, and the most attempts any needed (> 1: the kill hit it and it was retried). */
  launches: { activities: number; maxAttempt: number; replicas: number };
  runs: ActivityRun[];
}

/**
 * Every invariant after a deployment that ended; the violations are returned (not thrown) so a soak run can count
 * them. Tests assert `violations` is empty.
 */
export async function checkInvariants(f: Fixture, deploymentId: string, expected: Expected): Promise<InvariantReport> {
  const violations: string[] = [];
  const runs = await activityRuns(f.client.temporal, deploymentId);

  // Launched = what the runbook asks: every replica id the history launched was started as exactly one process.
  // (Ids are never reused: a rolling update numbers its replicas on, a set's name carries its version.)
  const started = startsOf(f);
  const twice = Object.entries(started).filter(([, n]) => n > 1);
  if (twice.length) violations.push(`started more than once: ${twice.map(([id, n]) => `${id} x${n}`).join(', ')}`);
  const inHistory = launchesInHistory(runs);
  const launchedTwice = Object.entries(inHistory).filter(([, n]) => n > 1);
  if (launchedTwice.length) {
    violations.push(`launched by more than one activity: ${launchedTwice.map(([id, n]) => `${id} x${n}`).join(', ')}`);
  }
  const neverStarted = Object.keys(inHistory).filter((id) => !(id in started));
  if (neverStarted.length) violations.push(`launched in the history but never started: ${neverStarted.join(', ')}`);
  const launchRuns = runs.filter((r) => LAUNCH_ACTIVITIES.includes(r.type));

  // No orphan: the live processes are the platform's replicas, all of the serving version.
  const processes = replicaProcessesOf(f.application);
  const versions = [...new Set(processes.map((p) => p.version))];
  if (versions.length !== 1 || versions[0] !== expected.version) {
    violations.push(`live processes of versions [${versions.join(', ')}], expected only ${expected.version}`);
  }
  if (processes.length !== expected.replicas) {
    violations.push(`${processes.length} live processes, expected ${expected.replicas}`);
  }
  const listed = (await f.platform.listReplicaSets(f.application)).flatMap((s) =>
    s.replicas.map((r) => ({ ...r, version: s.version })),
  );
  const listedIds = listed.map((r) => r.id).sort();
  const processIds = processes.map((p) => p.replica).sort();
  if (JSON.stringify(listedIds) !== JSON.stringify(processIds)) {
    violations.push(`the platform lists [${listedIds.join(', ')}] but the processes are [${processIds.join(', ')}]`);
  }
  if (listed.some((r) => !r.running)) violations.push('the platform lists replicas that are not running');

  // Every rule points at those replicas, which answer their health page and the version expected.
  const router = newLocalRouterDriver({ adminUrl: f.stack.adminUrl, publicUrl: f.stack.publicUrl });
  const rules = await router.readRules(f.modules);
  const backends = new Set<string>();
  for (const module of f.modules) {
    const live = rules[module]?.backends.filter((b) => b.weight > 0) ?? [];
    if (live.length !== 1) violations.push(`${module}'s rule has ${live.length} live backends`);
    for (const b of live) backends.add(b.backend);
  }
  if (backends.size > 1) violations.push(`modules route to several backends: ${[...backends].join(', ')}`);
  for (const backend of backends) {
    const targets = ((await router.describeBackend(backend)) ?? []).slice().sort();
    const addresses = listed.map((r) => r.address).sort();
    if (JSON.stringify(targets) !== JSON.stringify(addresses)) {
      violations.push(`${backend} targets [${targets.join(', ')}], the replicas are at [${addresses.join(', ')}]`);
    }
    for (const target of targets) {
      for (const module of f.modules) {
        const res = await fetch(`${target}/${module}/_ping.html`).catch(() => undefined);
        const version = res?.headers.get('x-cutover-version');
        await res?.arrayBuffer();
        if (res?.status !== 200 || version !== expected.version) {
          violations.push(`${target}/${module}/_ping.html answered ${res?.status ?? 'nothing'} from ${version}`);
        }
      }
    }
  }

  return {
    violations,
    launches: {
      activities: launchRuns.filter((r) => r.outcome === 'completed').length,
      maxAttempt: Math.max(0, ...launchRuns.map((r) => r.attempt)),
      replicas: Object.keys(inHistory).length,
    },
    runs,
  };
}

// ---- the runbooks' kill points, and one scenario: v1 live, v2 deployed by a worker that dies at a point ----

export type Strategy = 'blue-green' | 'rolling';

/** Every step of a blue-green upgrade, with what makes its window wide enough to be hit. */
export const BLUE_GREEN_POINTS: KillPoint[] = [
  {
    name: 'while launching green (processes started, not yet listening)',
    plan: { activity: 'scaleUpReplicaSet', when: 'during', afterMs: 300, action: 'kill' },
    env: { SAMPLE_START_DELAY_MS: '2000' },
  },
  {
    name: 'after green launched, before the launch was reported',
    plan: { activity: 'scaleUpReplicaSet', when: 'after', action: 'kill' },
  },
  {
    name: 'while probing green',
    plan: { activity: 'awaitReplicaSetHealthy', when: 'during', afterMs: 500, action: 'kill' },
    env: { SAMPLE_HEALTHY_AFTER_MS: '3000' },
  },
  {
    name: 'after publishing the green backend',
    plan: { activity: 'publishReplicaSet', when: 'after', action: 'kill' },
  },
  { name: 'after switching the rules', plan: { activity: 'switchTraffic', when: 'after', action: 'kill' } },
  { name: 'before verifying through the router', plan: { activity: 'verifyTraffic', when: 'before', action: 'kill' } },
  { name: 'before draining blue', plan: { activity: 'drainReplicaSets', when: 'before', action: 'kill' } },
  { name: 'after retiring blue', plan: { activity: 'retireReplicaSet', when: 'after', action: 'kill' } },
];

/** Every step of a rolling batch (two replicas, one at a time: two batches). */
export const ROLLING_POINTS: KillPoint[] = [
  {
    name: 'while launching a replica (started, not yet listening)',
    plan: { activity: 'launchToCount', when: 'during', afterMs: 300, action: 'kill' },
    env: { SAMPLE_START_DELAY_MS: '2000' },
  },
  {
    name: 'after launching, before the launch was reported',
    plan: { activity: 'launchToCount', when: 'after', action: 'kill' },
  },
  {
    name: 'while probing the new replica',
    plan: { activity: 'awaitSetAvailable', when: 'during', afterMs: 500, action: 'kill' },
    env: { SAMPLE_HEALTHY_AFTER_MS: '3000' },
  },
  {
    name: 'after registering the new replica',
    plan: { activity: 'registerSetTargets', when: 'after', action: 'kill' },
  },
  {
    name: 'after deregistering an old replica',
    plan: { activity: 'deregisterSetTargets', when: 'after', action: 'kill' },
  },
  { name: 'before draining the old replica', plan: { activity: 'drainUnserved', when: 'before', action: 'kill' } },
  { name: 'after retiring the old replica', plan: { activity: 'retireUnserved', when: 'after', action: 'kill' } },
];

export const POINTS: Record<Strategy, KillPoint[]> = { 'blue-green': BLUE_GREEN_POINTS, rolling: ROLLING_POINTS };

/** Two replicas; rolling one at a time. */
export function deployVersion(f: Fixture, strategy: Strategy, version: string, env: Record<string, string> = {}) {
  const health = { deadline: '2m', interval: '200ms' };
  return strategy === 'blue-green'
    ? f.deploy(version, { env, health })
    : f.deployRolling(version, { replicas: 2, env, health, strategy: { maxSurge: 1, maxUnavailable: 0 } });
}

/** Given: v1 live on two replicas, deployed by an in-process worker that is then stopped. */
export async function givenLiveV1(f: Fixture, strategy: Strategy): Promise<void> {
  await f.startInProcessWorker();
  const result = await f.result(await deployVersion(f, strategy, '1.0.0'));
  if (result.outcome !== 'succeeded') throw new Error(`v1 did not deploy: ${result.reason}`);
  await f.stopInProcessWorker();
}

export interface KillRun {
  id: string;
  result: DeploymentResult;
  report: LoadReport;
  invariants: InvariantReport;
}

/**
 * When: v2 is deployed under load by a chaos worker that dies at `point`; a fresh worker takes over (after `during`,
 * if given: e.g. a server restart). Then: the result, the load report, the invariants (v2 on two replicas).
 */
export async function killDuringUpgrade(
  f: Fixture,
  strategy: Strategy,
  point: KillPoint,
  during?: () => Promise<void>,
): Promise<KillRun> {
  const chaos = await startChaosWorker(f, point.plan);
  const { value, report } = await underLoad(f.load(), async () => {
    const id = await deployVersion(f, strategy, '2.0.0', point.env);
    await chaos.reached();
    await chaos.exited;
    await during?.();
    const survivor = await f.startWorkerProcess();
    try {
      return { id, result: await f.result(id) };
    } finally {
      await kill9(survivor);
    }
  });
  const invariants = await checkInvariants(f, value.id, { version: '2.0.0', replicas: 2 });
  return { ...value, report, invariants };
}

/** A small seeded generator (mulberry32): the random kill points of a run are reproducible from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random kill point of a strategy: any step, at a random moment before, during or after it. */
export function randomPoint(random: () => number, strategy: Strategy): KillPoint {
  const base = POINTS[strategy][Math.floor(random() * POINTS[strategy].length)] as KillPoint;
  const when = (['before', 'during', 'after'] as const)[Math.floor(random() * 3)] as KillWhen;
  const afterMs = Math.floor(random() * 1500);
  return {
    name: `${base.plan.activity} ${when}${when === 'during' ? ` +${afterMs} ms` : ''}`,
    plan: { ...base.plan, when, ...(when === 'during' ? { afterMs } : {}) },
    env: base.env,
  };
}
