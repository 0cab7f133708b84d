// Non-generating routes: models, tokenize/detokenize, health, readiness and engine stats.

import { EdgewiseError, InvalidRequestError } from '../runtime/errors.js';
import type { HttpExchange } from './http-exchange.js';
import { renderChat, requireTokenizer, resolveModel } from './request-mapper.js';
import { detokenizeRequestSchema, parseBody, parseJson, tokenizeRequestSchema } from './schemas.js';
import type { ServerContext } from './server-context.js';

function modelCard(ctx: ServerContext): object {
  return { id: ctx.modelId, object: 'model', created: ctx.createdAt, owned_by: 'edgewise', max_model_len: ctx.engine.maxContext };
}

export function listModels(ctx: ServerContext, ex: HttpExchange): void {
  ex.json(200, { object: 'list', data: [modelCard(ctx)] });
}

export function getModel(ctx: ServerContext, ex: HttpExchange, id: string): void {
  if (decodeURIComponent(id) !== ctx.modelId) throw new EdgewiseError('not_found', `model '${id}' does not exist`, { param: 'model' });
  ex.json(200, modelCard(ctx));
}

/** vLLM's /tokenize: a prompt (special tokens added by default) or chat messages (templated). */
export function tokenize(ctx: ServerContext, ex: HttpExchange, body: Buffer): void {
  const req = parseBody(tokenizeRequestSchema, parseJson(body.toString('utf8')));
  resolveModel(ctx.engine, ctx.modelId, req.model);
  const tokenizer = requireTokenizer(ctx.engine);
  const tokens =
    'messages' in req
      ? renderChat(ctx.engine, req.messages, req.add_generation_prompt ?? true)
      : tokenizer.encode(req.prompt, { addSpecialTokens: req.add_special_tokens ?? true });
  ex.json(200, { count: tokens.length, max_model_len: ctx.engine.maxContext, tokens });
}

export function detokenize(ctx: ServerContext, ex: HttpExchange, body: Buffer): void {
  const req = parseBody(detokenizeRequestSchema, parseJson(body.toString('utf8')));
  resolveModel(ctx.engine, ctx.modelId, req.model);
  const tokenizer = requireTokenizer(ctx.engine);
  const bad = req.tokens.findIndex((t) => t >= tokenizer.vocabSize);
  if (bad >= 0) throw new InvalidRequestError(`tokens[${bad}]: ${req.tokens[bad]} is outside the vocabulary (0..${tokenizer.vocabSize - 1})`, `tokens.${bad}`);
  ex.json(200, { prompt: tokenizer.decode(req.tokens) });
}

export function health(ex: HttpExchange): void {
  ex.json(200, { status: 'ok' });
}

function stats(ctx: ServerContext): { running: number; waiting: number; sessions: number } {
  const { running, waiting } = ctx.engine.stats();
  return { running, waiting, sessions: ctx.sessions.size };
}

/** 200 while the model is loaded and not draining; the body carries the engine's load either way. */
export function ready(ctx: ServerContext, ex: HttpExchange): void {
  if (ctx.draining) {
    const body = { error: { message: 'the server is draining', type: 'unavailable_error', param: null, code: 'draining' }, ...stats(ctx) };
    ex.json(503, body);
    return;
  }
  ex.json(200, { status: 'ready', model: ctx.modelId, ...stats(ctx) });
}

/** GET /v1/edgewise/stats: running and waiting sequences in the engine, open API sessions. */
export function engineStats(ctx: ServerContext, ex: HttpExchange): void {
  ex.json(200, { model: ctx.modelId, draining: ctx.draining, ...stats(ctx) });
}
