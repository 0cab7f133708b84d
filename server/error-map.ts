// The one place that turns any thrown value into an OpenAI error object and an HTTP status.

import { EdgewiseError, isEdgewiseError } from '../runtime/errors.js';

/** OpenAI's error body: `{"error": {message, type, param, code}}`. */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface MappedError {
  status: number;
  /** Status line for uWS's writeStatus, e.g. "429 Too Many Requests". */
  statusLine: string;
  body: OpenAiErrorBody;
}

/** The Bearer token is missing or wrong (401). Server-only, so it lives here rather than runtime/. */
export class AuthenticationError extends EdgewiseError {
  constructor(message: string) {
    super('invalid_request', message);
    this.name = 'AuthenticationError';
  }
}

/** The request body is larger than --max-body-bytes (413). */
export class PayloadTooLargeError extends EdgewiseError {
  readonly limitBytes: number;
  constructor(limitBytes: number) {
    super('invalid_request', `request body exceeds the limit of ${limitBytes} bytes`);
    this.name = 'PayloadTooLargeError';
    this.limitBytes = limitBytes;
  }
}

/** No route matches the method and path (404). */
export class RouteNotFoundError extends EdgewiseError {
  constructor(method: string, url: string) {
    super('not_found', `no route for ${method.toUpperCase()} ${url}`);
    this.name = 'RouteNotFoundError';
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function statusLine(status: number): string {
  return `${status} ${STATUS_TEXT[status] ?? 'Error'}`;
}

function make(status: number, type: string, message: string, param: string | null, code: string | null): MappedError {
  return { status, statusLine: statusLine(status), body: { error: { message, type, param, code } } };
}

/**
 * Maps an error to what the client sees. Request-level kinds keep their message (it was written
 * for the client); anything unexpected becomes a 500 without internal details.
 */
export function mapError(err: unknown): MappedError {
  if (!isEdgewiseError(err)) return make(500, 'server_error', 'internal server error', null, null);
  if (err instanceof AuthenticationError) return make(401, 'authentication_error', err.message, null, 'invalid_api_key');
  if (err instanceof PayloadTooLargeError) return make(413, 'invalid_request_error', err.message, null, 'payload_too_large');
  switch (err.kind) {
    case 'invalid_request':
      return make(400, 'invalid_request_error', err.message, err.param, null);
    case 'not_found':
      return make(404, 'not_found_error', err.message, err.param, err.param === 'model' ? 'model_not_found' : null);
    case 'queue_full':
      return make(429, 'overloaded', err.message, null, 'queue_full');
    case 'unavailable':
      return make(503, 'unavailable_error', err.message, null, null);
    case 'budget':
      return make(503, 'unavailable_error', err.message, null, 'memory_budget');
    case 'timeout':
      return make(504, 'timeout_error', err.message, null, 'request_timeout');
    case 'model_format':
    case 'unsupported_model':
    case 'engine_fatal':
      return make(500, 'server_error', err.message, null, err.kind);
  }
}

/** Maps the `error` of an engine 'done' event (kind as a string) the same way. */
export function mapEngineFailure(failure: { kind: string; message: string } | undefined): MappedError {
  const kind = failure?.kind ?? 'engine_fatal';
  const known = ['invalid_request', 'not_found', 'queue_full', 'unavailable', 'budget', 'timeout', 'model_format', 'unsupported_model', 'engine_fatal'];
  const safeKind = (known.includes(kind) ? kind : 'engine_fatal') as EdgewiseError['kind'];
  return mapError(new EdgewiseError(safeKind, failure?.message ?? 'generation failed'));
}
