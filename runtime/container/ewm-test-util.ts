// Helpers shared by the container tests and benchmarks: tiny HF folders with synthetic weights.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors, type TensorToWrite } from '../model/safetensors-writer.js';
import { bf16WithEdges, gaussianBf16, gaussianF16 } from '../../kernels/codec/synthetic.js';

/** A config.json for a tiny Llama (2 blocks, hidden 64) with untied embeddings. */
export const TINY_LLAMA_CONFIG = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 64, intermediate_size: 160, num_hidden_layers: 2,
  num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, vocab_size: 96, max_position_embeddings: 128, rms_norm_eps: 1e-5,
  rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2, torch_dtype: 'bfloat16',
};

/** Tensor names and shapes of TINY_LLAMA_CONFIG, in transformers' order. */
export function tinyLlamaShapes(): [string, number[]][] {
  const out: [string, number[]][] = [['model.embed_tokens.weight', [96, 64]]];
  for (let i = 0; i < 2; i++) {
    const p = `model.layers.${i}.`;
    out.push([p + 'input_layernorm.weight', [64]], [p + 'self_attn.q_proj.weight', [64, 64]], [p + 'self_attn.k_proj.weight', [32, 64]],
      [p + 'self_attn.v_proj.weight', [32, 64]], [p + 'self_attn.o_proj.weight', [64, 64]], [p + 'post_attention_layernorm.weight', [64]],
      [p + 'mlp.gate_proj.weight', [160, 64]], [p + 'mlp.up_proj.weight', [160, 64]], [p + 'mlp.down_proj.weight', [64, 160]]);
  }
  out.push(['model.norm.weight', [64]], ['lm_head.weight', [96, 64]]);
  return out;
}

/**
 * Writes a tiny HF folder whose BF16 tensors are Gaussian with every IEEE edge pattern sprinkled in
 * (±0, subnormals, ±inf, NaN payloads), split across two shards with an index.
 */
export function writeEdgeValueFolder(dir: string, seed: number): Map<string, Uint8Array> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(TINY_LLAMA_CONFIG, null, 2));
  const tensors: TensorToWrite[] = [];
  const bytes = new Map<string, Uint8Array>();
  tinyLlamaShapes().forEach(([name, shape], k) => {
    const data = new Uint8Array(bf16WithEdges(shape.reduce((a, d) => a * d, 1), seed + k).buffer);
    bytes.set(name, data);
    tensors.push({ name, dtype: 'BF16', shape, data });
  });
  const half = Math.floor(tensors.length / 2);
  const shards = [tensors.slice(0, half), tensors.slice(half)];
  const weightMap: Record<string, string> = {};
  shards.forEach((list, i) => {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    writeSafetensors(join(dir, file), list, { format: 'pt' });
    for (const t of list) weightMap[t.name] = file;
  });
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  return bytes;
}

/** Llama 3.2 1B's shapes: hidden 2048, intermediate 8192, 32 heads, 8 KV heads, head dim 64. */
export const LLAMA_1B_CONFIG = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 1,
  num_attention_heads: 32, num_key_value_heads: 8, head_dim: 64, vocab_size: 128256, max_position_embeddings: 131072,
  rms_norm_eps: 1e-5, rope_theta: 500000, tie_word_embeddings: true, bos_token_id: 128000, eos_token_id: 128001, torch_dtype: 'bfloat16',
};

/**
 * Writes a folder holding one 1B-shaped transformer block of N(0, 0.02²) BF16 (or F16) weights (the rows of
 * each matrix divided by `rowDivisor` to keep tests fast; 1 = the full 60.8M-weight block).
 * Only the block is written: enough for `convertToEwm`, which does not check shapes.
 */
export function writeLlama1bLayerFolder(dir: string, rowDivisor: number, seed: number, dtype: 'BF16' | 'F16' = 'BF16'): number {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(LLAMA_1B_CONFIG, null, 2));
  const h = 2048;
  const shapes: [string, number[]][] = [
    ['self_attn.q_proj.weight', [2048 / rowDivisor, h]], ['self_attn.k_proj.weight', [512 / rowDivisor, h]],
    ['self_attn.v_proj.weight', [512 / rowDivisor, h]], ['self_attn.o_proj.weight', [h / rowDivisor, 2048]],
    ['mlp.gate_proj.weight', [8192 / rowDivisor, h]], ['mlp.up_proj.weight', [8192 / rowDivisor, h]], ['mlp.down_proj.weight', [h / rowDivisor, 8192]],
  ];
  let n = 0;
  const tensors: TensorToWrite[] = shapes.map(([suffix, shape], k) => {
    const count = shape[0] * shape[1];
    n += count;
    const make = dtype === 'BF16' ? gaussianBf16 : gaussianF16;
    return { name: `model.layers.0.${suffix}`, dtype, shape, data: () => new Uint8Array(make(count, 0.02, seed + k).buffer) };
  });
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  return n;
}
