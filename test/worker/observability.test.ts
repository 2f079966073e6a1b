/**
 * The worker's logging, configuration and metrics pieces on their own: pino lines with the deployment id and
 * without secrets, environment values refused with the variable named, the gate's age read from a status, and the
 * activity interceptor and sinks counting into the registry.
 */
import { Writable } from 'node:stream';
import type { Context as ActivityContext } from '@temporalio/activity';
import { portFromEnv } from '../../worker/health';
import { createLogger, logLevelFromEnv, TemporalPinoLogger } from '../../worker/logging';
import { createWorkerMetrics, gateOpenedAt } from '../../worker/metrics';
import { durationFromEnv, sdkMetricsAddressFromEnv } from '../../worker/operate';
import type { DeploymentStatus } from '../../workflows/types';
import { STRATEGY_OF_WORKFLOW } from '../../workflows/metrics-interceptor';

function memoryLogger() {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = new TemporalPinoLogger(createLogger({ name: 'test', level: 'debug', destination }));
  const lines = () =>
    chunks
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines, text: () => chunks.join('') };
}

describe('worker logging', () => {
  test('the workflow id the SDK attaches becomes deploymentId; levels map to pino levels', () => {
    const { logger, lines } = memoryLogger();
    logger.info('phase', { workflowId: 'deploy-prod-shop', phase: 'Switching' });
    logger.warn('no deployment here');
    logger.debug('detail', { workflowId: 'deploy-prod-shop' });
    expect(lines()).toEqual([
      expect.objectContaining({ level: 'info', msg: 'phase', deploymentId: 'deploy-prod-shop', phase: 'Switching' }),
      expect.not.objectContaining({ deploymentId: expect.anything() }),
      expect.objectContaining({ level: 'debug', deploymentId: 'deploy-prod-shop' }),
    ]);
    expect(lines()[1]).toMatchObject({ level: 'warn', name: 'test' });
  });

  test('secret fields are redacted, at the top level and nested', () => {
    const { logger, text, lines } = memoryLogger();
    logger.info('call', {
      token: 'tok-123456',
      taskToken: 'AAAbase64task',
      request: { authorization: 'Bearer sekrit-bearer', headers: { cookie: 'sid=cookie-value' } },
      aws: { secretAccessKey: 'aws-secret-key', region: 'eu-west-1' },
    });
    for (const secret of ['tok-123456', 'AAAbase64task', 'sekrit-bearer', 'cookie-value', 'aws-secret-key']) {
      expect(text()).not.toContain(secret);
    }
    expect(lines()[0]).toMatchObject({ token: '[redacted]', aws: { region: 'eu-west-1' } });
  });

  test('a bad log level is refused, naming the variable', () => {
    expect(logLevelFromEnv({})).toBe('info');
    expect(logLevelFromEnv({ CUTOVER_LOG_LEVEL: 'WARN' })).toBe('warn');
    expect(() => logLevelFromEnv({ CUTOVER_LOG_LEVEL: 'loud' })).toThrow(/CUTOVER_LOG_LEVEL must be one of/);
  });
});

describe('worker configuration from the environment', () => {
  test('durations', () => {
    expect(durationFromEnv('CUTOVER_SHUTDOWN_GRACE', 30_000, {})).toBe(30_000);
    expect(durationFromEnv('CUTOVER_SHUTDOWN_GRACE', 1, { CUTOVER_SHUTDOWN_GRACE: '45s' })).toBe(45_000);
    expect(durationFromEnv('CUTOVER_SHUTDOWN_GRACE', 1, { CUTOVER_SHUTDOWN_GRACE: '2m' })).toBe(120_000);
    expect(durationFromEnv('CUTOVER_SHUTDOWN_GRACE', 1, { CUTOVER_SHUTDOWN_GRACE: '1500' })).toBe(1_500);
    expect(() => durationFromEnv('CUTOVER_SHUTDOWN_GRACE', 1, { CUTOVER_SHUTDOWN_GRACE: 'soon' })).toThrow(
      /CUTOVER_SHUTDOWN_GRACE must be a duration/,
    );
  });

  test('ports and the SDK exporter address', () => {
    expect(portFromEnv('CUTOVER_METRICS_PORT', 9464, {})).toBe(9464);
    expect(portFromEnv('CUTOVER_METRICS_PORT', 9464, { CUTOVER_METRICS_PORT: '0' })).toBe(0);
    expect(() => portFromEnv('CUTOVER_METRICS_PORT', 9464, { CUTOVER_METRICS_PORT: '70000' })).toThrow(
      /CUTOVER_METRICS_PORT must be a port number/,
    );
    expect(sdkMetricsAddressFromEnv({})).toBe('0.0.0.0:9465');
    expect(sdkMetricsAddressFromEnv({ CUTOVER_SDK_METRICS_ADDRESS: 'off' })).toBeUndefined();
    expect(sdkMetricsAddressFromEnv({ CUTOVER_SDK_METRICS_ADDRESS: '[::1]:9100' })).toBe('[::1]:9100');
    expect(() => sdkMetricsAddressFromEnv({ CUTOVER_SDK_METRICS_ADDRESS: '9465' })).toThrow(
      /CUTOVER_SDK_METRICS_ADDRESS must be host:port/,
    );
  });
});

