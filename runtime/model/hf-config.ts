// Parses a Hugging Face config.json of a supported Llama-family architecture into a ModelConfig.

import { ModelFormatError, UnsupportedModelError } from '../errors.js';
import type { ModelConfig, RopeScaling } from './model-config.js';
import {
  asObject,
  boolField,
  intField,
  isObject,
  positiveNumberField,
  stringField,
  tokenIdListField,
  type JsonObject,
} from './json-fields.js';

/** Per-family defaults, as transformers' config classes define them when a field is absent. */
interface Family {
  modelType: string;
  maxPositionEmbeddings: number;
}

const FAMILIES: Record<string, Family> = {
  LlamaForCausalLM: { modelType: 'llama', maxPositionEmbeddings: 2048 },
  MistralForCausalLM: { modelType: 'mistral', maxPositionEmbeddings: 4096 * 32 },
  Qwen2ForCausalLM: { modelType: 'qwen2', maxPositionEmbeddings: 32768 },
};

const ARCH_BY_MODEL_TYPE: Record<string, string> = { llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', qwen2: 'Qwen2ForCausalLM' };

export const SUPPORTED_ARCHITECTURES = Object.keys(FAMILIES);

function pickArchitecture(obj: JsonObject, where: string): string {
  const archs = obj.architectures;
  if (archs !== undefined && archs !== null) {
    if (!Array.isArray(archs) || archs.length === 0 || typeof archs[0] !== 'string') {
      throw new ModelFormatError(where, 'field "architectures" must be a non-empty list of strings');
    }
    if (archs.length > 1) throw new UnsupportedModelError(`${where}: several architectures (${archs.join(', ')}); expected exactly one`);
    return archs[0];
  }
  // Some configs carry only model_type; map it to the class transformers would build.
  const modelType = obj.model_type;
  if (typeof modelType !== 'string') throw new ModelFormatError(where, 'missing required field "architectures" (and no "model_type")');
  const arch = ARCH_BY_MODEL_TYPE[modelType];
  if (arch === undefined) throw new UnsupportedModelError(`${where}: unsupported model_type "${modelType}" (supported: ${Object.keys(ARCH_BY_MODEL_TYPE).join(', ')})`);
  return arch;
}

/** transformers >= 5 moves rope_theta and the scaling into `rope_parameters`; older files use `rope_scaling`. */
function parseRope(obj: JsonObject, where: string): { theta: number; scaling: RopeScaling } {
  const params = obj.rope_parameters;
  const scaling = obj.rope_scaling ?? params ?? null;
  const theta = positiveNumberField(obj, 'rope_theta', where, isObject(params) && typeof params.rope_theta === 'number' ? params.rope_theta : 10000);
  if (scaling === null) return { theta, scaling: { kind: 'none' } };
  if (!isObject(scaling)) throw new ModelFormatError(where, 'field "rope_scaling" must be an object or null');
  const field = `${where} rope_scaling`;
  const type = scaling.rope_type ?? scaling.type ?? 'default';
  if (typeof type !== 'string') throw new ModelFormatError(field, '"rope_type" must be a string');
  switch (type) {
    case 'default':
      return { theta, scaling: { kind: 'none' } };
    case 'linear':
      return { theta, scaling: { kind: 'linear', factor: positiveNumberField(scaling, 'factor', field) } };
    case 'llama3':
      return {
        theta,
        scaling: {
          kind: 'llama3',
          factor: positiveNumberField(scaling, 'factor', field),
          lowFreqFactor: positiveNumberField(scaling, 'low_freq_factor', field),
          highFreqFactor: positiveNumberField(scaling, 'high_freq_factor', field),
          originalMaxPositionEmbeddings: intField(scaling, 'original_max_position_embeddings', field),
        },
      };
    default:
      throw new UnsupportedModelError(`${where}: unsupported rope_scaling type "${type}" (supported: default, linear, llama3)`);
  }
}

/** Mistral and Qwen2 may restrict attention to a window; we only run full attention. */
function checkSlidingWindow(arch: string, obj: JsonObject, where: string, maxPositionEmbeddings: number): void {
  if (arch === 'MistralForCausalLM') {
    // MistralConfig defaults sliding_window to 4096 when the key is absent.
    const window = 'sliding_window' in obj ? obj.sliding_window : 4096;
    if (window === null) return;
    if (typeof window !== 'number' || !Number.isInteger(window) || window <= 0) {
      throw new ModelFormatError(where, 'field "sliding_window" must be a positive integer or null');
    }
    if (window < maxPositionEmbeddings) {
      throw new UnsupportedModelError(
        `${where}: sliding_window ${window} < max_position_embeddings ${maxPositionEmbeddings}; sliding-window attention is not supported`,
      );
    }
  } else if (arch === 'Qwen2ForCausalLM') {
    if (boolField(obj, 'use_sliding_window', where, false)) {
      throw new UnsupportedModelError(`${where}: use_sliding_window=true is not supported (sliding-window attention)`);
    }
  }
}

/**
 * Parses a config.json object. `where` names the file in error messages.
 * Throws ModelFormatError for missing or mistyped fields, UnsupportedModelError for
 * architectures or field values Edgewise does not implement (the message names them).
 */
export function parseHfConfig(json: unknown, where: string): ModelConfig {
  const obj = asObject(json, where);
  const architecture = pickArchitecture(obj, where);
  const family = FAMILIES[architecture];
  if (family === undefined) {
    throw new UnsupportedModelError(`${where}: unsupported architecture "${architecture}" (supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`);
  }
  if (obj.quantization_config !== undefined && obj.quantization_config !== null) {
    const method = isObject(obj.quantization_config) ? String(obj.quantization_config.quant_method ?? 'unknown') : 'unknown';
    throw new UnsupportedModelError(`${where}: quantized checkpoints are not supported (quantization_config.quant_method "${method}")`);
  }
  const hiddenAct = stringField(obj, 'hidden_act', where, 'silu');
  if (hiddenAct !== 'silu') throw new UnsupportedModelError(`${where}: unsupported hidden_act "${hiddenAct}" (only silu)`);

  const hiddenSize = intField(obj, 'hidden_size', where);
  const numHeads = intField(obj, 'num_attention_heads', where);
  const numKvHeads = intField(obj, 'num_key_value_heads', where, { fallback: numHeads });
  if (numHeads % numKvHeads !== 0) {
    throw new ModelFormatError(where, `num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  }
  let headDim: number;
  if (obj.head_dim === undefined || obj.head_dim === null) {
    if (hiddenSize % numHeads !== 0) throw new ModelFormatError(where, `hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads} and "head_dim" is absent`);
    headDim = hiddenSize / numHeads;
  } else {
    headDim = intField(obj, 'head_dim', where);
  }
  if (headDim % 2 !== 0) throw new ModelFormatError(where, `head_dim ${headDim} must be even for rotary embeddings`);

  const maxPositionEmbeddings = intField(obj, 'max_position_embeddings', where, { fallback: family.maxPositionEmbeddings });
  checkSlidingWindow(architecture, obj, where, maxPositionEmbeddings);
  const rope = parseRope(obj, where);

  // Qwen2 hard-codes q/k/v biases and no o_proj bias; Llama's attention_bias covers all four.
  const isQwen2 = architecture === 'Qwen2ForCausalLM';
  const llamaAttentionBias = architecture === 'LlamaForCausalLM' && boolField(obj, 'attention_bias', where, false);
  const mlpBias = architecture === 'LlamaForCausalLM' && boolField(obj, 'mlp_bias', where, false);

  const bos = tokenIdListField(obj, 'bos_token_id', where);
  if (bos.length > 1) throw new ModelFormatError(where, 'field "bos_token_id" must be a single token id');

  return {
    architecture,
    modelType: stringField(obj, 'model_type', where, family.modelType),
    vocabSize: intField(obj, 'vocab_size', where),
    hiddenSize,
    intermediateSize: intField(obj, 'intermediate_size', where),
    numLayers: intField(obj, 'num_hidden_layers', where),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: positiveNumberField(obj, 'rms_norm_eps', where, 1e-6),
    ropeTheta: rope.theta,
    ropeScaling: rope.scaling,
    maxPositionEmbeddings,
    tieWordEmbeddings: boolField(obj, 'tie_word_embeddings', where, false),
    attentionBias: isQwen2 || llamaAttentionBias,
    outputBias: llamaAttentionBias,
    mlpBias,
    bosTokenId: bos.length === 1 ? bos[0] : null,
    eosTokenIds: tokenIdListField(obj, 'eos_token_id', where),
  };
}
