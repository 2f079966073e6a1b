/**
 * Stubbed activities for workflow unit tests, typed as the real ones
 * (`Activities`). A small in-memory "world" (rules, backends, replica sets)
 * so assertions can be made on the end state, plus a log of every call.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Activities } from '../../activities';
import type { RollingActivities } from '../../activities/rolling';
import type { HookActivities } from '../../activities/outsystems';
import { ErrorType } from '../../activities/errors';
import { addressesOf, summarize } from '../../activities/blue-green';
import type { ModuleRule, ReplicaSetSpec, ReplicaSetState } from '../../activities/ports';
import type { ModuleVerification } from '../../workflows/types';
import { createSpecActivities } from '../../activities/spec';
import { unusedActivities } from './unused-activities';
import type { CanaryActivities } from '../../activities/canary';
import type { createAnalysisActivities } from '../../activities/analysis';

type AnalysisActivities = ReturnType<typeof createAnalysisActivities>;

export interface WorldOptions {
  application: string;
  modules: string[];
  /** Live at the start: a color, "rolling" (left by a rolling update), or null = platform server (migration). */
  liveColor: 'blue' | 'green' | 'rolling' | null;
  liveVersion?: string;
  /** Replicas of the live set (default 2). */
  liveReplicas?: number;
  /** Make awaitHealthy fail (unhealthy green). */
  unhealthy?: boolean;
  /** Make awaitHealthy block (heartbeating) until cancelled. */
  blockProbing?: boolean;
  /** Make verifyTraffic report not-verified. */
  verifyFails?: boolean;
}

export interface World {
  activities: Activities;
  calls: { name: string; input: unknown }[];
  rules: Record<string, ModuleRule>;
  backends: Record<string, string[]>;
  sets: Record<string, ReplicaSetState>;
  previews: Record<string, string>;
  called(name: keyof Activities): number;
}

