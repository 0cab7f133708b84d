// A scripted stand-in for EngineClient so server tests run without a model: char tokens, timed steps.

import { EdgewiseError } from '../runtime/errors.js';
import type { ModelConfig } from '../runtime/model/model-config.js';
import type { GenerationEvent, GenerationRequest, TokenLogprob } from '../runtime/worker/engine-api.js';
import type { ServingChatTemplate, ServingEngine, ServingTokenizer } from './engine-port.js';

const BOS = 256;
const EOS = 257;
const VOCAB = 260;

/** One token per byte (ids 0..255), plus BOS/EOS. */
export class CharTokenizer implements ServingTokenizer {
  readonly vocabSize = VOCAB;
  readonly bosTokenId = BOS;
  readonly eosTokenIds = [EOS];
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[] {
    const ids = Array.from(Buffer.from(text, 'latin1'));
    return options?.addSpecialTokens === false ? ids : [BOS, ...ids];
  }
  decode(ids: number[], options?: { skipSpecialTokens?: boolean }): string {
    return ids.map((id) => this.tokenText(id)).filter((t, i) => !(options?.skipSpecialTokens && ids[i] >= 256)).join('');
  }
  tokenText(id: number): string {
    return id === BOS ? '<s>' : id === EOS ? '</s>' : String.fromCharCode(id);
  }
}

export const fakeTemplate: ServingChatTemplate = {
  render: (messages, { addGenerationPrompt }) => messages.map((m) => `<${m.role}>${m.content}`).join('') + (addGenerationPrompt ? '<assistant>' : ''),
};

export interface FakeEngineOptions {
  maxBatch?: number;
  maxQueue?: number;
  /** Milliseconds per decode step (every running sequence gets one token per step). */
  stepMs?: number;
  maxContext?: number;
  /** Text of token number `i` of a request (default: a letter chosen from the prompt and seed). */
  tokenText?: (req: GenerationRequest, i: number) => string;
  /** Fail a request with an engine error after this many tokens. */
  failAfterTokens?: number;
}

interface Live {
  req: GenerationRequest;
  onEvent: (e: GenerationEvent) => void;
  generated: number;
  text: string;
  submitMs: number;
  firstMs: number;
}

export const FAKE_CONFIG: ModelConfig = {
  architecture: 'FakeForCausalLM', modelType: 'fake', vocabSize: VOCAB, hiddenSize: 8, intermediateSize: 16, numLayers: 1,
  numHeads: 1, numKvHeads: 1, headDim: 8, rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: { kind: 'none' },
  maxPositionEmbeddings: 512, tieWordEmbeddings: true, attentionBias: false, outputBias: false, mlpBias: false,
  bosTokenId: BOS, eosTokenIds: [EOS],
};

/** Default script: lowercase letters starting from (sum of prompt + seed), one per token. */
function defaultText(req: GenerationRequest, i: number): string {
  const base = req.promptIds.reduce((a, b) => a + b, 0) + (req.sampling.seed ?? 0);
  return String.fromCharCode(97 + ((base + i) % 26));
}

export class FakeEngine implements ServingEngine {
  readonly modelId = 'fake-model';
  readonly config = FAKE_CONFIG;
  readonly tokenizer = new CharTokenizer();
  readonly chatTemplate = fakeTemplate;
  readonly maxContext: number;
  private readonly options: Required<Omit<FakeEngineOptions, 'failAfterTokens'>> & { failAfterTokens: number | null };
  private readonly running = new Map<string, Live>();
  private readonly waiting: Live[] = [];
  private timer: NodeJS.Timeout | null = null;
  private draining = false;
  private drainWaiters: (() => void)[] = [];
  /** Every reqId ever cancelled, for tests. */
  readonly cancelled: string[] = [];
  /** Every request submitted, for tests. */
  readonly submitted: GenerationRequest[] = [];
  /** Most sequences ever running in one step, for tests. */
  maxRunningSeen = 0;

  constructor(options: FakeEngineOptions = {}) {
    this.options = {
      maxBatch: options.maxBatch ?? 8,
      maxQueue: options.maxQueue ?? 64,
      stepMs: options.stepMs ?? 2,
      maxContext: options.maxContext ?? 512,
      tokenText: options.tokenText ?? defaultText,
      failAfterTokens: options.failAfterTokens ?? null,
    };
    this.maxContext = this.options.maxContext;
  }

