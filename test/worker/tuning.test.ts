/**
 * The worker's cache and concurrency (worker/tuning.ts): the SDK's defaults unless set, the environment under the
 * caller's `tuning`, bad values refused with the variable named.
 */
import { resolveTuning, tuningFromEnv } from '../../worker/tuning';

describe('worker tuning', () => {
  test('unset: the SDK sizes the cache, 40 workflow tasks and 100 activities', () => {
    expect(resolveTuning({}, {})).toEqual({
      maxConcurrentWorkflowTaskExecutions: 40,
      maxConcurrentActivityTaskExecutions: 100,
    });
  });

  test('the environment sets each one; the caller wins over it, and undefined leaves it', () => {
    const env = {
      CUTOVER_MAX_CACHED_WORKFLOWS: '600',
      CUTOVER_MAX_CONCURRENT_WORKFLOW_TASKS: '20',
      CUTOVER_MAX_CONCURRENT_ACTIVITIES: '300',
    };
    expect(tuningFromEnv(env)).toEqual({
      maxCachedWorkflows: 600,
      maxConcurrentWorkflowTaskExecutions: 20,
      maxConcurrentActivityTaskExecutions: 300,
    });
    expect(resolveTuning({ maxConcurrentActivityTaskExecutions: 50, maxCachedWorkflows: undefined }, env)).toEqual({
      maxCachedWorkflows: 600,
      maxConcurrentWorkflowTaskExecutions: 20,
      maxConcurrentActivityTaskExecutions: 50,
    });
  });

  test('workflow tasks never exceed a cache; no cache (0) leaves them', () => {
    expect(resolveTuning({ maxCachedWorkflows: 10 }, {}).maxConcurrentWorkflowTaskExecutions).toBe(10);
    expect(resolveTuning({ maxCachedWorkflows: 0 }, {}).maxConcurrentWorkflowTaskExecutions).toBe(40);
  });

  test.each([
    ['CUTOVER_MAX_CACHED_WORKFLOWS', '-1'],
    ['CUTOVER_MAX_CACHED_WORKFLOWS', 'lots'],
    ['CUTOVER_MAX_CONCURRENT_WORKFLOW_TASKS', '0'],
    ['CUTOVER_MAX_CONCURRENT_ACTIVITIES', '2.5'],
  ])('%s=%s is refused, naming the variable', (name, value) => {
    expect(() => tuningFromEnv({ [name]: value })).toThrow(new RegExp(`^${name} must be a whole number`));
  });
});
