// The /v1/ws protocol: multiplexed chat/completion requests over JSON or msgpack frames.

import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_socket_context_t } from 'uWebSockets.js';
import { EdgewiseError, InvalidRequestError } from '../runtime/errors.js';
import type { TokenLogprob } from '../runtime/worker/engine-api.js';
import { checkApiKey } from './auth.js';
import type { WsServerEvent } from './client/ws-protocol-types.js';
import { mapError, type MappedError } from './error-map.js';
import type { ApiFinishReason, GenerationSession, SessionSink, Usage } from './generation-session.js';
import { chatLogprobs } from './openai-format.js';
import { newSession, planRequest } from './routes-generation.js';
import type { ServerContext } from './server-context.js';
import { packr, WsOutbox } from './ws-outbox.js';

interface SocketState {
  outbox: WsOutbox | null;
  requests: Map<string, { session: GenerationSession; binary: boolean }>;
}

const MAX_ID_LENGTH = 256;

/** Streams one request's session as protocol events. */
class WsSink implements SessionSink {
  private readonly texts: string[];
  constructor(
    private readonly state: SocketState,
    private readonly id: string,
    private readonly session: GenerationSession,
    private readonly binary: boolean,
  ) {
    this.texts = session.plan.choices.map(() => '');
  }
  private send(event: WsServerEvent): void {
    this.state.outbox?.send(event, this.binary);
  }
  onDelta(choice: number, text: string, tokenIds: number[], logprobs: TokenLogprob[] | null): void {
    if (text.length === 0 && tokenIds.length === 0) return;
    this.texts[choice] += text;
    const lp = this.session.plan.wantLogprobs && logprobs ? chatLogprobs(logprobs) : null;
    this.send({ type: 'response.output_text.delta', id: this.id, choice, delta: text, token_ids: tokenIds, logprobs: lp });
  }
  onChoiceDone(choice: number, finishReason: ApiFinishReason): void {
    this.send({ type: 'response.output_text.done', id: this.id, choice, text: this.texts[choice], finish_reason: finishReason });
    this.finishReasons[choice] = finishReason;
  }
  readonly finishReasons: (ApiFinishReason | null)[] = [];
  onComplete(usage: Usage): void {
    this.state.requests.delete(this.id);
    this.send(doneEvent(this.id, this.session, 'completed', this.finishReasons, usage));
  }
  onError(error: MappedError): void {
    this.state.requests.delete(this.id);
    this.send({ type: 'error', id: this.id, error: error.body.error });
  }
}

function doneEvent(id: string, session: GenerationSession, status: 'completed' | 'cancelled', reasons: (ApiFinishReason | null)[], usage: Usage): WsServerEvent {
  const choices = session.plan.choices.map((c) => ({ index: c.index, finish_reason: reasons[c.index] ?? null }));
  return { type: 'response.done', id, response_id: session.id, status, choices, usage, ...(session.adaptive ? { edgewise: session.adaptive } : {}) };
}

function decodeFrame(message: ArrayBuffer, isBinary: boolean): unknown {
  try {
    const bytes = Buffer.from(message);
    return isBinary ? packr.unpack(bytes) : JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new InvalidRequestError(`undecodable ${isBinary ? 'msgpack' : 'JSON'} frame: ${(err as Error).message}`);
  }
}

function frameId(frame: unknown): string | null {
  if (frame === null || typeof frame !== 'object') return null;
  const id = (frame as { id?: unknown }).id;
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH ? id : null;
}