describe('worker metrics', () => {
  const status = (pending: boolean, events: { at: string; message: string }[]) =>
    ({ approval: { mode: 'required', pending, onTimeout: 'rollback' }, events }) as Pick<
      DeploymentStatus,
      'approval' | 'events'
    >;

  test('the gate opened at its newest "waiting for approval" event', () => {
    const events = [
      { at: '2026-01-01T10:00:00.000Z', message: 'waiting for approval at pause 1 (timeout x, then rollback)' },
      { at: '2026-01-01T10:05:00.000Z', message: 'approved by alice' },
      { at: '2026-01-01T10:07:00.000Z', message: 'waiting for approval at promotion (timeout y, then rollback)' },
    ];
    expect(gateOpenedAt(status(true, events))).toBe(Date.parse('2026-01-01T10:07:00.000Z'));
    expect(gateOpenedAt(status(false, events))).toBeUndefined();
    expect(gateOpenedAt(status(true, []))).toBeUndefined();
  });

  test('activities are timed by type and outcome; rule switches and deployments are counted', async () => {
    const m = createWorkerMetrics({ defaultMetrics: false });
    const ctx = (activityType: string) => ({ info: { activityType } }) as unknown as ActivityContext;
    const run = (type: string, body: () => Promise<unknown>) =>
      m.activityInterceptor(ctx(type)).inbound?.execute?.({ args: [], headers: {} }, body);
    await run('switchTraffic', async () => undefined);
    await expect(run('restoreRules', async () => Promise.reject(new Error('router down')))).rejects.toThrow(
      'router down',
    );
    let during = -1;
    await run('awaitReplicaSetHealthy', async () => {
      during = m.inFlight();
    });
    expect(during).toBe(1);
    expect(m.inFlight()).toBe(0);
    const info = {} as never;
    await m.sinks.cutoverMetrics.deploymentStarted.fn(info, 'canary');
    await m.sinks.cutoverMetrics.deploymentFinished.fn(info, 'canary', 'rolled-back');
    expect(m.sinks.cutoverMetrics.deploymentFinished.callDuringReplay).toBe(false);

    const text = await m.registry.metrics();
    expect(text).toContain('cutover_step_duration_seconds_count{activity="switchTraffic",outcome="ok"} 1');
    expect(text).toContain('cutover_step_duration_seconds_count{activity="restoreRules",outcome="error"} 1');
    expect(text).toContain('cutover_rule_switches_total{activity="switchTraffic",outcome="ok"} 1');
    expect(text).toContain('cutover_rule_switches_total{activity="restoreRules",outcome="error"} 1');
    expect(text).not.toContain('cutover_rule_switches_total{activity="awaitReplicaSetHealthy"');
    expect(text).toContain('cutover_deployments_started_total{strategy="canary"} 1');
    expect(text).toContain('cutover_deployments_finished_total{strategy="canary",outcome="rolled-back"} 1');
    expect(text).toContain('cutover_rollbacks_total{strategy="canary"} 1');
  });

  test('the strategies are named as the spec names them', () => {
    expect(Object.values(STRATEGY_OF_WORKFLOW).sort()).toEqual(['blue-green', 'canary', 'rolling']);
  });
});
