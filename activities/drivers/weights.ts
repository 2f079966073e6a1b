/** Checks the routers share on a module's weighted backends before they change anything. */
import { CutoverError, ErrorType } from '../errors';
import type { WeightedBackend } from '../ports';

/** Every weight is an integer 0..100 and at least one is above 0; otherwise a non-retryable error naming it. */
export function checkWeights(backends: WeightedBackend[]): void {
  for (const b of backends) {
    if (!Number.isInteger(b.weight) || b.weight < 0 || b.weight > 100) {
      throw new CutoverError(ErrorType.RouterRequestRejected, `weight of ${b.backend} must be 0..100, got ${b.weight}`);
    }
  }
  if (!backends.some((b) => b.weight > 0)) {
    throw new CutoverError(ErrorType.RouterRequestRejected, 'at least one backend needs a weight above 0');
  }
}
