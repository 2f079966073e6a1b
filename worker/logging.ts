/**
 * Structured JSON logs (pino): one JSON object a line on stderr, with `deploymentId` on every line of a deployment.
 * The Temporal SDK's logger interface is bridged to pino, so the SDK's own lines, the workflows' `log` (through the
 * SDK's sink) and the activities' `Context.current().log` all come out the same way; the SDK attaches the workflow id
 * to workflow and activity lines, and it is copied to `deploymentId` (a deployment's id is its workflow id).
 *
 * No secrets: the fields named below are redacted wherever they appear (two levels deep), and the hook server never
 * hands the token to a logger (client/outsystems/server.ts logs the URL with the token parameter masked).
 */
import pino from 'pino';
import type { DestinationStream, Logger as PinoLogger } from 'pino';
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';

/** Field names whose values never reach a log line. */
export const REDACTED_FIELDS = [
  'token',
  'authorization',
  'password',
  'secret',
  'apiKey',
  'api_key',
  'accessKeyId',
  'secretAccessKey',
  'sessionToken',
  'cookie',
  // An activity's task token completes or fails it: a capability, kept out of logs.
  'taskToken',
];

const redactPaths = REDACTED_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** The log level from CUTOVER_LOG_LEVEL (default info); a bad value is an error naming the variable. */
export function logLevelFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const level = (env.CUTOVER_LOG_LEVEL ?? 'info').toLowerCase();
  if (!(LEVELS as readonly string[]).includes(level)) {
    throw new Error(`CUTOVER_LOG_LEVEL must be one of ${LEVELS.join(', ')} (got "${env.CUTOVER_LOG_LEVEL}")`);
  }
  return level;
}

/** A pino logger writing JSON lines to `destination` (default: stderr, synchronously, so nothing is lost at exit). */
export function createLogger(
  options: { name?: string; level?: string; destination?: DestinationStream } = {},
): PinoLogger {
  return pino(
    {
      name: options.name ?? 'cutover',
      level: options.level ?? logLevelFromEnv(),
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: redactPaths, censor: '[redacted]' },
    },
    options.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

const TO_PINO: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Copies the workflow id the SDK attaches (workflow and activity lines) to `deploymentId`. */
function withDeployment(meta: LogMetadata | undefined): Record<string, unknown> {
  if (!meta) return {};
  const workflowId: unknown = meta.workflowId;
  return typeof workflowId === 'string' ? { deploymentId: workflowId, ...meta } : { ...meta };
}

/** The Temporal SDK's Logger, writing through pino (for `Runtime.install({ logger })`). */
export class TemporalPinoLogger implements Logger {
  constructor(readonly pino: PinoLogger) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    this.pino[TO_PINO[level] ?? 'info'](withDeployment(meta), message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}
