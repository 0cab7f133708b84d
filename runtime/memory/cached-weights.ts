// WeightProvider wrapper: blocks that fit in the BlockCache stay decoded, the rest decode just in time.

import type { BlockDecodeStats, LayerWeights, WeightProvider } from '../engine/runner-types.js';
import type { ModelConfig } from '../model/model-config.js';
import { BlockCache, blockKey } from './block-cache.js';

/** fp32 bytes of one decoded block (all projections, norms and biases). */
export function blockBytes(config: ModelConfig): number {
  const { hiddenSize: H, numHeads, numKvHeads, headDim, intermediateSize: I } = config;
  const q = numHeads * headDim;
  const kv = numKvHeads * headDim;
  const weights = 2 * H + q * H + 2 * kv * H + H * q + 3 * I * H;
  const biases = config.attentionBias ? q + 2 * kv : 0;
  return 4 * (weights + biases + (config.mlpBias ? 2 * I + H : 0));
}

function copyLayer(src: LayerWeights): LayerWeights {
  const out = {} as Record<string, Float32Array | null>;
  for (const [k, v] of Object.entries(src)) out[k] = v === null ? null : Float32Array.from(v as Float32Array);
  return out as unknown as LayerWeights;
}

function layerBytes(lw: LayerWeights): number {
  let n = 0;
  for (const v of Object.values(lw)) if (v !== null) n += (v as Float32Array).byteLength;
  return n;
}

/**
 * NOTE: the inner provider reuses its block buffers between `layer()` calls, so an admitted
 * block is copied out once (one memcpy per block, only on the miss that admits it); hits then
 * skip the decode entirely. Precision is part of the key so rungs never alias.
 */
export class CachedWeightProvider implements WeightProvider {
  readonly config: ModelConfig;

  constructor(
    private readonly inner: WeightProvider,
    readonly cache: BlockCache<LayerWeights>,
    private readonly precision = 'bf16',
  ) {
    this.config = inner.config;
  }

  embedding(): Float32Array {
    return this.inner.embedding();
  }

  finalNorm(): Float32Array {
    return this.inner.finalNorm();
  }

  lmHead(): Float32Array {
    return this.inner.lmHead();
  }

  /** Cache hits decode nothing, so the inner provider's counts are exactly the decodes done. */
  get decodeStats(): BlockDecodeStats | undefined {
    return this.inner.decodeStats;
  }

  async layer(layerIndex: number): Promise<LayerWeights> {
    const key = blockKey(layerIndex, this.precision);
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const decoded = await this.inner.layer(layerIndex);
    const bytes = layerBytes(decoded);
    if (!this.cache.fits(bytes)) {
      this.cache.admit(key, decoded, bytes); // counted as a bypass
      return decoded;
    }
    const copy = copyLayer(decoded);
    this.cache.admit(key, copy, bytes);
    return copy;
  }

  close(): void {
    this.cache.resize(0);
    this.inner.close();
  }
}
