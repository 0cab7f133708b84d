// Launches y = x · Wᵀ (+ bias): GEMV for up to 8 rows of x (decode), tiled GEMM above that (prefill), a naive kernel on software GPUs.

import { grid, type KernelRuntime } from './kernel-runtime.js';
import { weightBinding, type GpuWeight } from './gpu-weight.js';
import { epilogueDefines, type Epilogue } from './epilogue.js';
import { decodeForProduct, tryFusedProduct, type CompressedWeight } from './compressed-weight.js';

export type { CompressedWeight } from './compressed-weight.js';

/** A matmul weight: dense on the GPU, or huff8-compressed (fused decode + GEMV, or decoded just in time). */
export type MatmulWeight = GpuWeight | CompressedWeight;

/** Rows of x one GEMV dispatch handles; batches above this use the tiled GEMM. */
export const GEMV_MAX_ROWS = 8;
const GEMV_WG = 64;

export interface MatmulArgs extends Epilogue {
  x: GPUBuffer; // [m, k] f32
  w: MatmulWeight; // [n, k]
  y: GPUBuffer; // [m, n] f32
  bias?: GPUBuffer | null; // [n]
  m: number;
  n: number;
  k: number;
}

/** Which kernel runs: by default GEMV/GEMM on hardware, the barrier-free naive kernel on software adapters. */
export type MatmulKernel = 'auto' | 'gemv' | 'gemm' | 'naive';

export function matmul(rt: KernelRuntime, enc: GPUCommandEncoder, a: MatmulArgs, options: { kernel?: MatmulKernel } = {}): void {
  if (a.w.format === 'huff8') {
    if (tryFusedProduct(rt, enc, a.w, { x: a.x, y: a.y, bias: a.bias ?? null, m: a.m, n: a.n, k: a.k, accumulate: a.accumulate, gate: a.gate })) return;
    matmul(rt, enc, { ...a, w: decodeForProduct(rt, enc, a.w) }, options);
    return;
  }
  if (a.k % 2 !== 0) throw new RangeError(`matmul: k=${a.k} must be even`);
  const bf16 = a.w.format === 'bf16';
  const hasBias = a.bias != null;
  const bindings = [rt.uniform([a.n, a.k, a.m, 0]), a.x, weightBinding(a.w), a.y];
  if (a.bias) bindings.push(a.bias);
  const epi = epilogueDefines(a, bindings);
  let kernel = options.kernel ?? 'auto';
  if (kernel === 'auto') kernel = rt.softwareKernels ? 'naive' : a.m <= GEMV_MAX_ROWS ? 'gemv' : 'gemm';
  if (kernel === 'naive') {
    if (a.m > 65535) throw new RangeError(`matmul: ${a.m} rows exceed one dispatch`);
    const pipe = rt.pipeline('matmul-naive', { BF16: bf16, HAS_BIAS: hasBias, ...epi });
    rt.dispatch(enc, pipe, bindings, [Math.ceil(a.n / 64), a.m]);
  } else if (kernel === 'gemv') {
    if (a.m > GEMV_MAX_ROWS) throw new RangeError(`matmul: gemv takes at most ${GEMV_MAX_ROWS} rows, got ${a.m}`);
    // NOTE: BF16 rows whose length is a multiple of 8 take the 16-byte-load variant (see gemv.wgsl); offsets are 256-aligned.
    const vec8 = bf16 && a.k % 8 === 0;
    const pipe = rt.pipeline('gemv', { BF16: bf16, VEC8: vec8, HAS_BIAS: hasBias, ...epi, WG: GEMV_WG, MB: a.m });
    rt.dispatch(enc, pipe, bindings, grid(a.n));
  } else {
    const pipe = rt.pipeline('gemm', { BF16: bf16, HAS_BIAS: hasBias, ...epi });
    rt.dispatch(enc, pipe, bindings, [Math.ceil(a.n / 32), Math.ceil(a.m / 32)]);
  }
}
