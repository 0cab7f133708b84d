// The normalized Llama-family model configuration every part of the runtime works from.

/** RoPE frequency scaling as transformers' `rope_scaling` defines it (only the kinds we support). */
export type RopeScaling =
  | { kind: 'none' }
  | {
      kind: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    }
  | { kind: 'linear'; factor: number };

/**
 * One Llama-family architecture (LlamaForCausalLM, MistralForCausalLM without sliding window,
 * Qwen2ForCausalLM) reduced to the fields the math needs. Parsed from a Hugging Face
 * config.json by `parseHfConfig` (runtime/model/hf-config.ts).
 */
export interface ModelConfig {
  /** The HF `architectures[0]`, kept for `info` output and error messages. */
  architecture: string;
  /** HF `model_type` ("llama", "mistral", "qwen2"). */
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  /** Per-head dimension; HF `head_dim` when given, else hiddenSize / numHeads. */
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  maxPositionEmbeddings: number;
  /** LM head shares the embedding matrix. */
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry biases (Qwen2, or Llama's `attention_bias`). */
  attentionBias: boolean;
  /** o_proj carries a bias (Llama's `attention_bias` applies to o_proj too; Qwen2 has none). */
  outputBias: boolean;
  /** MLP projections carry biases (Llama's `mlp_bias`). */
  mlpBias: boolean;
  bosTokenId: number | null;
  /** End-of-sequence ids; generation stops on any of them. */
  eosTokenIds: number[];
}
