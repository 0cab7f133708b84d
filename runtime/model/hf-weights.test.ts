// Tests the HF-folder WeightProvider: every tensor lands in the right field, ties, biases, missing/wrong tensors.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ModelFormatError } from '../errors.js';
import type { WeightDtype } from './dtype.js';
import { parseHfConfig } from './hf-config.js';
import { expectedTensors, HfWeightProvider } from './hf-weights.js';
import type { ModelConfig } from './model-config.js';
import { SafetensorsCheckpoint } from './safetensors-checkpoint.js';
import { writeSafetensors } from './safetensors-writer.js';

const root = mkdtempSync(join(tmpdir(), 'edgewise-w-'));
after(() => rmSync(root, { recursive: true, force: true }));

const BASE = {
  architectures: ['LlamaForCausalLM'], hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4,
  num_key_value_heads: 2, head_dim: 4, vocab_size: 32, rms_norm_eps: 1e-5, max_position_embeddings: 64,
};

/** Distinct random values per tensor, so that a tensor in the wrong field cannot go unnoticed. */
function randomTensor(n: number, seed: number): Float32Array {
  let s = seed * 7919 + 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  return out;
}

interface Written {
  dir: string;
  config: ModelConfig;
  data: Map<string, Float32Array>;
}

function writeModel(name: string, configJson: object, dtype: WeightDtype, edit?: (t: { name: string; shape: number[] }[]) => void): Written {
  const dir = mkdtempSync(join(root, `${name}-`));
  const config = parseHfConfig(configJson, 'config.json');
  const tensors = expectedTensors(config).map(({ name: n, shape }) => ({ name: n, shape }));
  edit?.(tensors);
  const data = new Map(tensors.map((t, i) => [t.name, randomTensor(t.shape.reduce((a, d) => a * d, 1), i + 1)]));
  writeSafetensors(join(dir, 'model.safetensors'), tensors.map((t) => ({ name: t.name, dtype, shape: t.shape, data: data.get(t.name)! })));
  return { dir, config, data };
}

function load(w: Written): HfWeightProvider {
  const ck = SafetensorsCheckpoint.openFolder(w.dir);
  try {
    return HfWeightProvider.load(ck, w.config, w.dir);
  } finally {
    ck.close();
  }
}

test('F32 untied model with all biases: every HF tensor is returned, exactly, in its field', async () => {
  const w = writeModel('f32', { ...BASE, attention_bias: true, mlp_bias: true }, 'F32');
  const p = load(w);
  assert.deepEqual(p.embedding(), w.data.get('model.embed_tokens.weight'));
  assert.deepEqual(p.finalNorm(), w.data.get('model.norm.weight'));
  assert.deepEqual(p.lmHead(), w.data.get('lm_head.weight'));
  assert.notDeepEqual(p.lmHead(), p.embedding());
  const fields: [string, string][] = [
    ['inputNorm', 'input_layernorm.weight'], ['qProj', 'self_attn.q_proj.weight'], ['kProj', 'self_attn.k_proj.weight'],
    ['vProj', 'self_attn.v_proj.weight'], ['oProj', 'self_attn.o_proj.weight'], ['qBias', 'self_attn.q_proj.bias'],
    ['kBias', 'self_attn.k_proj.bias'], ['vBias', 'self_attn.v_proj.bias'], ['oBias', 'self_attn.o_proj.bias'],
    ['postAttentionNorm', 'post_attention_layernorm.weight'], ['gateProj', 'mlp.gate_proj.weight'], ['upProj', 'mlp.up_proj.weight'],
    ['downProj', 'mlp.down_proj.weight'], ['gateBias', 'mlp.gate_proj.bias'], ['upBias', 'mlp.up_proj.bias'], ['downBias', 'mlp.down_proj.bias'],
  ];
  for (let layer = 0; layer < 2; layer++) {
    const lw = (await p.layer(layer)) as unknown as Record<string, Float32Array | null>;
    for (const [field, suffix] of fields) assert.deepEqual(lw[field], w.data.get(`model.layers.${layer}.${suffix}`), `layer ${layer} ${field}`);
  }
  assert.equal((await p.layer(0)).qProj.length, 16 * 16);
  assert.equal((await p.layer(1)).kProj.length, 8 * 16);
  await assert.rejects(p.layer(2), RangeError);
});

test('BF16 tied Qwen2-style model: values within bf16 rounding, lm head is the embedding, o_proj has no bias', async () => {
  const w = writeModel('bf16', { ...BASE, architectures: ['Qwen2ForCausalLM'], tie_word_embeddings: true }, 'BF16');
  assert.ok(!w.data.has('lm_head.weight'));
  const p = load(w);
  assert.equal(p.lmHead(), p.embedding());
  const l0 = await p.layer(0);
  assert.equal(l0.oBias, null);
  assert.equal(l0.gateBias, null);
  const ref = w.data.get('model.layers.0.self_attn.k_proj.bias')!;
  assert.equal(l0.kBias!.length, ref.length);
  let changed = 0;
  for (let i = 0; i < ref.length; i++) {
    assert.ok(Math.abs(l0.kBias![i] - ref[i]) <= Math.abs(ref[i]) * 2 ** -8, `k bias ${i}`);
    if (l0.kBias![i] !== ref[i]) changed++;
  }
  assert.ok(changed > 0, 'bf16 storage must have rounded some values');
});

test('a missing tensor or a wrong shape is a ModelFormatError naming the tensor', () => {
  const missing = writeModel('missing', BASE, 'F32', (t) => t.splice(t.findIndex((x) => x.name === 'model.layers.1.mlp.up_proj.weight'), 1));
  assert.throws(() => load(missing), (e: unknown) => e instanceof ModelFormatError && /missing tensor "model\.layers\.1\.mlp\.up_proj\.weight"/.test(e.message));
  const noHead = writeModel('nohead', BASE, 'F32', (t) => t.pop());
  assert.throws(() => load(noHead), /missing tensor "lm_head\.weight"/);
  const wrong = writeModel('shape', BASE, 'F32', (t) => {
    t.find((x) => x.name === 'model.layers.0.self_attn.k_proj.weight')!.shape = [16, 16];
  });
  assert.throws(() => load(wrong), (e: unknown) => e instanceof ModelFormatError && /"model\.layers\.0\.self_attn\.k_proj\.weight" has shape \[16, 16\], config\.json implies \[8, 16\]/.test(e.message));
});
