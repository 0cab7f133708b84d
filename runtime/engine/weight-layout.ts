// Converts Linear weights between the HF [out, in] layout and [in, out], and a provider wrapper that serves [in, out].

import type { ModelConfig } from '../model/model-config.js';
import type { LayerRequest, LayerWeights, WeightProvider } from './runner-types.js';
import { blockWeightShapes } from './block-graph.js';

/** [rows, cols] row-major → [cols, rows] row-major, blocked so both sides stay in cache. */
export function transpose2d(src: Float32Array, rows: number, cols: number, dst = new Float32Array(rows * cols)): Float32Array {
  if (src.length !== rows * cols) throw new RangeError(`transpose2d: ${src.length} elements is not ${rows}x${cols}`);
  const B = 32;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(r0 + B, rows);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(c0 + B, cols);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) dst[c * rows + r] = src[r * cols + c];
    }
  }
  return dst;
}

/** A copy of `lw` with every Linear weight in the [in, out] layout (norms and biases are shared). */
export function toInOutLayout(lw: LayerWeights, config: ModelConfig): LayerWeights {
  if (lw.layout === 'in-out') return lw;
  const out: LayerWeights = { ...lw, layout: 'in-out' };
  for (const { key, dims } of blockWeightShapes(config, 'out-in')) {
    if (dims.length === 2) out[key] = transpose2d(lw[key]!, dims[0], dims[1]);
  }
  return out;
}

/*
 * NOTE: for providers whose layers stay in memory (an uncompressed HF folder, random test
 * weights). Each layer is transposed once, on first request, and kept: that doubles the
 * memory of the block weights unless the source lets its own copy go, so a just-in-time
 * decoding provider should instead decode straight into the [in, out] layout.
 */
export function withInOutLayers(provider: WeightProvider): WeightProvider {
  const cache = new Map<number, LayerWeights>();
  return {
    config: provider.config,
    embedding: () => provider.embedding(),
    finalNorm: () => provider.finalNorm(),
    lmHead: () => provider.lmHead(),
    async layer(layerIndex: number, request?: LayerRequest): Promise<LayerWeights> {
      if (request?.layout !== 'in-out') return provider.layer(layerIndex, request);
      let lw = cache.get(layerIndex);
      if (lw === undefined) {
        lw = toInOutLayout(await provider.layer(layerIndex), provider.config);
        cache.set(layerIndex, lw);
      }
      return lw;
    },
    close: () => provider.close(),
  };
}
