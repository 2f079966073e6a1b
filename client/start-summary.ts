/**
 * What the Temporal UI shows of a deployment before anything runs: a one-line summary ("blue-green shop 2.0.0 to
 * production") and a few lines of details (modules, replicas, platform, router, the strategy's main settings), given
 * as the workflow's staticSummary / staticDetails at start. Only names and counts from the spec: never a URL, a
 * credential or a header value, since these land in the workflow's history.
 */
import type { DeploymentSpec } from '../workflows/spec';

export function startSummary(spec: DeploymentSpec): string {
  return `${spec.strategy.type} ${spec.application} ${spec.version} to ${spec.environment}`;
}

export function startDetails(spec: DeploymentSpec): string {
  return [
    `**Modules:** ${spec.modules.join(', ')}`,
    `**Replicas:** ${spec.replicas}`,
    `**Platform:** ${spec.platform.kind}; **router:** ${spec.router.kind}`,
    `**Strategy:** ${strategyLine(spec.strategy)}`,
  ]
    .map((l) => `- ${l}`)
    .join('\n');
}

function strategyLine(strategy: DeploymentSpec['strategy']): string {
  switch (strategy.type) {
    case 'blue-green':
      return (
        `blue-green, ${strategy.switchMode}, approval ${strategy.approval.mode}, ` +
        `preview ${strategy.preview.enabled ? 'on' : 'off'}, rollback window ${seconds(strategy.rollbackWindow)}`
      );
    case 'rolling':
      return `rolling, maxSurge ${strategy.maxSurge}, maxUnavailable ${strategy.maxUnavailable}, ${strategy.steps.length} pause(s)`;
    case 'canary':
      return `canary, ${strategy.steps.length} step(s)`;
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}
