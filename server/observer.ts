// Hook points for metrics, tracing and logs: the server calls every registered RequestObserver.

import type { FinishReason } from '../runtime/worker/engine-api.js';

export type Transport = 'http' | 'sse' | 'ws';

export interface RequestStartInfo {
  /** Response id (chatcmpl-…/cmpl-…), also used as the log request id. */
  reqId: string;
  endpoint: 'chat' | 'completion';
  transport: Transport;
  model: string;
  promptTokens: number;
  /** Number of sequences (n × prompts). */
  numChoices: number;
  startMs: number;
}

export interface RequestEndInfo {
  reqId: string;
  endpoint: 'chat' | 'completion';
  transport: Transport;
  /** 'ok': every choice finished; 'cancelled': the client went away or cancelled; 'error': it failed. */
  status: 'ok' | 'cancelled' | 'error';
  /** Per choice, what the engine reported (timeout and cancelled included, before OpenAI mapping). */
  finishReasons: FinishReason[];
  promptTokens: number;
  completionTokens: number;
  /** From session start on the main thread; ttftMs is null when no token came. */
  ttftMs: number | null;
  totalMs: number;
  /** Longest queue wait the engine reported over the choices. */
  queueMs: number;
  /** `cause`: the engine's underlying error (a stack), for the log only. */
  error?: { status: number; type: string; message: string; cause?: string };
  /** Adaptive serving: the depth/precision the governor chose and why. */
  adaptive?: { depth: number; numLayers: number; precision: string; why: string };
  /** Just-in-time block decodes of the steps this request ran in (absent for uncompressed weights). */
  blockDecode?: { count: number; totalMs: number };
}

export interface HttpResponseInfo {
  method: string;
  /** The route pattern ("/v1/chat/completions"), or "unmatched". */
  route: string;
  status: number;
  durationMs: number;
}

/** Every method is optional; an observer that throws is logged and ignored, never fails a request. */
export interface RequestObserver {
  /** The request was validated and submitted to the engine (it may still wait in the queue). */
  onQueued?(info: RequestStartInfo): void;
  /** The first generated token reached the main thread. */
  onFirstToken?(info: { reqId: string; ttftMs: number }): void;
  /** More tokens arrived (count over all choices), with the gap since the previous batch (null for the request's first). */
  onTokens?(info: { reqId: string; count: number; sinceLastMs: number | null }): void;
  /** The request ended, whatever the reason. Called exactly once per onQueued. */
  onDone?(info: RequestEndInfo): void;
  /** Any HTTP response was sent (generation, errors, health...). */
  onHttpResponse?(info: HttpResponseInfo): void;
  /** A request was refused before reaching the engine (validation, auth, queue full, draining). */
  onRejected?(info: { type: string; status: number; transport: Transport }): void;
}

/** Fans calls out to several observers, isolating their failures. */
export class ObserverSet implements RequestObserver {
  private readonly observers: RequestObserver[];
  private readonly onObserverError: (err: unknown) => void;

  constructor(observers: RequestObserver[], onObserverError: (err: unknown) => void) {
    this.observers = observers;
    this.onObserverError = onObserverError;
  }

  add(observer: RequestObserver): void {
    this.observers.push(observer);
  }

  private each(call: (o: RequestObserver) => void): void {
    for (const observer of this.observers) {
      try {
        call(observer);
      } catch (err) {
        this.onObserverError(err);
      }
    }
  }

  onQueued(info: RequestStartInfo): void {
    this.each((o) => o.onQueued?.(info));
  }
  onFirstToken(info: { reqId: string; ttftMs: number }): void {
    this.each((o) => o.onFirstToken?.(info));
  }
  onTokens(info: { reqId: string; count: number; sinceLastMs: number | null }): void {
    this.each((o) => o.onTokens?.(info));
  }
  onDone(info: RequestEndInfo): void {
    this.each((o) => o.onDone?.(info));
  }
  onHttpResponse(info: HttpResponseInfo): void {
    this.each((o) => o.onHttpResponse?.(info));
  }
  onRejected(info: { type: string; status: number; transport: Transport }): void {
    this.each((o) => o.onRejected?.(info));
  }
}
