// Typed errors shared by every layer; the server maps them to OpenAI error objects in one place.

/**
 * What kind of failure this is. Request-level kinds fail one request and leave the process
 * serving; `engine_fatal` means the engine cannot go on.
 */
export type ErrorKind =
  | 'invalid_request' // bad input from a client or CLI user
  | 'not_found' // unknown model, route, request id
  | 'model_format' // a model file or folder is malformed, truncated or corrupt
  | 'unsupported_model' // well-formed, but an architecture or field we do not implement
  | 'queue_full' // admission control refused the request
  | 'unavailable' // not ready or draining
  | 'timeout' // a deadline passed
  | 'budget' // a memory budget cannot be met
  | 'engine_fatal'; // the engine is broken; the process should restart

export class EdgewiseError extends Error {
  readonly kind: ErrorKind;
  /** The request field or file the error is about, when there is one (OpenAI `param`). */
  readonly param: string | null;

  constructor(kind: ErrorKind, message: string, options?: { param?: string | null; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EdgewiseError';
    this.kind = kind;
    this.param = options?.param ?? null;
  }
}

/** A model file or folder is malformed; `where` names the file, tensor or segment. */
export class ModelFormatError extends EdgewiseError {
  constructor(where: string, problem: string, options?: { cause?: unknown }) {
    super('model_format', `${where}: ${problem}`, { param: where, cause: options?.cause });
    this.name = 'ModelFormatError';
  }
}

/** A model uses an architecture or config field that Edgewise does not implement. */
export class UnsupportedModelError extends EdgewiseError {
  constructor(message: string) {
    super('unsupported_model', message);
    this.name = 'UnsupportedModelError';
  }
}

/** A model path (folder or container file) does not exist. */
export class ModelNotFoundError extends EdgewiseError {
  constructor(path: string) {
    super('not_found', `model not found: ${path} (no such file or directory)`, { param: path });
    this.name = 'ModelNotFoundError';
  }
}

export class InvalidRequestError extends EdgewiseError {
  constructor(message: string, param: string | null = null) {
    super('invalid_request', message, { param });
    this.name = 'InvalidRequestError';
  }
}

export function isEdgewiseError(value: unknown): value is EdgewiseError {
  return value instanceof EdgewiseError;
}
