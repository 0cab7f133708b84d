// Zod schemas of the request bodies the server accepts; unknown fields are stripped, not rejected.

import { z } from 'zod';
import { InvalidRequestError } from '../runtime/errors.js';
import { PRECISIONS } from '../runtime/container/precision.js';

/** Precision rungs a request may name (`edgewise.precision`); the engine still refuses rungs its backend does not serve. */
const PRECISION_NAMES = PRECISIONS.map((p) => p.name) as [string, ...string[]];

const textPart = z.object({ type: z.literal('text'), text: z.string() });
// Other part types (image_url, input_audio, ...) are recognised only to reject them by name.
const otherPart = z.object({ type: z.string() }).passthrough();

const chatMessage = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(z.union([textPart, otherPart])), z.null()]).optional(),
  name: z.string().optional(),
});

/** Fields shared by chat and completions (OpenAI names, plus vLLM's top_k/min_p/repetition_penalty). */
const common = {
  model: z.string().optional(),
  max_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.number().int().min(-1).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  seed: z.number().int().nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(16)]).nullish(),
  n: z.number().int().min(1).max(8).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  repetition_penalty: z.number().gt(0).max(10).nullish(),
  logit_bias: z.record(z.string(), z.number().min(-100).max(100)).nullish(),
  user: z.string().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  // Edgewise extension (OpenAI clients send it via extra_body): adaptive-serving wishes, see docs/adaptive.md.
  edgewise: z
    .object({ quality: z.enum(['exact', 'high', 'balanced', 'fast']).optional(), min_depth: z.number().int().min(1).optional(), precision: z.enum(PRECISION_NAMES).optional() })
    .nullish(),
};

export const chatRequestSchema = z.object({
  ...common,
  messages: z.array(chatMessage).min(1),
  max_completion_tokens: z.number().int().min(1).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  // Recognised only so that asking for them fails loudly instead of being ignored.
  tools: z.array(z.unknown()).nullish(),
  tool_choice: z.unknown().optional(),
  functions: z.array(z.unknown()).nullish(),
  function_call: z.unknown().optional(),
  response_format: z.object({ type: z.string() }).passthrough().nullish(),
});

export const completionRequestSchema = z.object({
  ...common,
  prompt: z.union([z.string(), z.array(z.string()).min(1).max(16)]),
  logprobs: z.number().int().min(0).max(5).nullish(),
  echo: z.boolean().nullish(),
  best_of: z.number().int().min(1).nullish(),
  suffix: z.string().nullish(),
});

export const tokenizeRequestSchema = z.union([
  z.object({ model: z.string().optional(), prompt: z.string(), add_special_tokens: z.boolean().optional() }),
  z.object({ model: z.string().optional(), messages: z.array(chatMessage).min(1), add_generation_prompt: z.boolean().optional() }),
]);

export const detokenizeRequestSchema = z.object({
  model: z.string().optional(),
  tokens: z.array(z.number().int().min(0)),
});

export type ChatRequest = z.infer<typeof chatRequestSchema>;
export type CompletionRequest = z.infer<typeof completionRequestSchema>;
export type TokenizeRequest = z.infer<typeof tokenizeRequestSchema>;
export type DetokenizeRequest = z.infer<typeof detokenizeRequestSchema>;
export type ChatMessage = z.infer<typeof chatMessage>;

/** Validates `body` or throws an InvalidRequestError naming the first offending field. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidRequestError('request body must be a JSON object');
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : null;
  const message = issue ? `${param ?? 'body'}: ${issue.message}` : 'invalid request body';
  throw new InvalidRequestError(message, param);
}

/** Parses JSON text, turning syntax errors into a 400. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidRequestError(`invalid JSON in request body: ${(err as Error).message}`);
  }
}
