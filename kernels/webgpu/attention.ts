// Launchers for RoPE, the KV-cache append and causal GQA attention; tokens carry [tokenId, position, slot, 0] records in `meta`.

import { grid, type KernelRuntime } from './kernel-runtime.js';

/** u32s per token in the metadata buffer the position-dependent kernels read. */
export const META_STRIDE = 4;

/** Rotates x ([tokens, heads, headDim]) in place, and `second` ([tokens, second.heads, headDim], e.g. k) in the same dispatch. */
export function rope(
  rt: KernelRuntime,
  enc: GPUCommandEncoder,
  a: { meta: GPUBuffer; cos: GPUBuffer; sin: GPUBuffer; x: GPUBuffer; tokens: number; heads: number; headDim: number; second?: { x: GPUBuffer; heads: number } },
): void {
  const heads2 = a.second?.heads ?? 0;
  const total = a.tokens * (a.heads + heads2) * (a.headDim / 2);
  const bindings = [rt.uniform([a.heads, a.headDim, a.tokens, heads2]), a.meta, a.cos, a.sin, a.x];
  if (a.second) bindings.push(a.second.x);
  rt.dispatch(enc, rt.pipeline('rope', { TWO: a.second !== undefined }), bindings, grid(Math.ceil(total / 64)));
}

export function kvStore(
  rt: KernelRuntime,
  enc: GPUCommandEncoder,
  a: { meta: GPUBuffer; k: GPUBuffer; v: GPUBuffer; kCache: GPUBuffer; vCache: GPUBuffer; tokens: number; kvHeads: number; headDim: number; maxLen: number },
): void {
  const total = a.tokens * a.kvHeads * a.headDim;
  const bindings = [rt.uniform([a.kvHeads, a.headDim, a.tokens, a.maxLen]), a.meta, a.k, a.v, a.kCache, a.vCache];
  rt.dispatch(enc, rt.pipeline('kv-store'), bindings, grid(Math.ceil(total / 64)));
}

export function attention(
  rt: KernelRuntime,
  enc: GPUCommandEncoder,
  a: {
    meta: GPUBuffer;
    q: GPUBuffer;
    kCache: GPUBuffer;
    vCache: GPUBuffer;
    out: GPUBuffer;
    tokens: number;
    heads: number;
    kvHeads: number;
    headDim: number;
    maxLen: number;
  },
): void {
  if (a.headDim > 256) throw new RangeError(`attention: headDim ${a.headDim} > 256`);
  if (a.heads % a.kvHeads !== 0) throw new RangeError(`attention: ${a.heads} heads not a multiple of ${a.kvHeads} KV heads`);
  const scale = Math.fround(1 / Math.sqrt(a.headDim));
  const params = rt.uniform([a.heads, a.kvHeads, a.headDim, a.maxLen, { f32: scale }, 0, 0, 0]);
  const pipe = rt.pipeline('attention', { DPT: Math.ceil(a.headDim / 64) });
  rt.dispatch(enc, pipe, [params, a.meta, a.q, a.kCache, a.vCache, a.out], [a.heads, a.tokens]);
}
