// RoPE inverse frequencies and cos/sin tables computed in float32 exactly as transformers does.

import type { ModelConfig } from '../model/model-config.js';
import { UnsupportedModelError } from '../errors.js';

const f32 = Math.fround;

/**
 * inv_freq[i] = 1 / base^(2i/dim), then the config's rope_scaling, every step rounded to
 * float32 because transformers computes it on float32 tensors (the `rope_init_fn`s).
 */
export function computeInvFreq(config: ModelConfig): Float32Array {
  const dim = config.headDim;
  if (dim % 2 !== 0) throw new UnsupportedModelError(`head_dim ${dim} is odd; RoPE needs an even head_dim`);
  const half = dim / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const exponent = f32(f32(2 * i) / dim);
    invFreq[i] = f32(1 / f32(Math.pow(config.ropeTheta, exponent)));
  }
  const scaling = config.ropeScaling;
  if (scaling.kind === 'linear') {
    for (let i = 0; i < half; i++) invFreq[i] = f32(invFreq[i] / scaling.factor);
  } else if (scaling.kind === 'llama3') {
    // transformers' _compute_llama3_parameters: low frequencies are divided by `factor`,
    // high ones kept, the band between them interpolated smoothly.
    const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: oldLen } = scaling;
    const lowFreqWavelen = oldLen / lowFreqFactor;
    const highFreqWavelen = oldLen / highFreqFactor;
    for (let i = 0; i < half; i++) {
      const inv = invFreq[i];
      const wavelen = f32(f32(2 * Math.PI) / inv);
      let out = wavelen > lowFreqWavelen ? f32(inv / factor) : inv;
      const isMedium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
      if (isMedium) {
        const smooth = f32(f32(f32(oldLen / wavelen) - lowFreqFactor) / (highFreqFactor - lowFreqFactor));
        out = f32(f32(f32(f32(1 - smooth) * out) / factor) + f32(smooth * out));
      }
      invFreq[i] = out;
    }
  }
  return invFreq;
}

/**
 * cos/sin rows for positions [0, maxPositions): row p is cat(freqs, freqs) with
 * freqs = float32(p * inv_freq), as transformers' LlamaRotaryEmbedding builds `emb`.
 * (attention_scaling is 1 for the default, linear and llama3 kinds.) Stored as
 * [position, 2, headDim] (cos then sin) so one token's rows are one contiguous copy.
 */
export class RopeTables {
  readonly headDim: number;
  readonly maxPositions: number;
  private readonly table: Float32Array;

  constructor(config: ModelConfig, maxPositions: number) {
    const invFreq = computeInvFreq(config);
    const dim = config.headDim;
    const half = dim / 2;
    this.headDim = dim;
    this.maxPositions = maxPositions;
    this.table = new Float32Array(maxPositions * 2 * dim);
    for (let p = 0; p < maxPositions; p++) {
      const cosAt = p * 2 * dim;
      const sinAt = cosAt + dim;
      for (let i = 0; i < half; i++) {
        const freq = f32(p * invFreq[i]);
        const c = f32(Math.cos(freq));
        const s = f32(Math.sin(freq));
        this.table[cosAt + i] = c;
        this.table[cosAt + half + i] = c;
        this.table[sinAt + i] = s;
        this.table[sinAt + half + i] = s;
      }
    }
  }

  /** Copies the cos and sin rows of `positions` into cosOut/sinOut ([positions.length, headDim] each). */
  fill(positions: ArrayLike<number>, cosOut: Float32Array, sinOut: Float32Array): void {
    const dim = this.headDim;
    for (let t = 0; t < positions.length; t++) {
      const at = positions[t] * 2 * dim;
      cosOut.set(this.table.subarray(at, at + dim), t * dim);
      sinOut.set(this.table.subarray(at + dim, at + 2 * dim), t * dim);
    }
  }

  /** Copies the [2, headDim] rows (cos, sin) of `positions` into `out` ([positions.length, 2, headDim]). */
  fillInterleaved(positions: ArrayLike<number>, out: Float32Array): void {
    const row = 2 * this.headDim;
    for (let t = 0; t < positions.length; t++) {
      const p = positions[t];
      out.set(this.table.subarray(p * row, (p + 1) * row), t * row);
    }
  }
}
