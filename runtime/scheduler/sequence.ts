// One request's life inside the scheduler: prompt progress, sampler, detokenizer, stop checks, events.

import { SequenceSampler } from '../generation/sampler.js';
import { StopMatcher } from '../generation/stop-matcher.js';
import type { EngineFailure, FinishReason, GenerationEvent, GenerationRequest, TokenLogprob } from '../worker/engine-api.js';
import type { DetokenizerLike, StreamDecoderLike } from './scheduler-types.js';

/** Fixed per-scheduler facts a sequence needs to decide when it ends. */
export interface SequenceLimits {
  maxContext: number;
  vocabSize: number;
  /** Model EOS ids plus nothing else; the request's own stop ids are added per sequence. */
  eosTokenIds: number[];
  detokenizer: DetokenizerLike | null;
}

export class Sequence {
  readonly req: GenerationRequest;
  readonly seqId: number;
  /** When the caller submitted (ms since the epoch): queue and TTFT are measured from here. */
  readonly submittedMs: number;
  admittedMs = -1;
  firstTokenMs = -1;
  /** Prompt tokens already in the runner's KV cache. */
  numPromptDone = 0;
  readonly outputIds: number[] = [];
  finishReason: FinishReason | null = null;
  error: EngineFailure | undefined;
  private readonly limits: SequenceLimits;
  private readonly stopIds: Set<number>;
  private sampler: SequenceSampler | null = null;
  private decoder: StreamDecoderLike | null = null;
  private readonly matcher: StopMatcher;

  constructor(req: GenerationRequest, seqId: number, submittedMs: number, limits: SequenceLimits) {
    this.req = req;
    this.seqId = seqId;
    this.submittedMs = submittedMs;
    this.limits = limits;
    this.stopIds = new Set([...limits.eosTokenIds, ...req.stopTokenIds]);
    this.matcher = new StopMatcher(req.stop);
  }

  /** Allocates the per-token state (vocab-sized buffers) only when the sequence starts running. */
  admit(nowMs: number): void {
    this.admittedMs = nowMs;
    const det = this.limits.detokenizer;
    this.sampler = new SequenceSampler(this.req.sampling, this.limits.vocabSize, this.req.promptIds, det ? (id) => det.tokenText(id) : undefined);
    this.decoder = det ? det.createStreamDecoder() : null;
  }

  get isPrefilling(): boolean {
    return this.numPromptDone < this.req.promptIds.length;
  }

  /** The token ids this sequence feeds the runner this step, at most `budget` prompt tokens. */
  nextInput(budget: number): { tokenIds: number[]; samples: boolean } {
    const prompt = this.req.promptIds;
    if (this.isPrefilling) {
      const end = Math.min(prompt.length, this.numPromptDone + Math.max(1, budget));
      return { tokenIds: prompt.slice(this.numPromptDone, end), samples: end === prompt.length };
    }
    return { tokenIds: [this.outputIds[this.outputIds.length - 1]], samples: true };
  }

  /** Records that the runner has consumed `tokenIds` (a prompt chunk or the last token). */
  advance(numTokens: number): void {
    if (this.isPrefilling) this.numPromptDone += numTokens;
  }

  /**
   * Samples from this step's logits, updates text and stop state, and returns the delta event.
   * Sets `finishReason` when the token ends the sequence.
   */
  acceptLogits(logits: Float32Array, nowMs: number): GenerationEvent {
    const { tokenId, logprob } = this.sampler!.sample(logits);
    if (this.firstTokenMs < 0) this.firstTokenMs = nowMs;
    this.outputIds.push(tokenId);
    let text = '';
    if (this.stopIds.has(tokenId)) {
      // NOTE: the stop token counts in usage (as in vLLM) but its text is never shown.
      this.finishReason = 'stop';
    } else {
      const piece = this.decoder ? this.decoder.push(tokenId) : '';
      const released = this.matcher.push(piece);
      text = released.text;
      if (released.stop !== null) this.finishReason = 'stop';
    }
    if (this.finishReason === null) {
      if (this.outputIds.length >= this.req.maxTokens) this.finishReason = 'length';
      else if (this.req.promptIds.length + this.outputIds.length >= this.limits.maxContext) this.finishReason = 'length';
      else if (this.req.deadlineMs !== null && nowMs >= this.req.deadlineMs) this.finishReason = 'timeout';
    }
    const logprobs: TokenLogprob[] | null = logprob === null ? null : [logprob];
    return { type: 'delta', reqId: this.req.reqId, tokenIds: [tokenId], text, logprobs };
  }

  /** Just-in-time block decodes of the steps this sequence ran in. */
  private readonly blockDecode = { count: 0, totalMs: 0 };

  chargeBlockDecode(step: { count: number; totalMs: number }): void {
    this.blockDecode.count += step.count;
    this.blockDecode.totalMs += step.totalMs;
  }

  /** Ends the sequence for a reason found outside sampling (cancel, deadline, runner error). */
  finish(reason: FinishReason, error?: EngineFailure): void {
    if (this.finishReason === null) this.finishReason = reason;
    if (error) this.error = error;
  }

  /** The final event; releases held-back text unless the request was cancelled or failed. */
  doneEvent(nowMs: number): GenerationEvent {
    const reason = this.finishReason ?? 'error';
    let text = '';
    if (reason !== 'cancelled' && reason !== 'error' && !this.matcher.isStopped) {
      const tail = this.decoder ? this.decoder.flush() : '';
      text = this.matcher.push(tail).text + this.matcher.flush();
    }
    const event: GenerationEvent = {
      type: 'done',
      reqId: this.req.reqId,
      finishReason: reason,
      text,
      usage: { promptTokens: this.req.promptIds.length, completionTokens: this.outputIds.length },
      timings: {
        queueMs: (this.admittedMs < 0 ? nowMs : this.admittedMs) - this.submittedMs,
        ttftMs: this.firstTokenMs < 0 ? -1 : this.firstTokenMs - this.submittedMs,
        totalMs: nowMs - this.submittedMs,
      },
    };
    if (this.error) event.error = this.error;
    if (this.blockDecode.count > 0 && event.type === 'done') event.blockDecode = { ...this.blockDecode };
    return event;
  }
}
