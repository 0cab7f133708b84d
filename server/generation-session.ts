// Runs one API request's choices on the engine and funnels their events to one sink, whatever the transport.

import type { FinishReason, GenerationEvent, TokenLogprob } from '../runtime/worker/engine-api.js';
import type { AdaptiveChoice } from '../runtime/memory/governor.js';
import type { ServingEngine } from './engine-port.js';
import { mapEngineFailure, mapError, type MappedError } from './error-map.js';
import type { ObserverSet, Transport } from './observer.js';
import type { GenerationPlan } from './request-mapper.js';
import { wallClockMs } from './wall-clock.js';

/** The finish reasons OpenAI clients know. */
export type ApiFinishReason = 'stop' | 'length';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface SessionSink {
  /** New text (and its tokens) for one choice; text may be empty while a stop string is held back. */
  onDelta(choiceIndex: number, text: string, tokenIds: number[], logprobs: TokenLogprob[] | null): void;
  /** One choice finished (its remaining text was already delivered through onDelta). */
  onChoiceDone(choiceIndex: number, finishReason: ApiFinishReason): void;
  /** Every choice finished; called once, after the last onChoiceDone. */
  onComplete(usage: Usage): void;
  /** The request failed; no further calls follow. */
  onError(error: MappedError): void;
}

/**
 * NOTE: a deadline ('timeout') ends a choice like max_tokens does, so it is reported as 'length':
 * the client gets what was generated, and OpenAI clients only know 'stop' and 'length'.
 */
function apiFinishReason(reason: FinishReason): ApiFinishReason {
  return reason === 'stop' ? 'stop' : 'length';
}

let sessionCounter = 0;

