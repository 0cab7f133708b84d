// Typed inputs and outputs of the continuous-batching scheduler (no I/O crosses this boundary).

import type { BatchEntry } from '../engine/runner-types.js';
import type { GenerationEvent } from '../worker/engine-api.js';

/** Incremental detokenizer of one sequence (runtime/model/tokenizer.ts provides it). */
export interface StreamDecoderLike {
  /** Text completed by this token ('' while a UTF-8 character is still incomplete). */
  push(tokenId: number): string;
  /** What is still held back, at the end of the sequence. */
  flush(): string;
}

/** The part of the tokenizer the scheduler needs; a fake in tests. */
export interface DetokenizerLike {
  createStreamDecoder(): StreamDecoderLike;
  /** Text of one token on its own (for logprobs). */
  tokenText(tokenId: number): string;
}

export interface SchedulerOptions {
  /** Most sequences running (holding a KV cache) at once. */
  maxBatch: number;
  /** Most requests waiting for a running slot; a submit beyond maxBatch + maxQueue in flight is refused. */
  maxQueue: number;
  /** Most tokens (prompt + output) one sequence may hold; the runner's KV capacity. */
  maxContext: number;
  /** Size of the logits rows the runner returns. */
  vocabSize: number;
  /** Model end-of-sequence ids: generation stops on them (the token is counted, its text is not shown). */
  eosTokenIds: number[];
  /** Null for a model without tokenizer.json: ids are still generated, text stays empty. */
  detokenizer: DetokenizerLike | null;
  /**
   * Most tokens one step may run, decodes (1 each) plus prompt chunks; a longer prompt is
   * prefilled in chunks over several steps so running decodes are not stalled behind it.
   * Decodes always run even past the budget. Default 512.
   */
  maxStepTokens?: number;
  /** Clock in ms since the epoch; injectable for deadline tests. Default Date.now. */
  now?: () => number;
}

/** One scheduled sequence in this step, in the same order as `entries`. */
export interface ScheduledSeq {
  seqId: number;
  reqId: string;
  /** The entry finishes the prompt (or is a decode), so its logits yield a new token. */
  samples: boolean;
}

/** What `schedule()` decided for one step: the engine applies it to the runner, then calls `update`. */
export interface SchedulerOutput {
  /** Sequences admitted this step: create them in the runner before running `entries`. */
  newSeqIds: number[];
  /** Runner batch: prompt chunks of sequences still prefilling, one token for decoding ones. */
  entries: BatchEntry[];
  /** Who each entry belongs to (parallel to `entries`). */
  scheduled: ScheduledSeq[];
  /** Events produced while scheduling: requests cancelled or timed out before running. */
  events: GenerationEvent[];
}

export interface SchedulerStats {
  running: number;
  waiting: number;
}
