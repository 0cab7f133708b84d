// Sampling parameters of one request, already validated (the server and CLI parse into this).

export interface SamplingParams {
  /** 0 means greedy (argmax); otherwise logits are divided by it before softmax. */
  temperature: number;
  /** Keep the k most likely tokens; 0 disables. */
  topK: number;
  /** Nucleus sampling: keep the smallest set whose probability mass reaches topP; 1 disables. */
  topP: number;
  /** Drop tokens whose probability is below minP × the top token's; 0 disables. */
  minP: number;
  /** Seed of this sequence's random stream; null draws one. Same seed + params → same output. */
  seed: number | null;
  /** HF-style repetition penalty over prompt+output tokens (1 disables). */
  repetitionPenalty: number;
  /** OpenAI-style: subtract once from the logit of every token already generated. */
  presencePenalty: number;
  /** OpenAI-style: subtract count × value from the logit of every generated token. */
  frequencyPenalty: number;
  /** Token id → bias added to its logit (OpenAI `logit_bias`, -100..100). */
  logitBias: Map<number, number>;
  /** Number of top alternatives to report with each token's logprob; null reports none. */
  topLogprobs: number | null;
}

export const DEFAULT_SAMPLING: SamplingParams = {
  temperature: 1,
  topK: 0,
  topP: 1,
  minP: 0,
  seed: null,
  repetitionPenalty: 1,
  presencePenalty: 0,
  frequencyPenalty: 0,
  logitBias: new Map(),
  topLogprobs: null,
};
