// Turns a validated chat/completion body into engine requests: template, tokenize, limits, sampling.

import { EdgewiseError, InvalidRequestError } from '../runtime/errors.js';
import type { SamplingParams } from '../runtime/generation/sampling-params.js';
import type { GenerationRequest } from '../runtime/worker/engine-api.js';
import { wishFromApi } from '../runtime/memory/wish.js';
import type { ServingEngine, ServingTokenizer } from './engine-port.js';
import type { ChatMessage, ChatRequest, CompletionRequest } from './schemas.js';

export type EndpointKind = 'chat' | 'completion';

/** One choice of the response: which prompt it continues and the engine request (minus ids/deadline). */
export interface PlannedChoice {
  index: number;
  promptIndex: number;
  request: Omit<GenerationRequest, 'reqId' | 'deadlineMs'>;
}

/** Everything the response writers need, decided before anything reaches the engine. */
export interface GenerationPlan {
  kind: EndpointKind;
  model: string;
  /** Token count of each distinct prompt (usage counts each prompt once, however large n is). */
  promptTokenCounts: number[];
  choices: PlannedChoice[];
  stream: boolean;
  includeUsage: boolean;
  /** Whether choices carry logprobs (chat: `logprobs: true`; completions: `logprobs` set). */
  wantLogprobs: boolean;
}

/** OpenAI's legacy completions default when max_tokens is absent. */
const COMPLETION_DEFAULT_MAX_TOKENS = 16;

export function resolveModel(engine: ServingEngine, modelId: string, requested: string | undefined): string {
  if (requested !== undefined && requested !== modelId) {
    throw new EdgewiseError('not_found', `model '${requested}' does not exist; this server serves '${modelId}'`, { param: 'model' });
  }
  return modelId;
}

export function requireTokenizer(engine: ServingEngine): ServingTokenizer {
  if (!engine.tokenizer) throw new InvalidRequestError('the served model has no tokenizer, so it cannot take text requests');
  return engine.tokenizer;
}

/** Flattens OpenAI message content (string, text parts, null) into the plain text a template takes. */
export function messageText(message: ChatMessage, index: number): { role: string; content: string } {
  if (message.role === 'tool' || message.role === 'function') {
    throw new InvalidRequestError(`messages[${index}]: role '${message.role}' needs tool calling, which is not implemented`, `messages.${index}.role`);
  }
  const role = message.role === 'developer' ? 'system' : message.role;
  const content = message.content;
  if (content === undefined || content === null) return { role, content: '' };
  if (typeof content === 'string') return { role, content };
  const texts: string[] = [];
  for (const part of content) {
    if (part.type !== 'text' || typeof part.text !== 'string') {
      throw new InvalidRequestError(`messages[${index}]: content part type '${part.type}' is not implemented; only 'text' is`, `messages.${index}.content`);
    }
    texts.push(part.text);
  }
  return { role, content: texts.join('') };
}

/** Renders the chat template; the server does this on the main thread (EngineClient exposes the template). */
export function renderChat(engine: ServingEngine, messages: ChatMessage[], addGenerationPrompt = true): number[] {
  const tokenizer = requireTokenizer(engine);
  if (!engine.chatTemplate) throw new InvalidRequestError('the served model has no chat template; use /v1/completions');
  const text = engine.chatTemplate.render(messages.map(messageText), { addGenerationPrompt });
  // NOTE: templates write their own special tokens (BOS included), so don't add them twice.
  return tokenizer.encode(text, { addSpecialTokens: false });
}

function rejectUnimplemented(body: ChatRequest): void {
  if (body.tools && body.tools.length > 0) throw new InvalidRequestError('tools (function calling) are not implemented by this server', 'tools');
  if (body.functions && body.functions.length > 0) throw new InvalidRequestError('functions (function calling) are not implemented by this server', 'functions');
  const choice = body.tool_choice;
  if (choice !== undefined && choice !== null && choice !== 'none' && choice !== 'auto') {
    throw new InvalidRequestError('tool_choice other than "none" is not implemented by this server', 'tool_choice');
  }
  if (body.function_call !== undefined && body.function_call !== null && body.function_call !== 'none' && body.function_call !== 'auto') {
    throw new InvalidRequestError('function_call is not implemented by this server', 'function_call');
  }
  if (body.response_format && body.response_format.type !== 'text') {
    throw new InvalidRequestError(`response_format type '${body.response_format.type}' is not implemented; only 'text' is`, 'response_format.type');
  }
}

function samplingFrom(body: ChatRequest | CompletionRequest, vocabSize: number, topLogprobs: number | null): SamplingParams {
  const logitBias = new Map<number, number>();
  for (const [key, bias] of Object.entries(body.logit_bias ?? {})) {
    const tokenId = Number(key);
    if (!Number.isInteger(tokenId) || tokenId < 0 || tokenId >= vocabSize) {
      throw new InvalidRequestError(`logit_bias: '${key}' is not a token id of this model (0..${vocabSize - 1})`, 'logit_bias');
    }
    logitBias.set(tokenId, bias);
  }
  const topK = body.top_k ?? 0;
  return {
    temperature: body.temperature ?? 1,
    topK: topK < 0 ? 0 : topK,
    topP: body.top_p ?? 1,
    minP: body.min_p ?? 0,
    seed: body.seed ?? null,
    repetitionPenalty: body.repetition_penalty ?? 1,
    presencePenalty: body.presence_penalty ?? 0,
    frequencyPenalty: body.frequency_penalty ?? 0,
    logitBias,
    topLogprobs,
  };
}

