// Typed messages between callers (server, CLI) and the engine worker.

import type { SamplingParams } from '../generation/sampling-params.js';
import type { AdaptiveChoice, AdaptiveWish } from '../memory/governor.js';

/** A request for one completion sequence (the server fans `n` > 1 out into several). */
export interface GenerationRequest {
  /** Unique per live request; events and `cancel` refer to it. */
  reqId: string;
  /** Prompt token ids, already templated and tokenized. */
  promptIds: number[];
  /** Upper bound on generated tokens. */
  maxTokens: number;
  sampling: SamplingParams;
  /** Generation stops before any of these strings; they never appear in the output text. */
  stop: string[];
  /** Generation stops at these token ids (the model's EOS ids are added by the engine). */
  stopTokenIds: number[];
  /** Absolute deadline in ms since the epoch; the request ends with finishReason 'timeout' after it. */
  deadlineMs: number | null;
  /** Adaptive-serving wishes (the API's `edgewise` extension field); absent = the server default. */
  adaptive?: AdaptiveWish;
}

export interface TokenLogprob {
  tokenId: number;
  token: string;
  logprob: number;
  /** Top alternatives, most likely first (empty unless requested). */
  top: { tokenId: number; token: string; logprob: number }[];
}

export type FinishReason = 'stop' | 'length' | 'cancelled' | 'timeout' | 'error';

export type GenerationEvent =
  | {
      type: 'delta';
      reqId: string;
      /**
       * Tokens generated since the last event, stop/EOS tokens included (they count in usage;
       * their text is never shown). Concatenated over a request they equal its output ids.
       */
      tokenIds: number[];
      /**
       * Text released since the last event (held back while it could still become a stop string
       * or finish a UTF-8 character); may be '' while tokens arrive.
       */
      text: string;
      logprobs: TokenLogprob[] | null;
    }
  | {
      type: 'done';
      reqId: string;
      finishReason: FinishReason;
      /** Remaining released text, if any. */
      text: string;
      usage: { promptTokens: number; completionTokens: number };
      /**
       * Milliseconds from submit: until the request got a running slot, until its first token
       * (-1 when it produced none), and until this event.
       */
      timings: { queueMs: number; ttftMs: number; totalMs: number };
      /**
       * Just-in-time block decodes of the steps this request took part in (a step's decode is
       * shared by its whole batch, so each request is charged the full step); absent when none.
       */
      blockDecode?: { count: number; totalMs: number };
      /** With finishReason 'error': what failed. */
      error?: EngineFailure;
      /** The depth and precision the memory governor chose, and why (absent without a governor). */
      adaptive?: AdaptiveChoice;
    };

/** Why a request failed in the engine. */
export interface EngineFailure {
  /** An ErrorKind ('engine_fatal' when the engine itself failed). */
  kind: string;
  /** For the client. */
  message: string;
  /** The underlying error's stack, for the operator's log only; never sent to the client. */
  cause?: string;
}
