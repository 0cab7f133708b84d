// Launches y = x · Wᵀ (+ bias): GEMV for up to 8 rows of x (decode), tiled GEMM above that (prefill), a naive kernel on software GPUs.

import { grid, type KernelRuntime } from './kernel-runtime.js';
import { weightBinding, type GpuWeight } from './gpu-weight.js';
import { fusedHuff8Gemv, type Huff8Tensor } from './huff8.js';

/** A huff8-compressed weight that small batches multiply through the fused decode + GEMV. */
export interface CompressedWeight {
  format: 'huff8';
  tensor: Huff8Tensor;
  /** Scratch for the fused kernel's partial sums (fusedPartialBytes); may be shared by weights used one after another. */
  partials: GPUBuffer;
  /** Error counter the decoder adds to on malformed chunks. */
  err: GPUBuffer;
}

/** A matmul weight: dense on the GPU, or compressed (fused decode + GEMV, at most FUSED_MAX_ROWS rows). */
export type MatmulWeight = GpuWeight | CompressedWeight;

/** Rows of x one GEMV dispatch handles; batches above this use the tiled GEMM. */
export const GEMV_MAX_ROWS = 8;
const GEMV_WG = 64;

export interface MatmulArgs {
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
    fusedHuff8Gemv(rt, enc, { t: a.w.tensor, x: a.x, y: a.y, bias: a.bias ?? null, m: a.m, n: a.n, k: a.k, partials: a.w.partials, err: a.w.err });
    return;
  }
  if (a.k % 2 !== 0) throw new RangeError(`matmul: k=${a.k} must be even`);
  const bf16 = a.w.format === 'bf16';
  const hasBias = a.bias != null;
  const bindings = [rt.uniform([a.n, a.k, a.m, 0]), a.x, weightBinding(a.w), a.y];
  if (a.bias) bindings.push(a.bias);
  let kernel = options.kernel ?? 'auto';
  if (kernel === 'auto') kernel = rt.softwareKernels ? 'naive' : a.m <= GEMV_MAX_ROWS ? 'gemv' : 'gemm';
  if (kernel === 'naive') {
    if (a.m > 65535) throw new RangeError(`matmul: ${a.m} rows exceed one dispatch`);
    const pipe = rt.pipeline('matmul-naive', { BF16: bf16, HAS_BIAS: hasBias });
    rt.dispatch(enc, pipe, bindings, [Math.ceil(a.n / 64), a.m]);
  } else if (kernel === 'gemv') {
    if (a.m > GEMV_MAX_ROWS) throw new RangeError(`matmul: gemv takes at most ${GEMV_MAX_ROWS} rows, got ${a.m}`);
    // NOTE: BF16 rows whose length is a multiple of 8 take the 16-byte-load variant (see gemv.wgsl); offsets are 256-aligned.
    const vec8 = bf16 && a.k % 8 === 0;
    const pipe = rt.pipeline('gemv', { BF16: bf16, VEC8: vec8, HAS_BIAS: hasBias, WG: GEMV_WG, MB: a.m });
    rt.dispatch(enc, pipe, bindings, grid(a.n));
  } else {
    const pipe = rt.pipeline('gemm', { BF16: bf16, HAS_BIAS: hasBias });
    rt.dispatch(enc, pipe, bindings, [Math.ceil(a.n / 32), Math.ceil(a.m / 32)]);
  }
}
