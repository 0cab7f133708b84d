// Per-sequence token sampler: logit processing, greedy or filtered random draw, logprobs.

import type { SamplingParams } from './sampling-params.js';
import type { TokenLogprob } from '../worker/engine-api.js';
import { Prng, randomSeed } from './prng.js';
import {
  applyLogitBias,
  applyMinP,
  applyPresenceFrequency,
  applyRepetitionPenalty,
  applyTopKTopP,
  argmax,
  drawFromWeights,
  logSoftmaxNormalizer,
  softmaxInPlace,
  topEntries,
} from './logits-filters.js';

export interface SampleResult {
  tokenId: number;
  /** Present when `params.topLogprobs` is not null. */
  logprob: TokenLogprob | null;
}

/**
 * Samples one sequence's tokens. Order of processing, as vLLM and HF do it:
 * logit_bias → repetition penalty (prompt + output) → presence/frequency (output) →
 * greedy argmax when temperature is 0, else softmax(logits / T) → top-k → top-p → min-p → draw.
 *
 * NOTE: reported logprobs (and their top alternatives) come from the RAW model distribution,
 * log_softmax of the logits as the model produced them, before bias, penalties, temperature and
 * filters. That is vLLM's default (`logprobs_mode=raw_logprobs`) and what OpenAI documents.
 */
export class SequenceSampler {
  private readonly params: SamplingParams;
  private readonly vocabSize: number;
  private readonly prng: Prng;
  private readonly work: Float64Array;
  /** Ids present in prompt or output (repetition penalty), in first-seen order. */
  private readonly seenIds: number[] = [];
  private readonly seen: Uint8Array;
  /** Output token counts (presence/frequency penalties). */
  private readonly outputCounts = new Map<number, number>();
  private readonly tokenText: (tokenId: number) => string;
  /** The seed actually used (drawn when params.seed is null). */
  readonly seed: number;

  constructor(
    params: SamplingParams,
    vocabSize: number,
    promptIds: number[],
    tokenText: (tokenId: number) => string = () => '',
  ) {
    if (!Number.isInteger(vocabSize) || vocabSize <= 0) throw new RangeError(`vocabSize must be positive, got ${vocabSize}`);
    this.params = params;
    this.vocabSize = vocabSize;
    this.seed = params.seed ?? randomSeed();
    this.prng = new Prng(this.seed);
    this.work = new Float64Array(vocabSize);
    this.seen = new Uint8Array(vocabSize);
    this.tokenText = tokenText;
    for (const id of promptIds) this.markSeen(id);
  }

  /** Picks the next token from the model's logits for this sequence (length ≥ vocabSize). */
  sample(logits: Float32Array): SampleResult {
    const vocab = this.vocabSize;
    if (logits.length < vocab) throw new RangeError(`logits has ${logits.length} entries, vocabulary is ${vocab}`);
    const p = this.params;
    const work = this.work;
    work.set(logits.length === vocab ? logits : logits.subarray(0, vocab));
    applyLogitBias(work, p.logitBias);
    applyRepetitionPenalty(work, this.seenIds, p.repetitionPenalty);
    applyPresenceFrequency(work, this.outputCounts, p.presencePenalty, p.frequencyPenalty);

    let tokenId: number;
    if (p.temperature === 0) {
      tokenId = argmax(work, vocab);
    } else {
      softmaxInPlace(work, p.temperature);
      applyTopKTopP(work, p.topK, p.topP);
      applyMinP(work, p.minP);
      tokenId = drawFromWeights(work, this.prng.nextFloat());
    }

    this.markSeen(tokenId);
    this.outputCounts.set(tokenId, (this.outputCounts.get(tokenId) ?? 0) + 1);
    return { tokenId, logprob: p.topLogprobs === null ? null : this.rawLogprob(logits, tokenId, p.topLogprobs) };
  }

  private rawLogprob(logits: Float32Array, tokenId: number, numTop: number): TokenLogprob {
    const norm = logSoftmaxNormalizer(logits, this.vocabSize);
    const top = topEntries(logits, numTop, this.vocabSize).map(([id, v]) => ({
      tokenId: id,
      token: this.tokenText(id),
      logprob: v - norm,
    }));
    return { tokenId, token: this.tokenText(tokenId), logprob: logits[tokenId] - norm, top };
  }

  private markSeen(id: number): void {
    if (id < 0 || id >= this.vocabSize || this.seen[id]) return;
    this.seen[id] = 1;
    this.seenIds.push(id);
  }
}
