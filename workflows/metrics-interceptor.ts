/**
 * Deployment metrics from inside the sandbox, without a command: a workflow interceptor that tells the worker, through
 * a sink, when a deployment starts and how it ends. Sink calls are not commands (nothing lands in history) and the
 * worker drops them during replay (`callDuringReplay: false`, the default), so a deployment is counted once, by the
 * worker that ran it live, and replays are unaffected. The worker installs this module with its
 * `interceptors.workflowModules` (worker/metrics.ts holds the sink's worker side).
 */
import { ContinueAsNew, isCancellation, proxySinks, workflowInfo } from '@temporalio/workflow';
import type { Sinks, WorkflowInterceptorsFactory } from '@temporalio/workflow';

export interface DeploymentMetricsSinks extends Sinks {
  cutoverMetrics: {
    deploymentStarted(strategy: string): void;
    deploymentFinished(strategy: string, outcome: string): void;
  };
}

/** The deployment workflows by type, as the spec's `strategy.type` names them; other workflows are not counted. */
export const STRATEGY_OF_WORKFLOW: Readonly<Record<string, string>> = {
  blueGreenDeployment: 'blue-green',
  rollingUpdateDeployment: 'rolling',
  canaryDeployment: 'canary',
};

/**
 * A deployment's result carries its outcome (succeeded | rolled-back | failed); a thrown error is "failed", a
 * cancellation "cancelled".
 */
function outcomeOf(result: unknown): string {
  const outcome = (result as { outcome?: unknown } | null)?.outcome;
  return typeof outcome === 'string' ? outcome : 'failed';
}

export const interceptors: WorkflowInterceptorsFactory = () => {
  const strategy = STRATEGY_OF_WORKFLOW[workflowInfo().workflowType];
  if (!strategy) return {};
  const { cutoverMetrics } = proxySinks<DeploymentMetricsSinks>();
  return {
    inbound: [
      {
        async execute(input, next) {
          // A run continued from another is the same deployment: started once, by its first run.
          if (workflowInfo().continuedFromExecutionRunId === undefined) cutoverMetrics.deploymentStarted(strategy);
          try {
            const result = await next(input);
            cutoverMetrics.deploymentFinished(strategy, outcomeOf(result));
            return result;
          } catch (err) {
            if (!(err instanceof ContinueAsNew)) {
              cutoverMetrics.deploymentFinished(strategy, isCancellation(err) ? 'cancelled' : 'failed');
            }
            throw err;
          }
        },
      },
    ],
  };
};
