// Tests parseHfConfig on config.json files of each supported family (as published) and on bad ones.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EdgewiseError, ModelFormatError, UnsupportedModelError } from '../errors.js';
import { parseHfConfig } from './hf-config.js';

const LLAMA2_7B = {
  architectures: ['LlamaForCausalLM'], bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu', hidden_size: 4096,
  initializer_range: 0.02, intermediate_size: 11008, max_position_embeddings: 4096, model_type: 'llama',
  num_attention_heads: 32, num_hidden_layers: 32, num_key_value_heads: 32, pretraining_tp: 1, rms_norm_eps: 1e-5,
  rope_scaling: null, tie_word_embeddings: false, torch_dtype: 'float16', transformers_version: '4.31.0.dev0', use_cache: true, vocab_size: 32000,
};

const LLAMA31_8B = {
  architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 128000, eos_token_id: [128001, 128008, 128009],
  hidden_act: 'silu', hidden_size: 4096, initializer_range: 0.02, intermediate_size: 14336, max_position_embeddings: 131072, mlp_bias: false,
  model_type: 'llama', num_attention_heads: 32, num_hidden_layers: 32, num_key_value_heads: 8, pretraining_tp: 1, rms_norm_eps: 1e-5,
  rope_scaling: { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0, tie_word_embeddings: false, torch_dtype: 'bfloat16', transformers_version: '4.43.0.dev0', use_cache: true, vocab_size: 128256,
};

const LLAMA32_1B = {
  ...LLAMA31_8B, eos_token_id: 128001, head_dim: 64, hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 16,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  tie_word_embeddings: true,
};

const SMOLLM2_135M = {
  architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 0, eos_token_id: 0, hidden_act: 'silu',
  hidden_size: 576, initializer_range: 0.041666666666666664, intermediate_size: 1536, is_llama_config: true, max_position_embeddings: 8192,
  mlp_bias: false, model_type: 'llama', num_attention_heads: 9, num_hidden_layers: 30, num_key_value_heads: 3, pretraining_tp: 1,
  rms_norm_eps: 1e-5, rope_interleaved: false, rope_scaling: null, rope_theta: 100000, tie_word_embeddings: true, torch_dtype: 'bfloat16',
  transformers_version: '4.40.1', use_cache: true, vocab_size: 49152,
};

const TINYLLAMA = {
  architectures: ['LlamaForCausalLM'], attention_bias: false, bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu', hidden_size: 2048,
  initializer_range: 0.02, intermediate_size: 5632, max_position_embeddings: 2048, model_type: 'llama', num_attention_heads: 32,
  num_hidden_layers: 22, num_key_value_heads: 4, pretraining_tp: 1, rms_norm_eps: 1e-5, rope_scaling: null, rope_theta: 10000.0,
  tie_word_embeddings: false, torch_dtype: 'bfloat16', transformers_version: '4.35.0', use_cache: true, vocab_size: 32000,
};

const MISTRAL_7B_V01 = {
  architectures: ['MistralForCausalLM'], bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu', hidden_size: 4096, initializer_range: 0.02,
  intermediate_size: 14336, max_position_embeddings: 32768, model_type: 'mistral', num_attention_heads: 32, num_hidden_layers: 32,
  num_key_value_heads: 8, rms_norm_eps: 1e-5, rope_theta: 10000.0, sliding_window: 4096, tie_word_embeddings: false, torch_dtype: 'bfloat16',
  transformers_version: '4.34.0.dev0', use_cache: true, vocab_size: 32000,
};

const MISTRAL_7B_V03 = { ...MISTRAL_7B_V01, rope_theta: 1000000.0, sliding_window: null, vocab_size: 32768 };

const MISTRAL_NEMO = {
  ...MISTRAL_7B_V03, head_dim: 128, hidden_size: 5120, max_position_embeddings: 1024000, num_hidden_layers: 40, vocab_size: 131072,
};

const QWEN25_05B = {
  architectures: ['Qwen2ForCausalLM'], attention_dropout: 0.0, bos_token_id: 151643, eos_token_id: 151645, hidden_act: 'silu',
  hidden_size: 896, initializer_range: 0.02, intermediate_size: 4864, max_position_embeddings: 32768, max_window_layers: 21,
  model_type: 'qwen2', num_attention_heads: 14, num_hidden_layers: 24, num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 1000000.0,
  sliding_window: 32768, tie_word_embeddings: true, torch_dtype: 'bfloat16', transformers_version: '4.43.1', use_cache: true,
  use_sliding_window: false, vocab_size: 151936,
};

const QWEN2_7B = {
  ...QWEN25_05B, hidden_size: 3584, intermediate_size: 18944, num_attention_heads: 28, num_key_value_heads: 4, num_hidden_layers: 28,
  max_window_layers: 28, sliding_window: 131072, tie_word_embeddings: false, vocab_size: 152064,
};

test('Llama 2 7B: MHA, no scaling, untied', () => {
  const c = parseHfConfig(LLAMA2_7B, 'config.json');
  assert.equal(c.architecture, 'LlamaForCausalLM');
  assert.equal(c.modelType, 'llama');
  assert.deepEqual([c.numLayers, c.hiddenSize, c.intermediateSize, c.numHeads, c.numKvHeads, c.headDim], [32, 4096, 11008, 32, 32, 128]);
  assert.deepEqual(c.ropeScaling, { kind: 'none' });
  assert.equal(c.ropeTheta, 10000); // absent → LlamaConfig's default
  assert.equal(c.rmsNormEps, 1e-5);
  assert.equal(c.tieWordEmbeddings, false);
  assert.deepEqual([c.attentionBias, c.outputBias, c.mlpBias], [false, false, false]);
  assert.equal(c.bosTokenId, 1);
  assert.deepEqual(c.eosTokenIds, [2]);
  assert.equal(c.maxPositionEmbeddings, 4096);
});

test('Llama 3.1 8B: llama3 rope scaling, GQA, eos list', () => {
  const c = parseHfConfig(LLAMA31_8B, 'config.json');
  assert.deepEqual(c.ropeScaling, { kind: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
  assert.equal(c.ropeTheta, 500000);
  assert.equal(c.numKvHeads, 8);
  assert.deepEqual(c.eosTokenIds, [128001, 128008, 128009]);
  assert.equal(c.bosTokenId, 128000);
});

test('Llama 3.2 1B: explicit head_dim, tied embeddings', () => {
  const c = parseHfConfig(LLAMA32_1B, 'config.json');
  assert.equal(c.headDim, 64);
  assert.equal(c.tieWordEmbeddings, true);
  assert.equal(c.ropeScaling.kind === 'llama3' && c.ropeScaling.factor, 32);
  assert.deepEqual(c.eosTokenIds, [128001]);
});

test('Llama 3 rope_scaling written with the legacy "type" key and transformers 5 rope_parameters', () => {
  const legacy = parseHfConfig({ ...LLAMA31_8B, rope_scaling: { ...LLAMA31_8B.rope_scaling, rope_type: undefined, type: 'llama3' } }, 'config.json');
  assert.equal(legacy.ropeScaling.kind, 'llama3');
  const v5 = { ...LLAMA31_8B, rope_scaling: undefined, rope_theta: undefined, rope_parameters: { ...LLAMA31_8B.rope_scaling, rope_theta: 500000 } };
  const c = parseHfConfig(v5, 'config.json');
  assert.equal(c.ropeTheta, 500000);
  assert.equal(c.ropeScaling.kind, 'llama3');
  assert.deepEqual(parseHfConfig({ ...LLAMA2_7B, rope_scaling: { rope_type: 'default' } }, 'c').ropeScaling, { kind: 'none' });
  assert.deepEqual(parseHfConfig({ ...LLAMA2_7B, rope_scaling: { type: 'linear', factor: 4.0 } }, 'c').ropeScaling, { kind: 'linear', factor: 4 });
});

test('SmolLM2 135M and TinyLlama parse as Llama with their own sizes', () => {
  const s = parseHfConfig(SMOLLM2_135M, 'config.json');
  assert.deepEqual([s.numHeads, s.numKvHeads, s.headDim, s.vocabSize, s.tieWordEmbeddings, s.ropeTheta], [9, 3, 64, 49152, true, 100000]);
  assert.equal(s.bosTokenId, 0);
  assert.deepEqual(s.eosTokenIds, [0]);
  const t = parseHfConfig(TINYLLAMA, 'config.json');
  assert.deepEqual([t.numLayers, t.numKvHeads, t.headDim, t.intermediateSize], [22, 4, 64, 5632]);
});

test('Mistral: sliding window null or >= context is accepted, a real window is refused by name', () => {
  const v3 = parseHfConfig(MISTRAL_7B_V03, 'config.json');
  assert.equal(v3.modelType, 'mistral');
  assert.equal(v3.ropeTheta, 1e6);
  assert.deepEqual([v3.attentionBias, v3.outputBias, v3.mlpBias], [false, false, false]);
  assert.equal(parseHfConfig({ ...MISTRAL_7B_V01, sliding_window: 32768 }, 'c').numLayers, 32);
  assert.throws(() => parseHfConfig(MISTRAL_7B_V01, 'm/config.json'), (e: unknown) => e instanceof UnsupportedModelError && /sliding_window 4096/.test(e.message) && e.message.includes('m/config.json'));
  // MistralConfig defaults the window to 4096 when the key is absent.
  const { sliding_window: _omit, ...noKey } = MISTRAL_7B_V01;
  assert.throws(() => parseHfConfig(noKey, 'c'), /sliding_window/);
  const nemo = parseHfConfig(MISTRAL_NEMO, 'config.json');
  assert.equal(nemo.headDim, 128);
  assert.equal(nemo.numHeads * nemo.headDim, 4096); // != hidden_size 5120
});

test('Qwen2 / Qwen2.5: q/k/v biases without an o_proj bias; use_sliding_window must be false', () => {
  const small = parseHfConfig(QWEN25_05B, 'config.json');
  assert.deepEqual([small.attentionBias, small.outputBias, small.mlpBias], [true, false, false]);
  assert.deepEqual([small.numHeads, small.numKvHeads, small.headDim, small.tieWordEmbeddings], [14, 2, 64, true]);
  assert.equal(small.rmsNormEps, 1e-6);
  const big = parseHfConfig(QWEN2_7B, 'config.json');
  assert.equal(big.tieWordEmbeddings, false);
  assert.throws(() => parseHfConfig({ ...QWEN25_05B, use_sliding_window: true }, 'c'), (e: unknown) => e instanceof UnsupportedModelError && /use_sliding_window/.test(e.message));
});

test('Llama attention_bias and mlp_bias turn on every bias', () => {
  const c = parseHfConfig({ ...TINYLLAMA, attention_bias: true, mlp_bias: true }, 'c');
  assert.deepEqual([c.attentionBias, c.outputBias, c.mlpBias], [true, true, true]);
});

test('unknown architectures and unsupported values are UnsupportedModelError naming them', () => {
  const cases: [unknown, RegExp][] = [
    [{ ...LLAMA2_7B, architectures: ['GPT2LMHeadModel'] }, /unsupported architecture "GPT2LMHeadModel"/],
    [{ ...LLAMA2_7B, hidden_act: 'gelu' }, /hidden_act "gelu"/],
    [{ ...LLAMA2_7B, rope_scaling: { type: 'dynamic', factor: 2 } }, /rope_scaling type "dynamic"/],
    [{ ...QWEN25_05B, rope_scaling: { type: 'yarn', factor: 4, original_max_position_embeddings: 32768 } }, /rope_scaling type "yarn"/],
    [{ ...LLAMA2_7B, quantization_config: { quant_method: 'gptq', bits: 4 } }, /quant_method "gptq"/],
    [{ ...LLAMA2_7B, architectures: undefined, model_type: 'gemma' }, /model_type "gemma"/],
  ];
  for (const [json, re] of cases) {
    assert.throws(() => parseHfConfig(json, 'dir/config.json'), (e: unknown) => e instanceof UnsupportedModelError && re.test(e.message) && e.message.startsWith('dir/config.json'), String(re));
  }
});

test('missing or mistyped required fields are ModelFormatError naming the field and file', () => {
  const { hidden_size: _h, ...noHidden } = LLAMA2_7B;
  const cases: [unknown, RegExp][] = [
    [noHidden, /missing required field "hidden_size"/],
    [{ ...LLAMA2_7B, vocab_size: '32000' }, /"vocab_size" must be an integer/],
    [{ ...LLAMA2_7B, num_hidden_layers: 0 }, /"num_hidden_layers" must be an integer >= 1/],
    [{ ...LLAMA2_7B, num_key_value_heads: 5 }, /not a multiple of num_key_value_heads 5/],
    [{ ...LLAMA2_7B, eos_token_id: 'x' }, /"eos_token_id"/],
    [{ ...LLAMA2_7B, tie_word_embeddings: 'yes' }, /"tie_word_embeddings" must be true or false/],
    [{ ...LLAMA31_8B, rope_scaling: { rope_type: 'llama3', factor: 8 } }, /missing required field "low_freq_factor"/],
    [{ ...LLAMA2_7B, architectures: 'LlamaForCausalLM' }, /"architectures" must be a non-empty list/],
    [[1, 2], /expected a JSON object/],
  ];
  for (const [json, re] of cases) {
    assert.throws(() => parseHfConfig(json, 'dir/config.json'), (e: unknown) => e instanceof ModelFormatError && re.test(e.message) && e.message.includes('dir/config.json'), String(re));
  }
});

test('a config with only model_type maps to its architecture', () => {
  const c = parseHfConfig({ ...QWEN25_05B, architectures: undefined }, 'c');
  assert.equal(c.architecture, 'Qwen2ForCausalLM');
});

test('every field of every family set to every wrong type: parses or fails typed, never crashes', () => {
  const wrong: unknown[] = [null, 'x', -1, 0, 1.5, true, [], [1], {}, { rope_type: 'llama3' }];
  let typed = 0;
  for (const base of [LLAMA31_8B, MISTRAL_7B_V03, QWEN25_05B] as Record<string, unknown>[]) {
    for (const key of [...Object.keys(base), 'head_dim', 'rope_parameters']) {
      for (const value of wrong) {
        try {
          parseHfConfig({ ...base, [key]: value }, 'config.json');
        } catch (err) {
          assert.ok(err instanceof EdgewiseError, `${key}=${JSON.stringify(value)}: ${(err as Error).stack}`);
          typed++;
        }
      }
    }
  }
  assert.ok(typed > 100, `${typed} typed failures`);
});
