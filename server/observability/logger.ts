// The server's pino logger (JSON lines, level from --log-level, errors logged with their cause chain).

import { pino, type Logger, type DestinationStream, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Validates a `--log-level` value. */
export function parseLogLevel(value: string): LevelWithSilent {
  const level = value.trim().toLowerCase() as LevelWithSilent;
  if (!LOG_LEVELS.includes(level)) {
    throw new RangeError(`log level must be one of ${LOG_LEVELS.join(', ')}, got "${value}"`);
  }
  return level;
}

/**
 * JSON lines on stdout (or `destination`) at `level`. Every line carries the model id, so the
 * server's one-line-per-request record (server/request-log.ts) names it; `err` is serialized with
 * its `cause` chain.
 */
export function createServerLogger(options: { level: LevelWithSilent; model?: string; destination?: DestinationStream }): Logger {
  const base: Record<string, string> = { service: 'edgewise' };
  if (options.model !== undefined) base.model = options.model;
  return pino({ level: options.level, base, serializers: { err: pino.stdSerializers.errWithCause } }, options.destination);
}
