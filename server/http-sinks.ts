// Session sinks that answer over HTTP: one JSON body, or an SSE stream with keep-alive pings.

import type { TokenLogprob } from '../runtime/worker/engine-api.js';
import type { ApiFinishReason, GenerationSession, SessionSink, Usage } from './generation-session.js';
import type { MappedError } from './error-map.js';
import type { HttpExchange } from './http-exchange.js';
import { ChoiceAccumulator, ChunkBuilder, fullResponse } from './openai-format.js';

/** Collects every choice and answers once with chat.completion / text_completion. */
export class JsonSink implements SessionSink {
  private readonly ex: HttpExchange;
  private readonly session: GenerationSession;
  private readonly choices: ChoiceAccumulator[];

  constructor(ex: HttpExchange, session: GenerationSession) {
    this.ex = ex;
    this.session = session;
    this.choices = session.plan.choices.map(() => new ChoiceAccumulator());
  }

  onDelta(choiceIndex: number, text: string, _tokenIds: number[], logprobs: TokenLogprob[] | null): void {
    this.choices[choiceIndex].add(text, logprobs);
  }

  onChoiceDone(choiceIndex: number, finishReason: ApiFinishReason): void {
    this.choices[choiceIndex].finishReason = finishReason;
  }

  onComplete(usage: Usage): void {
    const { plan } = this.session;
    const head = { id: this.session.id, created: this.session.created, model: plan.model };
    const body = fullResponse(plan.kind, head, this.choices, plan.wantLogprobs, usage);
    this.ex.json(200, this.session.adaptive ? { ...body, edgewise: this.session.adaptive } : body);
  }

  onError(error: MappedError): void {
    this.ex.send(error.status, 'application/json', JSON.stringify(error.body));
  }
}

/** Streams `data: {chunk}` events, a usage chunk when asked, then `data: [DONE]`. */
export class SseSink implements SessionSink {
  private readonly ex: HttpExchange;
  private readonly chunks: ChunkBuilder;
  private readonly wantLogprobs: boolean;
  private readonly pingIntervalMs: number;
  private pingTimer: NodeJS.Timeout | undefined;
  private readonly session: GenerationSession;
  private readonly maxBacklogBytes: number;

  constructor(ex: HttpExchange, session: GenerationSession, pingIntervalMs: number, maxBacklogBytes: number) {
    this.ex = ex;
    this.session = session;
    this.maxBacklogBytes = maxBacklogBytes;
    const { plan } = session;
    this.wantLogprobs = plan.wantLogprobs;
    this.pingIntervalMs = pingIntervalMs;
    this.chunks = new ChunkBuilder(plan.kind, { id: session.id, created: session.created, model: plan.model }, plan.choices.length, plan.includeUsage, plan.wantLogprobs);
  }

  /** Sends the headers; called once the engine accepted the request (a refusal is still a plain error). */
  open(): void {
    const { ex } = this;
    const pingIntervalMs = this.pingIntervalMs;
    ex.beginStream('text/event-stream');
    // Role chunks go out at once: clients see the stream open even during a long prefill.
    for (const chunk of this.chunks.roleChunks()) this.event(chunk);
    // NOTE: a comment line keeps proxies and clients from timing out while the prompt is prefilled
    // or the request waits in the queue; it is only sent when nothing else went out meanwhile.
    this.pingTimer = setInterval(() => {
      if (Date.now() - ex.lastWriteMs >= pingIntervalMs) ex.write(': ping\n\n');
    }, Math.max(10, Math.floor(pingIntervalMs / 3)));
    ex.onAbort(() => clearInterval(this.pingTimer));
  }

  private event(payload: object): void {
    this.ex.write(`data: ${JSON.stringify(payload)}\n\n`, this.maxBacklogBytes);
  }

  onDelta(choiceIndex: number, text: string, _tokenIds: number[], logprobs: TokenLogprob[] | null): void {
    // Tokens held back as a possible stop string produce empty text; only logprobs make that worth a chunk.
    if (text.length === 0 && !(this.wantLogprobs && logprobs && logprobs.length > 0)) return;
    this.event(this.chunks.delta(choiceIndex, text, logprobs));
  }

  onChoiceDone(choiceIndex: number, finishReason: ApiFinishReason): void {
    const chunk = this.chunks.finish(choiceIndex, finishReason);
    this.event(this.session.adaptive ? { ...chunk, edgewise: this.session.adaptive } : chunk);
  }

  onComplete(usage: Usage): void {
    const usageChunk = this.chunks.usage(usage);
    if (usageChunk) this.event(usageChunk);
    this.close();
  }

  onError(error: MappedError): void {
    // Headers are gone already, so the error travels in-band (as vLLM does), then the stream ends.
    this.event(error.body);
    this.close();
  }

  private close(): void {
    clearInterval(this.pingTimer);
    this.ex.end('data: [DONE]\n\n');
  }
}
