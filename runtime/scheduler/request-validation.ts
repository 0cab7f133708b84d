// Checks a GenerationRequest against the engine's limits; shared by the scheduler and the client (which throws synchronously).

import { InvalidRequestError } from '../errors.js';
import type { GenerationRequest } from '../worker/engine-api.js';

export interface RequestLimits {
  /** Most tokens (prompt + output) one sequence may hold. */
  maxContext: number;
  vocabSize: number;
}

/** Throws InvalidRequestError naming the problem; a prompt must leave room for at least one output token. */
export function validateRequest(req: GenerationRequest, limits: RequestLimits): void {
  const n = req.promptIds.length;
  if (n === 0) throw new InvalidRequestError('the prompt is empty', 'prompt');
  if (n >= limits.maxContext) {
    throw new InvalidRequestError(
      `the prompt has ${n} tokens but the context holds ${limits.maxContext} (at least one must remain for the completion)`,
      'prompt',
    );
  }
  for (const id of req.promptIds) {
    if (!Number.isInteger(id) || id < 0 || id >= limits.vocabSize) {
      throw new InvalidRequestError(`prompt token id ${id} is outside the vocabulary (0..${limits.vocabSize - 1})`, 'prompt');
    }
  }
  if (!Number.isInteger(req.maxTokens) || req.maxTokens < 1) throw new InvalidRequestError(`max_tokens must be ≥ 1, got ${req.maxTokens}`, 'max_tokens');
}
