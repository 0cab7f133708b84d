// Block Influence (ShortGPT): 1 − cos(input, output) of each block's hidden state, measured with the real runner.

import type { LayerWeights, ModelRunner, WeightProvider } from '../engine/runner-types.js';
import type { ModelConfig } from '../model/model-config.js';
import { UnsupportedModelError } from '../errors.js';
import { rankByScore, type LayerImportance } from './calibration-types.js';

/**
 * NOTE: the runner only returns logits, so this provider turns its LM head into a hidden-state
 * probe: final norm weight = 1 and LM head = [I_H; 0] make the first H logits of each position
 * RMSNorm(h) = h / rms(h), a positive multiple of h, and cosine similarity ignores the scale.
 * The blocks themselves run unchanged on the real engine (same kernels, same weights).
 */
export class HiddenStateProbe implements WeightProvider {
  readonly config: ModelConfig;
  private readonly ones: Float32Array;
  private readonly head: Float32Array;

  constructor(private readonly inner: WeightProvider) {
    const { hiddenSize: H, vocabSize: V } = inner.config;
    if (V < H) throw new UnsupportedModelError(`block influence needs vocab_size (${V}) >= hidden_size (${H})`);
    this.config = inner.config;
    this.ones = new Float32Array(H).fill(1);
    this.head = new Float32Array(V * H);
    for (let i = 0; i < H; i++) this.head[i * H + i] = 1;
  }

  embedding(): Float32Array {
    return this.inner.embedding();
  }

  finalNorm(): Float32Array {
    return this.ones;
  }

  lmHead(): Float32Array {
    return this.head;
  }

  layer(layerIndex: number): Promise<LayerWeights> {
    return this.inner.layer(layerIndex);
  }

  close(): void {
    this.inner.close();
  }
}

/** Mean over rows of 1 − cos(a_t, b_t), rows of width H taken at stride `strideA` / `strideB`. */
export function meanOneMinusCos(a: Float32Array, strideA: number, b: Float32Array, strideB: number, rows: number, H: number): number {
  let total = 0;
  for (let t = 0; t < rows; t++) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let i = 0; i < H; i++) {
      const x = a[t * strideA + i];
      const y = b[t * strideB + i];
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
    total += 1 - dot / Math.sqrt(na * nb || 1);
  }
  return total / Math.max(1, rows);
}

/**
 * Scores every block on `windows` with `runner` (created over a HiddenStateProbe): the hidden
 * state after blocks 0..k is read by running those blocks only, for k = 0..L-1; block 0's
 * input is the embedding row itself.
 */
export async function blockInfluence(runner: ModelRunner, embedding: Float32Array, windows: number[][]): Promise<LayerImportance> {
  const { numLayers: L, hiddenSize: H, vocabSize: V } = runner.config;
  const sums = new Array<number>(L).fill(0);
  let numTokens = 0;
  for (const ids of windows) {
    let prev = new Float32Array(ids.length * H);
    ids.forEach((id, t) => prev.set(embedding.subarray(id * H, (id + 1) * H), t * H));
    let prevStride = H;
    for (let k = 0; k < L; k++) {
      const seqId = 1;
      runner.createSequence(seqId, { layerIndices: Array.from({ length: k + 1 }, (_, i) => i) });
      let out: Float32Array;
      try {
        [out] = await runner.step([{ seqId, tokenIds: ids, allLogits: true }]);
      } finally {
        runner.freeSequence(seqId);
      }
      sums[k] += meanOneMinusCos(prev, prevStride, out, V, ids.length, H) * ids.length;
      prev = Float32Array.from(out);
      prevStride = V;
    }
    numTokens += ids.length;
  }
  const scores = sums.map((s) => s / Math.max(1, numTokens));
  return { method: 'block-influence', scores, ranking: rankByScore(scores), numTokens };
}
