// Plain-loop float64 Llama forward pass (transformers semantics) that engine tests compare against.

import type { ModelConfig } from '../model/model-config.js';
import type { LayerWeights, WeightProvider } from './runner-types.js';

/**
 * RoPE inverse frequencies in float64, written from the transformers formulas independently of
 * rope.ts (which rounds to float32 like transformers) so the two check each other.
 */
function referenceInvFreq(config: ModelConfig): number[] {
  const dim = config.headDim;
  const inv: number[] = [];
  for (let i = 0; i < dim / 2; i++) inv.push(1 / Math.pow(config.ropeTheta, (2 * i) / dim));
  const s = config.ropeScaling;
  if (s.kind === 'linear') return inv.map((f) => f / s.factor);
  if (s.kind === 'llama3') {
    const low = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
    const high = s.originalMaxPositionEmbeddings / s.highFreqFactor;
    return inv.map((f) => {
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < high) return f;
      if (wavelen > low) return f / s.factor;
      const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      return ((1 - smooth) * f) / s.factor + smooth * f;
    });
  }
  return inv;
}

function rmsNorm(x: Float64Array, w: Float32Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * r * w[i]);
}

/** y = W x (+ b), W row-major [out, in]. */
function linear(x: Float64Array, w: Float32Array, b: Float32Array | null, out: number): Float64Array {
  const inp = x.length;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let acc = b === null ? 0 : b[o];
    for (let i = 0; i < inp; i++) acc += w[o * inp + i] * x[i];
    y[o] = acc;
  }
  return y;
}

/** Rotate-half RoPE on each head of `x` ([heads * headDim]) at position `pos`. */
function rope(x: Float64Array, heads: number, headDim: number, pos: number, invFreq: number[]): Float64Array {
  const half = headDim / 2;
  const y = new Float64Array(x.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      const a = x[h * headDim + i];
      const b = x[h * headDim + half + i];
      const c = Math.cos(pos * invFreq[i]);
      const s = Math.sin(pos * invFreq[i]);
      y[h * headDim + i] = a * c - b * s;
      y[h * headDim + half + i] = b * c + a * s;
    }
  }
  return y;
}

/**
 * Logits [tokenIds.length * vocab] for every position of one sequence run from scratch
 * through the blocks `layerIndices` (all when absent).
 */
export async function referenceForward(weights: WeightProvider, tokenIds: number[], layerIndices?: number[]): Promise<Float64Array> {
  const c = weights.config;
  const H = c.hiddenSize;
  const hd = c.headDim;
  const group = c.numHeads / c.numKvHeads;
  const invFreq = referenceInvFreq(c);
  const emb = weights.embedding();
  let xs = tokenIds.map((id) => Float64Array.from(emb.subarray(id * H, (id + 1) * H)));
  const layers = layerIndices ?? Array.from({ length: c.numLayers }, (_, i) => i);
  for (const l of layers) {
    const w: LayerWeights = await weights.layer(l);
    const qs: Float64Array[] = [];
    const ks: Float64Array[] = [];
    const vs: Float64Array[] = [];
    xs.forEach((x, pos) => {
      const h = rmsNorm(x, w.inputNorm, c.rmsNormEps);
      qs.push(rope(linear(h, w.qProj, w.qBias, c.numHeads * hd), c.numHeads, hd, pos, invFreq));
      ks.push(rope(linear(h, w.kProj, w.kBias, c.numKvHeads * hd), c.numKvHeads, hd, pos, invFreq));
      vs.push(linear(h, w.vProj, w.vBias, c.numKvHeads * hd));
    });
    xs = xs.map((x, pos) => {
      const attn = new Float64Array(c.numHeads * hd);
      for (let head = 0; head < c.numHeads; head++) {
        const kvHead = Math.floor(head / group);
        const scores: number[] = [];
        for (let j = 0; j <= pos; j++) {
          let dot = 0;
          for (let d = 0; d < hd; d++) dot += qs[pos][head * hd + d] * ks[j][kvHead * hd + d];
          scores.push(dot / Math.sqrt(hd));
        }
        const max = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - max));
        const sum = exps.reduce((a, b) => a + b, 0);
        for (let j = 0; j <= pos; j++) {
          for (let d = 0; d < hd; d++) attn[head * hd + d] += (exps[j] / sum) * vs[j][kvHead * hd + d];
        }
      }
      const x2 = linear(attn, w.oProj, w.oBias, H).map((v, i) => v + x[i]);
      const h2 = rmsNorm(x2, w.postAttentionNorm, c.rmsNormEps);
      const gate = linear(h2, w.gateProj, w.gateBias, c.intermediateSize);
      const up = linear(h2, w.upProj, w.upBias, c.intermediateSize);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
      return linear(act, w.downProj, w.downBias, H).map((v, i) => v + x2[i]);
    });
  }
  const V = c.vocabSize;
  const logits = new Float64Array(tokenIds.length * V);
  const norm = weights.finalNorm();
  const lm = weights.lmHead();
  xs.forEach((x, pos) => logits.set(linear(rmsNorm(x, norm, c.rmsNormEps), lm, null, V), pos * V));
  return logits;
}

/** max |a - ref| / max |ref| over finite reference values (the parity metric the issue names). */
export function relativeMaxError(actual: ArrayLike<number>, reference: ArrayLike<number>): number {
  if (actual.length !== reference.length) throw new RangeError(`length ${actual.length} != reference length ${reference.length}`);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < reference.length; i++) {
    if (!Number.isFinite(reference[i])) continue;
    const diff = Math.abs(actual[i] - reference[i]);
    maxDiff = Number.isNaN(diff) ? Infinity : Math.max(maxDiff, diff);
    maxRef = Math.max(maxRef, Math.abs(reference[i]));
  }
  return maxRef === 0 ? maxDiff : maxDiff / maxRef;
}