function checkLength(maxContext: number, promptLen: number, maxTokens: number | null, param: string): number {
  if (promptLen === 0) throw new InvalidRequestError('the prompt is empty', param === 'max_tokens' ? 'prompt' : 'messages');
  const limit = maxTokens ?? maxContext - promptLen;
  if (promptLen + Math.max(limit, 1) > maxContext) {
    throw new InvalidRequestError(
      `this model's maximum context length is ${maxContext} tokens; the request has ${promptLen} prompt tokens` +
        (maxTokens === null ? ', leaving no room for a completion' : ` and asks for ${maxTokens} completion tokens (${promptLen + maxTokens} in all)`),
      maxTokens === null ? 'messages' : param,
    );
  }
  return limit;
}

function stopList(stop: string | string[] | null | undefined): string[] {
  if (stop === undefined || stop === null) return [];
  return (typeof stop === 'string' ? [stop] : stop).filter((s) => s.length > 0);
}

/** Builds n choices per prompt; with a seed, choice i uses seed + i so that choices differ but replay. */
function fanOut(prompts: number[][], n: number, maxTokens: (promptLen: number) => number, sampling: SamplingParams, stop: string[]): PlannedChoice[] {
  const choices: PlannedChoice[] = [];
  prompts.forEach((promptIds, promptIndex) => {
    const limit = maxTokens(promptIds.length);
    for (let i = 0; i < n; i++) {
      const seed = sampling.seed === null ? null : sampling.seed + i;
      choices.push({
        index: choices.length,
        promptIndex,
        request: { promptIds, maxTokens: limit, sampling: { ...sampling, seed }, stop, stopTokenIds: [] },
      });
    }
  });
  return choices;
}

export function planChat(engine: ServingEngine, modelId: string, body: ChatRequest): GenerationPlan {
  const model = resolveModel(engine, modelId, body.model);
  rejectUnimplemented(body);
  if (body.top_logprobs !== undefined && body.top_logprobs !== null && body.logprobs !== true) {
    throw new InvalidRequestError('top_logprobs needs logprobs set to true', 'top_logprobs');
  }
  const promptIds = renderChat(engine, body.messages);
  const requested = body.max_completion_tokens ?? body.max_tokens ?? null;
  const param = body.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens';
  const topLogprobs = body.logprobs === true ? (body.top_logprobs ?? 0) : null;
  const sampling = samplingFrom(body, engine.config.vocabSize, topLogprobs);
  const choices = fanOut([promptIds], body.n ?? 1, (len) => checkLength(engine.maxContext, len, requested, param), sampling, stopList(body.stop));
  for (const c of choices) c.request.adaptive = wishFromApi(body.edgewise);
  return {
    kind: 'chat',
    model,
    promptTokenCounts: [promptIds.length],
    choices,
    stream: body.stream === true,
    includeUsage: body.stream_options?.include_usage === true,
    wantLogprobs: topLogprobs !== null,
  };
}

export function planCompletion(engine: ServingEngine, modelId: string, body: CompletionRequest): GenerationPlan {
  const model = resolveModel(engine, modelId, body.model);
  if (body.echo === true) throw new InvalidRequestError('echo is not implemented by this server', 'echo');
  if (body.suffix) throw new InvalidRequestError('suffix (fill-in-the-middle) is not implemented by this server', 'suffix');
  const n = body.n ?? 1;
  if (body.best_of !== undefined && body.best_of !== null && body.best_of !== n) {
    throw new InvalidRequestError('best_of other than n is not implemented by this server', 'best_of');
  }
  const tokenizer = requireTokenizer(engine);
  const texts = typeof body.prompt === 'string' ? [body.prompt] : body.prompt;
  const prompts = texts.map((text) => tokenizer.encode(text, { addSpecialTokens: true }));
  const topLogprobs = body.logprobs ?? null;
  const sampling = samplingFrom(body, engine.config.vocabSize, topLogprobs);
  const requested = body.max_tokens ?? COMPLETION_DEFAULT_MAX_TOKENS;
  const choices = fanOut(prompts, n, (len) => checkLength(engine.maxContext, len, requested, 'max_tokens'), sampling, stopList(body.stop));
  for (const c of choices) c.request.adaptive = wishFromApi(body.edgewise);
  return {
    kind: 'completion',
    model,
    promptTokenCounts: prompts.map((p) => p.length),
    choices,
    stream: body.stream === true,
    includeUsage: body.stream_options?.include_usage === true,
    wantLogprobs: topLogprobs !== null,
  };
}
