/** The summary and details a deployment is started with (what the Temporal UI shows before anything runs). */
import { startDetails, startSummary } from '../../client/start-summary';
import { validateSpec } from '../../workflows/spec';
import type { DeploymentSpec } from '../../workflows/spec';
import { blueGreenSpec, canarySpec, rollingSpec } from '../support/specs';
import type { DeploymentSpecInput } from '../../workflows/spec';

function normalised(input: DeploymentSpecInput): DeploymentSpec {
  const result = validateSpec(input);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.spec;
}

test('a blue-green deployment is summed up as strategy, application, version and environment', () => {
  const spec = normalised(blueGreenSpec({ modules: ['Catalog', 'Cart'] }));
  expect(startSummary(spec)).toBe(`blue-green ${spec.application} ${spec.version} to ${spec.environment}`);
  const details = startDetails(spec);
  expect(details).toContain('- **Modules:** Catalog, Cart');
  expect(details).toContain(`- **Replicas:** ${spec.replicas}`);
  expect(details).toContain('**Strategy:** blue-green, all-at-once, approval');
  expect(details.split('\n')).toHaveLength(4);
});

test('rolling and canary details name their own settings', () => {
  const rolling = normalised(rollingSpec());
  expect(startSummary(rolling)).toMatch(/^rolling /);
  expect(startDetails(rolling)).toContain(
    `maxSurge ${rolling.strategy.type === 'rolling' ? rolling.strategy.maxSurge : ''}`,
  );
  const canary = normalised(canarySpec());
  expect(startSummary(canary)).toMatch(/^canary /);
  expect(startDetails(canary)).toMatch(/\*\*Strategy:\*\* canary, \d+ step\(s\)/);
});

test('nothing of the router or platform but its kind: no URL lands in the history', () => {
  const spec = normalised(blueGreenSpec());
  const text = startSummary(spec) + startDetails(spec);
  expect(text).not.toMatch(/https?:\/\//);
  expect(text).toContain(`**router:** ${spec.router.kind}`);
});
