// POST /v1/chat/completions and /v1/completions over HTTP, streaming (SSE) or not.

import { GenerationSession, type SessionSink } from './generation-session.js';
import type { HttpExchange } from './http-exchange.js';
import { JsonSink, SseSink } from './http-sinks.js';
import type { Transport } from './observer.js';
import { planChat, planCompletion, type EndpointKind, type GenerationPlan } from './request-mapper.js';
import { chatRequestSchema, completionRequestSchema, parseBody, parseJson } from './schemas.js';
import { checkAdmission, type ServerContext } from './server-context.js';

/** Validates and plans a request body of either endpoint (shared by HTTP and WebSocket). */
export function planRequest(ctx: ServerContext, kind: EndpointKind, json: unknown): GenerationPlan {
  checkAdmission(ctx);
  return kind === 'chat'
    ? planChat(ctx.engine, ctx.modelId, parseBody(chatRequestSchema, json))
    : planCompletion(ctx.engine, ctx.modelId, parseBody(completionRequestSchema, json));
}

/** A session registered with the server, so drain can wait for it. */
export function newSession(ctx: ServerContext, plan: GenerationPlan, transport: Transport, id?: string): GenerationSession {
  const session = new GenerationSession(ctx.engine, plan, {
    transport,
    observers: ctx.observers,
    requestTimeoutMs: ctx.requestTimeoutMs,
    id,
    onEnd: (s) => ctx.sessions.delete(s),
  });
  ctx.sessions.add(session);
  return session;
}

export function handleGeneration(ctx: ServerContext, ex: HttpExchange, kind: EndpointKind, body: Buffer): void {
  const plan = planRequest(ctx, kind, parseJson(body.toString('utf8')));
  const session = newSession(ctx, plan, plan.stream ? 'sse' : 'http');
  const sink: SessionSink & { open?: () => void } = plan.stream ? new SseSink(ex, session, ctx.pingIntervalMs, ctx.maxPendingBytes) : new JsonSink(ex, session);
  try {
    session.start(sink);
  } catch (err) {
    ctx.sessions.delete(session);
    throw err;
  }
  // The client hanging up frees the engine slots at the next step.
  ex.onAbort(() => session.cancel());
  sink.open?.();
}
