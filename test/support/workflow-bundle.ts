/** Cutover's workflows bundled once per test file, for every worker a test starts (in-process or on a test server). */
import { bundleWorkflowCode } from '@temporalio/worker';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { payloadCodecsFromEnv } from '../../shared/codec';
import { encryptedFailuresPath } from '../../worker';

const bundles = new Map<boolean, Promise<WorkflowBundleWithSourceMap>>();

/**
 * The bundle a worker started now would build for itself: with payload encryption configured in the environment
 * (CUTOVER_CODEC_KEYS_FILE), its failure converter seals failure messages (shared/encrypted-failures.ts).
 */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  const encrypted = payloadCodecsFromEnv().length > 0;
  let bundle = bundles.get(encrypted);
  if (!bundle) {
    bundle = bundleWorkflowCode({
      workflowsPath: require.resolve('../../workflows'),
      ...(encrypted ? { failureConverterPath: encryptedFailuresPath() } : {}),
      logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
    });
    bundles.set(encrypted, bundle);
  }
  return bundle;
}
