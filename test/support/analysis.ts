/**
 * The analysis template the integration tests and the recorder share: `error-rate`, the canary's 5xx ratio and the
 * requests it got over the last 20 s, from `cutover_router_requests_total` (the local router's own /metrics, or what
 * mtail makes of nginx's metrics log: the same names), judged once 20 requests reached it, twice.
 */
export function errorRateAnalysis(prometheusUrl: string, metric: Record<string, unknown> = {}) {
  const canary = 'backend="{{args.canary}}"';
  return {
    templates: {
      'error-rate': {
        metrics: [
          {
            name: 'error-rate',
            provider: {
              prometheus: {
                address: prometheusUrl,
                query:
                  `sum(rate(cutover_router_requests_total{${canary},code_class="5xx"}[20s])) / ` +
                  `sum(rate(cutover_router_requests_total{${canary}}[20s]))`,
                samples: `sum(increase(cutover_router_requests_total{${canary}}[20s]))`,
              },
            },
            interval: '4s',
            initialDelay: '3s',
            count: 2,
            minSamples: 20,
            successCondition: 'result < 0.05',
            failureCondition: 'result >= 0.05',
            ...metric,
          },
        ],
      },
    } as Record<string, { metrics: Record<string, unknown>[] }>,
    insufficientSamples: { deadline: '1m', policy: 'fail' },
  };
}
