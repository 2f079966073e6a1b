/**
 * The workflow Container Remove runs as the application's child (`deploy-<environment>-<application>`).
 */
import { backendName } from '../../activities/ports';
import { budgeted } from '../activity-presets';
import { routerBudgetMs } from '../budgets';
import { awaitDrained, platformCall, quickApiCall } from './presets';
import type { RetireApplicationInput, RetireApplicationResult } from './types';

const DRAIN_TIMEOUT_MS = 30_000;

/**
 * Container Remove's work, with the application's business id: delete the
 * modules' explicit rules (the default rule serves them again), drain, retire
 * every replica set, remove the backends.
 */
export async function retireApplication(input: RetireApplicationInput): Promise<RetireApplicationResult> {
  const { platform, router, modules, application } = input;
  const sets = await quickApiCall.listApplicationReplicaSets({ platform, application });
  // A rule change per module (nginx reloads for each): the call's budget is derived from the module count.
  const rules = budgeted(routerBudgetMs(router, modules.length));
  await rules.removePreview({ router, modules });
  await rules.restoreRules({ router, modules, rules: {} });
  const targets = sets.flatMap((s) => s.replicas.map((r) => r.address).filter((a) => a !== ''));
  await awaitDrained.drainTargets({ router, targets, timeoutMs: DRAIN_TIMEOUT_MS });
  for (const set of sets) await platformCall.retireReplicaSet({ platform, name: set.name });
  // The rolling backend is what Update Configurations leaves serving; removed last, so that a removal that was under
  // way when it was added replays its blue and green steps unchanged.
  for (const color of ['blue', 'green', 'rolling'] as const) {
    await quickApiCall.removeBackend({ router, backend: backendName(application, color) });
  }
  return { retiredReplicaSets: sets.map((s) => s.name), rulesRemoved: modules };
}
