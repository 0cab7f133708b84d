// The server's pino logger and the one-line-per-request log record.

import { pino, type Logger, type DestinationStream, type LevelWithSilent } from 'pino';
import type { RequestEnd, RequestStart } from './request-record.js';

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

/** JSON lines on stdout (or `destination`), at `level`; pino's standard `err` serializer keeps causes. */
export function createServerLogger(options: { level: LevelWithSilent; destination?: DestinationStream }): Logger {
  return pino(
    { level: options.level, base: { service: 'edgewise' }, serializers: { err: pino.stdSerializers.errWithCause } },
    options.destination,
  );
}

/**
 * One line per finished request: info when it ended normally, warn for client-caused
 * failures (4xx), error for server-side ones, with the error (and its cause) attached.
 */
export function logRequestEnd(logger: Logger, start: RequestStart, end: RequestEnd, extra?: { status?: number }): void {
  const record: Record<string, unknown> = {
    reqId: start.reqId,
    model: start.model,
    protocol: start.protocol,
    promptTokens: end.promptTokens,
    completionTokens: end.completionTokens,
    queueMs: end.queueMs,
    ttftMs: end.ttftMs,
    totalMs: end.totalMs,
    finishReason: end.finishReason,
  };
  if (end.depth !== null) record.depth = end.depth;
  if (end.precision !== null) record.precision = end.precision;
  if (end.error === undefined) {
    logger.info(record, 'request done');
    return;
  }
  record.error = { type: end.error.type, message: end.error.message, status: extra?.status };
  if (end.error.cause !== undefined) record.err = end.error.cause;
  if (extra?.status !== undefined && extra.status < 500) logger.warn(record, 'request failed');
  else logger.error(record, 'request failed');
}
