// A ModelRunner for tests: logits are a pure function of each sequence's token history.

import type { ModelConfig } from '../model/model-config.js';
import type { BatchEntry, ModelRunner } from '../engine/runner-types.js';

/** Maps a sequence's whole token history (prompt + fed tokens) to the next-token logits. */
export type LogitsScript = (history: number[], vocabSize: number) => Float32Array;

/** Deterministic pseudo-random logits from a hash of the history (never all zeros). */
export const hashedLogits: LogitsScript = (history, vocabSize) => {
  let h = 0x811c9dc5;
  for (const id of history) h = Math.imul(h ^ id, 0x01000193) >>> 0;
  const out = new Float32Array(vocabSize);
  for (let i = 0; i < vocabSize; i++) {
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    h = (h ^ (h >>> 12)) >>> 0;
    out[i] = (h % 10007) / 1000 - 5;
  }
  return out;
};

export function fakeConfig(vocabSize: number, maxPositionEmbeddings = 256): ModelConfig {
  return {
    architecture: 'FakeForCausalLM',
    modelType: 'fake',
    vocabSize,
    hiddenSize: 8,
    intermediateSize: 16,
    numLayers: 1,
    numHeads: 2,
    numKvHeads: 1,
    headDim: 4,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    ropeScaling: { kind: 'none' },
    maxPositionEmbeddings,
    tieWordEmbeddings: true,
    attentionBias: false,
    outputBias: false,
    mlpBias: false,
    bosTokenId: null,
    eosTokenIds: [],
  };
}

/** Checks the runner contract the way a real KV cache would fail, and records every batch. */
export class FakeRunner implements ModelRunner {
  readonly config: ModelConfig;
  readonly maxSeqLen: number;
  /** Every step's batch as [seqId, numTokens] pairs, for assertions on batching. */
  readonly steps: [number, number][][] = [];
  private readonly histories = new Map<number, number[]>();
  private readonly script: LogitsScript;
  /** Set to make the next step throw (runner failure tests). */
  failNextStep: Error | null = null;

  constructor(vocabSize: number, options: { maxSeqLen?: number; script?: LogitsScript } = {}) {
    this.config = fakeConfig(vocabSize, options.maxSeqLen ?? 256);
    this.maxSeqLen = options.maxSeqLen ?? 256;
    this.script = options.script ?? hashedLogits;
  }

  get liveSequences(): number {
    return this.histories.size;
  }

  createSequence(seqId: number): void {
    if (this.histories.has(seqId)) throw new Error(`sequence ${seqId} already exists`);
    this.histories.set(seqId, []);
  }

  freeSequence(seqId: number): void {
    this.histories.delete(seqId);
  }

  sequenceLength(seqId: number): number {
    return this.histories.get(seqId)?.length ?? 0;
  }

  async step(entries: BatchEntry[]): Promise<Float32Array[]> {
    if (this.failNextStep) {
      const err = this.failNextStep;
      this.failNextStep = null;
      throw err;
    }
    this.steps.push(entries.map((e) => [e.seqId, e.tokenIds.length]));
    const seen = new Set<number>();
    return entries.map((e) => {
      const history = this.histories.get(e.seqId);
      if (!history) throw new Error(`step on unknown sequence ${e.seqId}`);
      if (seen.has(e.seqId)) throw new Error(`sequence ${e.seqId} twice in one step`);
      seen.add(e.seqId);
      if (e.tokenIds.length === 0) throw new Error('empty entry');
      if (history.length + e.tokenIds.length > this.maxSeqLen) throw new Error(`sequence ${e.seqId} exceeds ${this.maxSeqLen} tokens`);
      history.push(...e.tokenIds);
      return this.script(history, this.config.vocabSize);
    });
  }

  async dispose(): Promise<void> {
    this.histories.clear();
  }
}
