// The contract between the engine (runs the transformer) and its callers (CLI, scheduler, tests).

import type { ModelConfig } from '../model/model-config.js';

/**
 * Weights of one transformer block in fp32, row-major in the Hugging Face layout
 * (a Linear weight is [outFeatures, inFeatures]). Buffers may be reused by the provider
 * after the block has run: callers must not keep them across `layer()` calls.
 */
export interface LayerWeights {
  inputNorm: Float32Array; // [hidden]
  qProj: Float32Array; // [numHeads*headDim, hidden]
  kProj: Float32Array; // [numKvHeads*headDim, hidden]
  vProj: Float32Array; // [numKvHeads*headDim, hidden]
  qBias: Float32Array | null; // [numHeads*headDim]
  kBias: Float32Array | null; // [numKvHeads*headDim]
  vBias: Float32Array | null; // [numKvHeads*headDim]
  oProj: Float32Array; // [hidden, numHeads*headDim]
  oBias: Float32Array | null; // [hidden]
  postAttentionNorm: Float32Array; // [hidden]
  gateProj: Float32Array; // [intermediate, hidden]
  upProj: Float32Array; // [intermediate, hidden]
  downProj: Float32Array; // [hidden, intermediate]
  gateBias: Float32Array | null;
  upBias: Float32Array | null;
  downBias: Float32Array | null;
}

/**
 * Where the engine gets its weights. An uncompressed folder reads them once and keeps them;
 * a compressed container decodes each block just in time into reusable buffers.
 */
export interface WeightProvider {
  readonly config: ModelConfig;
  /** [vocab, hidden] */
  embedding(): Float32Array;
  /** [hidden] */
  finalNorm(): Float32Array;
  /** [vocab, hidden]; the embedding itself when tied. */
  lmHead(): Float32Array;
  /**
   * Blocks decoded just in time so far and the milliseconds spent on them; absent when the
   * provider decodes nothing per block (an uncompressed folder).
   */
  readonly decodeStats?: BlockDecodeStats;
  /** Weights of block `layerIndex` (0-based), decoded if needed. */
  layer(layerIndex: number): Promise<LayerWeights>;
  close(): void;
}

/** Running totals of just-in-time block decodes. */
export interface BlockDecodeStats {
  count: number;
  totalMs: number;
}

/** One sequence's work in one engine step. */
export interface BatchEntry {
  /** Caller-chosen id of a sequence created with `createSequence`. */
  seqId: number;
  /** Tokens to append and run: the whole prompt (or a chunk of it) at prefill, one token at decode. */
  tokenIds: number[];
  /** Return logits for every new position (parity tests, prompt logprobs), not just the last. */
  allLogits?: boolean;
}

/** Per-sequence options fixed for the sequence's whole life (its KV cache depends on them). */
export interface SequenceOptions {
  /** Which blocks run, in original order; all of them when absent (depth switching). */
  layerIndices?: number[];
}

/** Runs the model over batches of sequences, each with its own KV cache. */
export interface ModelRunner {
  readonly config: ModelConfig;
  createSequence(seqId: number, options?: SequenceOptions): void;
  /** Frees the sequence's KV cache; unknown ids are ignored. */
  freeSequence(seqId: number): void;
  /** Number of tokens already in the sequence's KV cache. */
  sequenceLength(seqId: number): number;
  /**
   * Runs one step. Returns, per entry in order, the logits: [vocab] for the last new position,
   * or [numNewTokens * vocab] when `allLogits` is set.
   */
  step(entries: BatchEntry[]): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}
