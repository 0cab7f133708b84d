// The facts about one request that tracing, metrics and logs all record (plain typed records).

import type { FinishReason } from '../../runtime/worker/engine-api.js';

/** What is known when a request is admitted to the engine's queue. */
export interface RequestStart {
  /** Server-side request id (the one on every log line and in the response `id`). */
  reqId: string;
  /** Served model id. */
  model: string;
  /** Which OpenAI endpoint: chat completions or (text) completions. */
  endpoint: 'chat' | 'completion';
  /** How the client talks to us: 'http' (non-streaming), 'sse' or 'ws'. */
  protocol: string;
  /** Prompt length in tokens after templating. */
  promptTokens: number;
  /** Wall-clock ms since the epoch when the request was submitted to the engine. */
  startMs: number;
}

/** What is known when a request has ended (any finish reason). */
export interface RequestEnd {
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
  /** Time waiting for a scheduler slot, ms. */
  queueMs: number;
  /** Submit to first generated token, ms; null when no token was generated. */
  ttftMs: number | null;
  /** Submit to end, ms. */
  totalMs: number;
  /** Transformer blocks run for this request (its depth); null when unknown. */
  depth: number | null;
  /** Weight precision the request ran at ('fp32', 'bf16', 'int8', ...); null when unknown. */
  precision: string | null;
  /** Block decompression summed over the request's steps; absent when the engine has none. */
  blockDecode?: { count: number; totalMs: number };
  /** Set when finishReason is 'error' or the request failed before the engine; `cause`: the engine's stack. */
  error?: { type: string; message: string; cause?: string };
}