/** A short unique id: prefix + time + counter, enough to tell requests apart in logs. */
export function newResponseId(prefix: string): string {
  sessionCounter = (sessionCounter + 1) % 1_000_000;
  return `${prefix}-${Date.now().toString(36)}${sessionCounter.toString(36).padStart(4, '0')}${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
}

export class GenerationSession {
  readonly id: string;
  readonly plan: GenerationPlan;
  readonly created: number;
  private readonly engine: ServingEngine;
  private readonly observers: ObserverSet;
  private readonly transport: Transport;
  private readonly deadlineMs: number | null;
  private readonly startMs = wallClockMs();
  private sink: SessionSink | null = null;
  private readonly reqIds: string[];
  private readonly finish: (FinishReason | null)[];
  private readonly completionTokens: number[];
  private readonly queueMs: number[];
  /** Just-in-time block decodes charged to this request's choices, summed. */
  private blockDecode: { count: number; totalMs: number } | undefined;
  private ttftMs: number | null = null;
  /** The depth/precision the engine's governor chose (adaptive serving), shown as `edgewise` in responses. */
  adaptive: AdaptiveChoice | null = null;
  private lastTokenMs = 0; // when the previous delivery arrived (read only after the first)
  private ended = false;
  private readonly onEnd: ((session: GenerationSession) => void) | null;

  constructor(engine: ServingEngine, plan: GenerationPlan, options: { transport: Transport; observers: ObserverSet; requestTimeoutMs: number | null; id?: string; onEnd?: (session: GenerationSession) => void }) {
    this.onEnd = options.onEnd ?? null;
    this.engine = engine;
    this.plan = plan;
    this.observers = options.observers;
    this.transport = options.transport;
    this.id = options.id ?? newResponseId(plan.kind === 'chat' ? 'chatcmpl' : 'cmpl');
    this.created = Math.floor(this.startMs / 1000);
    this.deadlineMs = options.requestTimeoutMs === null ? null : this.startMs + options.requestTimeoutMs;
    this.reqIds = plan.choices.map((c) => `${this.id}/${c.index}`);
    this.finish = plan.choices.map(() => null);
    this.completionTokens = plan.choices.map(() => 0);
    this.queueMs = plan.choices.map(() => 0);
  }

  get promptTokens(): number {
    return this.plan.promptTokenCounts.reduce((a, b) => a + b, 0);
  }

  /**
   * Submits every choice. Throws (e.g. queue_full) before any event reaches the sink, after
   * cancelling the choices already submitted, so the caller can still answer with a plain error.
   */
  start(sink: SessionSink): void {
    this.sink = sink;
    const submitted: string[] = [];
    try {
      this.plan.choices.forEach((choice, i) => {
        const reqId = this.reqIds[i];
        this.engine.submit({ ...choice.request, reqId, deadlineMs: this.deadlineMs }, (event) => this.onEvent(i, event));
        submitted.push(reqId);
      });
    } catch (err) {
      this.ended = true;
      for (const reqId of submitted) this.engine.cancel(reqId);
      throw err;
    }
    this.observers.onQueued({
      reqId: this.id,
      endpoint: this.plan.kind,
      transport: this.transport,
      model: this.plan.model,
      promptTokens: this.promptTokens,
      numChoices: this.plan.choices.length,
      startMs: this.startMs,
    });
  }

  /** The client went away or asked to stop: free the engine slots; the sink hears nothing more. */
  cancel(): void {
    if (this.ended) return;
    this.ended = true;
    this.stopUnfinished('cancelled');
    this.report('cancelled');
  }

  get isEnded(): boolean {
    return this.ended;
  }

  private onEvent(choice: number, event: GenerationEvent): void {
    if (this.ended || !this.sink) return;
    try {
      this.handle(choice, event, this.sink);
    } catch (err) {
      // A sink that throws (e.g. a socket write on a dead connection) must not leave the engine running.
      this.fail(mapError(err));
    }
  }

  private handle(choice: number, event: GenerationEvent, sink: SessionSink): void {
    if (event.type === 'delta') {
      this.countTokens(event.tokenIds.length);
      this.completionTokens[choice] += event.tokenIds.length;
      sink.onDelta(choice, event.text, event.tokenIds, event.logprobs);
      return;
    }
    this.queueMs[choice] = event.timings.queueMs;
    if (event.adaptive) this.adaptive = event.adaptive;
    if (event.blockDecode) {
      const sum = this.blockDecode ?? { count: 0, totalMs: 0 };
      this.blockDecode = { count: sum.count + event.blockDecode.count, totalMs: sum.totalMs + event.blockDecode.totalMs };
    }
    if (event.finishReason === 'error' || event.finishReason === 'cancelled') {
      // 'cancelled' that we did not ask for means the engine gave up on it (e.g. shutting down).
      this.fail(mapEngineFailure(event.error ?? { kind: 'unavailable', message: 'the request was cancelled by the server' }), event.error?.cause);
      return;
    }
    this.completionTokens[choice] = event.usage.completionTokens;
    if (event.text.length > 0) sink.onDelta(choice, event.text, [], null);
    this.finish[choice] = event.finishReason;
    sink.onChoiceDone(choice, apiFinishReason(event.finishReason));
    if (this.finish.every((r) => r !== null)) {
      this.ended = true;
      sink.onComplete(this.usage());
      this.report('ok');
    }
  }

  private countTokens(count: number): void {
    if (count === 0) return;
    const now = wallClockMs();
    const first = this.ttftMs === null;
    if (first) {
      this.ttftMs = now - this.startMs;
      this.observers.onFirstToken({ reqId: this.id, ttftMs: this.ttftMs });
    }
    this.observers.onTokens({ reqId: this.id, count, sinceLastMs: first ? null : now - this.lastTokenMs });
    this.lastTokenMs = now;
  }

  /** `cause`: the engine's underlying error, logged but never sent to the client. */
  private fail(error: MappedError, cause?: string): void {
    if (this.ended) return;
    this.ended = true;
    this.stopUnfinished('error');
    this.sink?.onError(error);
    this.report('error', error, cause);
  }

  /** Frees the engine slots of the choices still running. */
  private stopUnfinished(reason: 'cancelled' | 'error'): void {
    this.finish.forEach((finished, i) => {
      if (finished === null) {
        this.engine.cancel(this.reqIds[i]);
        this.finish[i] = reason;
      }
    });
  }

  usage(): Usage {
    const completion = this.completionTokens.reduce((a, b) => a + b, 0);
    return { prompt_tokens: this.promptTokens, completion_tokens: completion, total_tokens: this.promptTokens + completion };
  }

  private report(status: 'ok' | 'cancelled' | 'error', error?: MappedError, cause?: string): void {
    this.onEnd?.(this);
    const usage = this.usage();
    this.observers.onDone({
      reqId: this.id,
      endpoint: this.plan.kind,
      transport: this.transport,
      status,
      finishReasons: this.finish.map((r) => r ?? 'cancelled'),
      promptTokens: usage.prompt_tokens,
      completionTokens: usage.completion_tokens,
      ttftMs: this.ttftMs,
      totalMs: wallClockMs() - this.startMs,
      queueMs: Math.max(0, ...this.queueMs),
      adaptive: this.adaptive ?? undefined,
      blockDecode: this.blockDecode,
      error: error ? { status: error.status, type: error.body.error.type, message: error.body.error.message, cause } : undefined,
    });
  }
}