export function createWorld(options: WorldOptions): World {
  const rules: Record<string, ModuleRule> = {};
  const backends: Record<string, string[]> = {};
  const sets: Record<string, ReplicaSetState> = {};
  const previews: Record<string, string> = {};
  const calls: World['calls'] = [];
  let nextPort = 20000;

  if (options.liveColor) {
    const name = `${options.application}-${options.liveVersion ?? '1'}-${options.liveColor}`;
    const replicas = Array.from({ length: options.liveReplicas ?? 2 }, (_, i) => ({
      id: `${name}-${i}`,
      address: `http://127.0.0.1:${nextPort++}`,
      running: true,
    }));
    sets[name] = {
      name,
      application: options.application,
      version: options.liveVersion ?? '1',
      slot: options.liveColor,
      desired: replicas.length,
      replicas,
    };
    const backend = `${options.application}-${options.liveColor}`;
    backends[backend] = replicas.map((r) => r.address);
    for (const m of options.modules) rules[m] = { module: m, backends: [{ backend, weight: 100 }] };
  }

  const record = (name: string, input: unknown) => calls.push({ name, input: JSON.parse(JSON.stringify(input)) });

  /** Creates or scales the set (replicas launched once each, as the real platform does). */
  const provision = (spec: ReplicaSetSpec, name: string, input: unknown): ReplicaSetState => {
    record(name, input);
    const existing = sets[spec.name];
    const replicas = existing?.replicas ?? [];
    while (replicas.length < spec.replicas) {
      replicas.push({
        id: `${spec.name}-${replicas.length}`,
        address: `http://127.0.0.1:${nextPort++}`,
        running: true,
      });
    }
    sets[spec.name] = { ...spec, desired: spec.replicas, replicas: replicas.slice(0, spec.replicas) };
    return sets[spec.name] as ReplicaSetState;
  };

  /** The health wait: blocks (heartbeating) until cancelled, or fails, as the options say. */
  const probe = async (name: string, input: { expected: number; replicaSet: string }): Promise<void> => {
    record(name, input);
    if (options.blockProbing) {
      const ctx = Context.current();
      for (;;) {
        ctx.heartbeat();
        await ctx.sleep(50); // rejects with CancelledFailure once the workflow cancels
      }
    }
    if (options.unhealthy) {
      throw ApplicationFailure.create({
        type: ErrorType.ReplicasUnhealthy,
        message: `0/${input.expected} replicas of ${input.replicaSet} healthy by the deadline`,
        nonRetryable: true,
      });
    }
  };

  const activities: Activities = {
    ...unusedActivities<CanaryActivities & AnalysisActivities>(['measureSplit', 'measureMetric'], 'blue-green'),
    ...unusedActivities<HookActivities>(
      [
        'prepareBuild',
        'readBuild',
        'snapshotConfig',
        'readRelease',
        'recordRelease',
        'forgetRelease',
        'listApplicationReplicaSets',
        'isWorkflowRunning',
        'awaitWorkflowClosed',
        'writeHookResult',
      ],
      'blue-green',
    ),
    ...unusedActivities<RollingActivities>(
      [
        'discoverRolling',
        'ensureRollingReplicaSet',
        'launchReplicas',
        'awaitReplicasHealthy',
        'registerTargets',
        'deregisterTargets',
        'retireReplicas',
      ],
      'blue-green',
    ),
    // The real spec schema: pure code, as in production.
    ...createSpecActivities(),
    async discoverLive(input) {
      record('discoverLive', input);
      return {
        liveColor: options.liveColor,
        liveVersion: options.liveColor ? (options.liveVersion ?? '1') : null,
        rules: JSON.parse(JSON.stringify(rules)),
        replicaSets: Object.values(sets).map((s) => JSON.parse(JSON.stringify(s))),
      };
    },
    async discoverLiveSets(input) {
      record('discoverLiveSets', input);
      return {
        liveColor: options.liveColor,
        liveVersion: options.liveColor ? (options.liveVersion ?? '1') : null,
        rules: JSON.parse(JSON.stringify(rules)),
        replicaSets: Object.values(sets).map(({ name, application, version, slot, desired, replicas }) => ({
          name,
          application,
          version,
          slot,
          desired,
          launched: replicas.length,
        })),
      };
    },
    async provisionReplicaSet(input) {
      return provision(input.replicaSet, 'provisionReplicaSet', input);
    },
    async scaleUpReplicaSet(input) {
      const set = provision(input.replicaSet, 'scaleUpReplicaSet', input);
      return summarize(set);
    },
    async awaitReplicaSetHealthy(input) {
      await probe('awaitReplicaSetHealthy', input);
      const set = sets[input.replicaSet] as ReplicaSetState;
      return { healthy: set.replicas.length, replicas: set.replicas.length };
    },
    async publishReplicaSet(input) {
      record('publishReplicaSet', input);
      const set = sets[input.replicaSet] as ReplicaSetState;
      backends[input.backend] = addressesOf(set);
      return { targets: set.replicas.length };
    },
    async drainReplicaSets(input) {
      record('drainReplicaSets', input);
      return { drained: true, remaining: 0, observed: true };
    },
    async awaitHealthy(input) {
      await probe('awaitHealthy', input);
      const set = sets[input.replicaSet] as ReplicaSetState;
      return { healthy: set.replicas.length, replicas: set.replicas };
    },
    async publishBackend(input) {
      record('publishBackend', input);
      backends[input.backend] = input.targets;
    },
    async removeBackend(input) {
      record('removeBackend', input);
      delete backends[input.backend];
    },
    async setPreview(input) {
      record('setPreview', input);
      for (const m of input.modules) previews[m] = input.backend;
    },
    async removePreview(input) {
      record('removePreview', input);
      for (const m of input.modules) delete previews[m];
    },
    async switchTraffic(input) {
      record('switchTraffic', input);
      for (const m of input.modules) rules[m] = { module: m, backends: input.backends };
    },
    async restoreRules(input) {
      record('restoreRules', input);
      for (const m of input.modules) {
        const previous = input.rules[m];
        if (previous) rules[m] = previous;
        else delete rules[m];
      }
    },
    async verifyTraffic(input) {
      record('verifyTraffic', input);
      return input.modules.map((module): ModuleVerification => ({
        module,
        result: options.verifyFails
          ? { status: 'not-verified', detail: 'answered from 1' }
          : { status: 'verified', detail: `answered from ${input.version}` },
      }));
    },
    async drainTargets(input) {
      record('drainTargets', input);
      return { drained: true, remaining: 0 };
    },
    async retireReplicaSet(input) {
      record('retireReplicaSet', input);
      delete sets[input.name];
    },
  };

  return {
    activities,
    calls,
    rules,
    backends,
    sets,
    previews,
    called: (name) => calls.filter((c) => c.name === name).length,
  };
}
