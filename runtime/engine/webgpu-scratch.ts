// Activation buffers of one WebGPU forward pass, sized for the largest step seen so far and reused.

import type { KernelRuntime } from '../../kernels/webgpu/kernel-runtime.js';
import type { ModelConfig } from '../model/model-config.js';

export interface ScratchBuffers {
  meta: GPUBuffer; // [T, 4] u32: tokenId, position, slot, 0
  pick: GPUBuffer; // [R] u32: rows whose logits are returned
  hidden: GPUBuffer; // [T, H] residual stream
  xn: GPUBuffer; // [T, H] normed
  q: GPUBuffer; // [T, heads*hd]
  k: GPUBuffer; // [T, kvHeads*hd]
  v: GPUBuffer;
  attn: GPUBuffer; // [T, heads*hd]
  gate: GPUBuffer; // [T, I]
  act: GPUBuffer;
  rows: GPUBuffer; // [R, H]
  rowsNorm: GPUBuffer;
  logits: GPUBuffer; // [R, V]
}

export class WebgpuScratch {
  private tokens = 0;
  private rowsCap = 0;
  private bufs: ScratchBuffers | null = null;

  constructor(
    private readonly rt: KernelRuntime,
    private readonly config: ModelConfig,
  ) {}

  get gpuBytes(): number {
    return this.bufs ? Object.values(this.bufs).reduce((n: number, b: GPUBuffer) => n + b.size, 0) : 0;
  }

  /** Buffers for T tokens and R logit rows (grown to the next power of two when too small). */
  ensure(T: number, R: number): ScratchBuffers {
    if (this.bufs && T <= this.tokens && R <= this.rowsCap) return this.bufs;
    this.destroy();
    this.tokens = Math.max(2 ** Math.ceil(Math.log2(T)), this.tokens);
    this.rowsCap = Math.max(2 ** Math.ceil(Math.log2(R)), this.rowsCap);
    const { hiddenSize: H, numHeads: nH, numKvHeads: nKv, headDim: hd, intermediateSize: I, vocabSize: V } = this.config;
    const t = this.tokens;
    const r = this.rowsCap;
    const f = (n: number, label: string) => this.rt.buffer(n * 4, label);
    this.bufs = {
      meta: f(t * 4, 'meta'),
      pick: f(r, 'pick'),
      hidden: f(t * H, 'hidden'),
      xn: f(t * H, 'xn'),
      q: f(t * nH * hd, 'q'),
      k: f(t * nKv * hd, 'k'),
      v: f(t * nKv * hd, 'v'),
      attn: f(t * nH * hd, 'attn'),
      gate: f(t * I, 'gate'),
      act: f(t * I, 'act'),
      rows: f(r * H, 'rows'),
      rowsNorm: f(r * H, 'rowsNorm'),
      logits: f(r * V, 'logits'),
    };
    return this.bufs;
  }

  destroy(): void {
    if (this.bufs) for (const b of Object.values(this.bufs)) b.destroy();
    this.bufs = null;
  }
}
