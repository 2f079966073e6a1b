/** The spec a workflow runs with: normalised once before start and used as recorded, or validated in the workflow. */
import { ApplicationFailure } from '@temporalio/common';
import { parseSpecFor } from '../../workflows/parse-spec';
import { isBlueGreenSpec, isRollingSpec, validateSpec } from '../../workflows/spec';
import type { DeploymentSpec } from '../../workflows/spec';
import { blueGreenSpec } from '../support/specs';

function normalised(): DeploymentSpec {
  const result = validateSpec(blueGreenSpec());
  if (!result.ok) throw new Error('the test spec is valid');
  return result.spec;
}

describe('parseSpecFor', () => {
  test('a spec normalised before start is used exactly as recorded, not re-run through the schema of today', () => {
    // A value today's schema would refuse stands in for a schema change made after the run started.
    const recorded = { ...normalised(), replicas: 0 };
    expect(validateSpec(recorded).ok).toBe(false);

    const spec = parseSpecFor({ spec: recorded, specNormalized: true }, 'blue-green', isBlueGreenSpec);

    expect(spec).toBe(recorded);
    expect(spec.replicas).toBe(0);
  });

  test('a spec as written (a run started from the Temporal UI) is validated, naming the field', () => {
    const run = () => parseSpecFor({ spec: { ...blueGreenSpec(), replicas: 0 } }, 'blue-green', isBlueGreenSpec);
    expect(run).toThrow(ApplicationFailure);
    expect(run).toThrow(/replicas/);
  });

  test('either way, a spec of another strategy is refused as non-retryable', () => {
    for (const input of [{ spec: normalised(), specNormalized: true }, { spec: blueGreenSpec() }]) {
      let error: unknown;
      try {
        parseSpecFor(input, 'rolling', isRollingSpec);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ApplicationFailure);
      expect((error as ApplicationFailure).nonRetryable).toBe(true);
      expect((error as ApplicationFailure).message).toMatch(/strategy.type: expected "rolling"/);
    }
  });

  test('a normalised input without a strategy is refused, not a workflow-task crash', () => {
    const { strategy: _strategy, ...noStrategy } = normalised();
    expect(() => parseSpecFor({ spec: noStrategy, specNormalized: true }, 'blue-green', isBlueGreenSpec)).toThrow(
      ApplicationFailure,
    );
  });
});
