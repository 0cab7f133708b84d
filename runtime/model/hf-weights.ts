// WeightProvider over an HF folder's safetensors: validates names and shapes, converts to fp32 once, keeps it.

import { ModelFormatError } from '../errors.js';
import type { LayerWeights, WeightProvider } from '../engine/runner-types.js';
import type { ModelConfig } from './model-config.js';
import type { SafetensorsCheckpoint } from './safetensors-checkpoint.js';

type LayerKey = keyof LayerWeights;

export interface ExpectedTensor {
  name: string;
  shape: number[];
  /** Which LayerWeights field it fills, for per-layer tensors. */
  layerKey?: LayerKey;
  layerIndex?: number;
}

/** The HF tensor names and shapes a config implies, in the order transformers writes them. */
export function expectedTensors(config: ModelConfig): ExpectedTensor[] {
  const { hiddenSize: h, intermediateSize: m, vocabSize: v, numHeads, numKvHeads, headDim } = config;
  const q = numHeads * headDim;
  const kv = numKvHeads * headDim;
  const out: ExpectedTensor[] = [{ name: 'model.embed_tokens.weight', shape: [v, h] }];
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}.`;
    const add = (suffix: string, shape: number[], layerKey: LayerKey, present = true): void => {
      if (present) out.push({ name: p + suffix, shape, layerKey, layerIndex: i });
    };
    add('input_layernorm.weight', [h], 'inputNorm');
    add('self_attn.q_proj.weight', [q, h], 'qProj');
    add('self_attn.q_proj.bias', [q], 'qBias', config.attentionBias);
    add('self_attn.k_proj.weight', [kv, h], 'kProj');
    add('self_attn.k_proj.bias', [kv], 'kBias', config.attentionBias);
    add('self_attn.v_proj.weight', [kv, h], 'vProj');
    add('self_attn.v_proj.bias', [kv], 'vBias', config.attentionBias);
    add('self_attn.o_proj.weight', [h, q], 'oProj');
    add('self_attn.o_proj.bias', [h], 'oBias', config.outputBias);
    add('post_attention_layernorm.weight', [h], 'postAttentionNorm');
    add('mlp.gate_proj.weight', [m, h], 'gateProj');
    add('mlp.gate_proj.bias', [m], 'gateBias', config.mlpBias);
    add('mlp.up_proj.weight', [m, h], 'upProj');
    add('mlp.up_proj.bias', [m], 'upBias', config.mlpBias);
    add('mlp.down_proj.weight', [h, m], 'downProj');
    add('mlp.down_proj.bias', [h], 'downBias', config.mlpBias);
  }
  out.push({ name: 'model.norm.weight', shape: [h] });
  if (!config.tieWordEmbeddings) out.push({ name: 'lm_head.weight', shape: [v, h] });
  return out;
}

function emptyLayer(): LayerWeights {
  const none = new Float32Array(0);
  return {
    inputNorm: none, qProj: none, kProj: none, vProj: none, qBias: null, kBias: null, vBias: null,
    oProj: none, oBias: null, postAttentionNorm: none, gateProj: none, upProj: none, downProj: none,
    gateBias: null, upBias: null, downBias: null,
  };
}

/** Throws ModelFormatError naming the first missing or wrongly shaped tensor, before reading any data. */
export function checkTensors(checkpoint: Pick<SafetensorsCheckpoint, 'has' | 'info'>, config: ModelConfig, where: string): ExpectedTensor[] {
  const expected = expectedTensors(config);
  for (const t of expected) {
    if (!checkpoint.has(t.name)) throw new ModelFormatError(where, `missing tensor "${t.name}"`);
    const shape = checkpoint.info(t.name).shape;
    if (shape.length !== t.shape.length || shape.some((d, i) => d !== t.shape[i])) {
      throw new ModelFormatError(where, `tensor "${t.name}" has shape [${shape.join(', ')}], config.json implies [${t.shape.join(', ')}]`);
    }
  }
  return expected;
}

export class HfWeightProvider implements WeightProvider {
  readonly config: ModelConfig;
  private readonly embed: Float32Array;
  private readonly norm: Float32Array;
  private readonly head: Float32Array;
  private readonly layers: LayerWeights[];

  private constructor(config: ModelConfig, embed: Float32Array, norm: Float32Array, head: Float32Array, layers: LayerWeights[]) {
    this.config = config;
    this.embed = embed;
    this.norm = norm;
    this.head = head;
    this.layers = layers;
  }

  /**
   * Reads every tensor the config needs, converted to fp32. The checkpoint can be closed after.
   * `onProgress(done, total)` is called after each tensor (for a progress bar).
   */
  static load(checkpoint: SafetensorsCheckpoint, config: ModelConfig, where: string, onProgress?: (done: number, total: number) => void): HfWeightProvider {
    const expected = checkTensors(checkpoint, config, where);
    const layers = Array.from({ length: config.numLayers }, emptyLayer);
    const globals = new Map<string, Float32Array>();
    expected.forEach((t, i) => {
      const data = checkpoint.readF32(t.name);
      if (t.layerKey !== undefined) (layers[t.layerIndex!] as unknown as Record<string, Float32Array>)[t.layerKey] = data;
      else globals.set(t.name, data);
      onProgress?.(i + 1, expected.length);
    });
    const embed = globals.get('model.embed_tokens.weight')!;
    // Tied: transformers ignores a stored lm_head and shares the embedding.
    const head = config.tieWordEmbeddings ? embed : globals.get('lm_head.weight')!;
    return new HfWeightProvider(config, embed, globals.get('model.norm.weight')!, head, layers);
  }

  embedding(): Float32Array {
    return this.embed;
  }

  finalNorm(): Float32Array {
    return this.norm;
  }

  lmHead(): Float32Array {
    return this.head;
  }

  async layer(layerIndex: number): Promise<LayerWeights> {
    const layer = this.layers[layerIndex];
    if (layer === undefined) throw new RangeError(`layer ${layerIndex} out of range 0..${this.layers.length - 1}`);
    return layer;
  }

  close(): void {
    this.layers.length = 0;
  }
}