  submit(req: GenerationRequest, onEvent: (e: GenerationEvent) => void): void {
    if (this.draining) throw new EdgewiseError('unavailable', 'engine is draining');
    if (this.running.size >= this.options.maxBatch && this.waiting.length >= this.options.maxQueue) {
      throw new EdgewiseError('queue_full', `the queue is full (${this.options.maxQueue} waiting)`);
    }
    this.submitted.push(req);
    const live: Live = { req, onEvent, generated: 0, text: '', submitMs: Date.now(), firstMs: 0 };
    if (this.running.size < this.options.maxBatch) this.running.set(req.reqId, live);
    else this.waiting.push(live);
    this.timer ??= setTimeout(() => this.step(), this.options.stepMs);
  }

  cancel(reqId: string): void {
    this.cancelled.push(reqId);
    this.running.delete(reqId);
    const i = this.waiting.findIndex((l) => l.req.reqId === reqId);
    if (i >= 0) this.waiting.splice(i, 1);
    this.checkDrained();
  }

  stats(): { running: number; waiting: number } {
    return { running: this.running.size, waiting: this.waiting.length };
  }

  drain(): Promise<void> {
    this.draining = true;
    return new Promise((resolve) => {
      this.drainWaiters.push(resolve);
      this.checkDrained();
    });
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running.clear();
    this.waiting.length = 0;
  }

  private checkDrained(): void {
    if (this.draining && this.running.size === 0 && this.waiting.length === 0) for (const w of this.drainWaiters.splice(0)) w();
  }

  private finish(live: Live, reason: 'stop' | 'length' | 'timeout' | 'error'): void {
    this.running.delete(live.req.reqId);
    const now = Date.now();
    live.onEvent({
      type: 'done',
      reqId: live.req.reqId,
      finishReason: reason,
      text: '',
      usage: { promptTokens: live.req.promptIds.length, completionTokens: live.generated },
      timings: { queueMs: 0, ttftMs: live.firstMs ? live.firstMs - live.submitMs : 0, totalMs: now - live.submitMs },
      error: reason === 'error' ? { kind: 'engine_fatal', message: 'scripted engine failure', cause: 'Error: scripted engine failure\n    at FakeEngine.step (scripted)' } : undefined,
    });
  }

  private step(): void {
    this.timer = null;
    this.maxRunningSeen = Math.max(this.maxRunningSeen, this.running.size);
    for (const live of [...this.running.values()]) {
      if (live.req.deadlineMs !== null && Date.now() > live.req.deadlineMs) {
        this.finish(live, 'timeout');
        continue;
      }
      if (this.options.failAfterTokens !== null && live.generated >= this.options.failAfterTokens) {
        this.finish(live, 'error');
        continue;
      }
      const text = this.options.tokenText(live.req, live.generated);
      live.generated++;
      live.firstMs ||= Date.now();
      live.text += text;
      const stopAt = live.req.stop.map((s) => live.text.indexOf(s)).filter((i) => i >= 0);
      const tokenId = text.charCodeAt(0) & 0xff;
      const logprobs: TokenLogprob[] | null =
        live.req.sampling.topLogprobs === null ? null : [{ tokenId, token: text, logprob: -0.25, top: Array.from({ length: live.req.sampling.topLogprobs }, (_, k) => ({ tokenId: 97 + k, token: String.fromCharCode(97 + k), logprob: -0.25 - k })) }];
      if (stopAt.length > 0) {
        // Naive stop handling is enough here: the real engine's StopMatcher is tested on its own.
        live.onEvent({ type: 'delta', reqId: live.req.reqId, tokenIds: [tokenId], text: '', logprobs });
        this.finish(live, 'stop');
        continue;
      }
      live.onEvent({ type: 'delta', reqId: live.req.reqId, tokenIds: [tokenId], text, logprobs });
      if (live.generated >= live.req.maxTokens) this.finish(live, 'length');
    }
    while (this.running.size < this.options.maxBatch && this.waiting.length > 0) {
      const next = this.waiting.shift()!;
      this.running.set(next.req.reqId, next);
    }
    this.checkDrained();
    if (this.running.size > 0) this.timer = setTimeout(() => this.step(), this.options.stepMs);
  }
}