function onMessage(ctx: ServerContext, ws: WebSocket<SocketState>, message: ArrayBuffer, isBinary: boolean): void {
  const state = ws.getUserData();
  let id: string | null = null;
  try {
    const frame = decodeFrame(message, isBinary) as Record<string, unknown>;
    id = frameId(frame);
    if (id === null) throw new InvalidRequestError(`every message needs a string "id" of 1..${MAX_ID_LENGTH} characters`, 'id');
    if (frame.type === 'response.cancel' || frame.type === 'cancel') return cancel(state, id);
    if (frame.type !== 'response.create') throw new InvalidRequestError(`unknown message type ${JSON.stringify(frame.type)}`, 'type');
    if (state.requests.has(id)) throw new InvalidRequestError(`request id '${id}' is already in use on this socket`, 'id');
    const endpoint = frame.endpoint;
    if (endpoint !== 'chat' && endpoint !== 'completion') throw new InvalidRequestError('endpoint must be "chat" or "completion"', 'endpoint');
    const plan = planRequest(ctx, endpoint, frame.request);
    const session = newSession(ctx, plan, 'ws');
    const sink = new WsSink(state, id, session, isBinary);
    session.start(sink);
    state.requests.set(id, { session, binary: isBinary });
    state.outbox?.send({ type: 'response.created', id, response_id: session.id, model: plan.model, created: session.created, num_choices: plan.choices.length }, isBinary);
  } catch (err) {
    if (!(err instanceof EdgewiseError)) ctx.logger.error({ err }, 'websocket message handler failed');
    const mapped = mapError(err);
    ctx.observers.onRejected({ type: mapped.body.error.type, status: mapped.status, transport: 'ws' });
    state.outbox?.send({ type: 'error', id, error: mapped.body.error }, isBinary);
  }
}

function cancel(state: SocketState, id: string): void {
  const entry = state.requests.get(id);
  if (!entry) throw new EdgewiseError('not_found', `no running request with id '${id}'`, { param: 'id' });
  state.requests.delete(id);
  entry.session.cancel();
  state.outbox?.dropRequest(id);
  state.outbox?.send(doneEvent(id, entry.session, 'cancelled', [], entry.session.usage()), entry.binary);
}

/** A reader too slow for its byte cap loses that request, with an error saying why. */
function overflow(state: SocketState, id: string): void {
  const entry = state.requests.get(id);
  if (!entry) return;
  state.requests.delete(id);
  entry.session.cancel();
  const error = { message: 'the client read too slowly; the request was ended to bound server memory', type: 'overloaded', param: null, code: 'slow_consumer' };
  state.outbox?.send({ type: 'error', id, error }, entry.binary);
}

export function registerWebSocket(app: TemplatedApp, ctx: ServerContext): void {
  app.ws<SocketState>('/v1/ws', {
    maxPayloadLength: ctx.maxBodyBytes,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    // uWS drops frames past maxBackpressure; the outbox stops at wsHighWaterBytes, well below it.
    maxBackpressure: ctx.wsHighWaterBytes * 4 + 1024 * 1024,
    upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const authorization = req.getHeader('authorization');
      const queryKey = req.getQuery('api_key') ?? '';
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      try {
        if (ctx.draining) throw new EdgewiseError('unavailable', 'the server is shutting down and takes no new connections');
        checkApiKey(ctx.apiKey, authorization, queryKey);
      } catch (err) {
        const mapped = mapError(err);
        if (!aborted) res.cork(() => res.writeStatus(mapped.statusLine).writeHeader('content-type', 'application/json').end(JSON.stringify(mapped.body)));
        return;
      }
      const state: SocketState = { outbox: null, requests: new Map() };
      res.upgrade(state, key, protocol, extensions, context);
    },
    open: (ws) => {
      const state = ws.getUserData();
      state.outbox = new WsOutbox(ws, {
        highWaterBytes: ctx.wsHighWaterBytes,
        maxPendingBytes: ctx.maxPendingBytes,
        onOverflow: (id) => overflow(state, id),
      });
    },
    message: (ws, message, isBinary) => onMessage(ctx, ws, message, isBinary),
    drain: (ws) => ws.getUserData().outbox?.flush(),
    close: (ws) => {
      const state = ws.getUserData();
      if (state.outbox) state.outbox.closed = true;
      // The client went away: every request it had running frees its engine slot.
      for (const { session } of state.requests.values()) session.cancel();
      state.requests.clear();
    },
  });
}
