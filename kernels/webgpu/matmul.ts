// Launches y = x · Wᵀ (+ bias): GEMV for up to 8 rows of x (decode), tiled GEMM above that (prefill), a naive kernel on software GPUs.

import { grid, type KernelRuntime } from './kernel-runtime.js';
import { weightBinding, type GpuWeight } from './gpu-weight.js';
import { epilogueDefines, type Epilogue } from './epilogue.js';
import { decodeForProduct, jitSlices, tryFusedProduct, type CompressedWeight } from './compressed-weight.js';

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
  /** GEMV only: compute output features [first, first + count) with W holding just those rows (a just-in-time decoded slice). */
  rows?: { first: number; count: number };
}

/** Which kernel runs: by default GEMV/GEMM on hardware, the barrier-free naive kernel on software adapters. */
export type MatmulKernel = 'auto' | 'gemv' | 'gemm' | 'naive';

/** The kernel a product of m rows runs: by default GEMV/GEMM on hardware, the naive kernel on software adapters. */
function pickKernel(rt: KernelRuntime, m: number, kernel: MatmulKernel = 'auto'): Exclude<MatmulKernel, 'auto'> {
  if (kernel !== 'auto') return kernel;
  return rt.softwareKernels ? 'naive' : m <= GEMV_MAX_ROWS ? 'gemv' : 'gemm';
}

export function matmul(rt: KernelRuntime, enc: GPUCommandEncoder, a: MatmulArgs, options: { kernel?: MatmulKernel } = {}): void {
  if (a.w.format === 'huff8') {
    if (tryFusedProduct(rt, enc, a.w, { x: a.x, y: a.y, bias: a.bias ?? null, m: a.m, n: a.n, k: a.k, accumulate: a.accumulate, gate: a.gate })) return;
    // NOTE: small batches on hardware decode big matrices in row slices, each multiplied right after its decode
    // (jitSlices): a slice small enough to stay in L2 is read back from there, and the next slice overwrites it there.
    for (const rows of jitSlices(a.w, a.n, a.k, pickKernel(rt, a.m, options.kernel) === 'gemv')) {
      matmul(rt, enc, { ...a, w: decodeForProduct(rt, enc, a.w, a.k, rows.count === a.n ? undefined : rows), rows: rows.count === a.n ? undefined : rows }, options);
    }
    return;
  }
  if (a.k % 2 !== 0) throw new RangeError(`matmul: k=${a.k} must be even`);
  const bf16 = a.w.format === 'bf16';
  const hasBias = a.bias != null;
  const kernel = pickKernel(rt, a.m, options.kernel);
  const rows = a.rows ?? { first: 0, count: a.n };
  if (a.rows && kernel !== 'gemv') throw new RangeError('matmul: row slices need the gemv kernel');
  const bindings = [rt.uniform([a.n, a.k, a.m, rows.first, rows.count, 0, 0, 0]), a.x, weightBinding(a.w), a.y];
  if (a.bias) bindings.push(a.bias);
  const epi = epilogueDefines(a, bindings);
  if (kernel === 'naive') {
    if (a.m > 65535) throw new RangeError(`matmul: ${a.m} rows exceed one dispatch`);
    const pipe = rt.pipeline('matmul-naive', { BF16: bf16, HAS_BIAS: hasBias, ...epi });
    rt.dispatch(enc, pipe, bindings, [Math.ceil(a.n / 64), a.m]);
  } else if (kernel === 'gemv') {
    if (a.m > GEMV_MAX_ROWS) throw new RangeError(`matmul: gemv takes at most ${GEMV_MAX_ROWS} rows, got ${a.m}`);
    // NOTE: BF16 rows whose length is a multiple of 8 take the 16-byte-load variant (see gemv.wgsl); offsets are 256-aligned.
    const vec8 = bf16 && a.k % 8 === 0;
    const pipe = rt.pipeline('gemv', { BF16: bf16, VEC8: vec8, HAS_BIAS: hasBias, ...epi, WG: GEMV_WG, MB: a.m });
    rt.dispatch(enc, pipe, bindings, grid(rows.count));
  } else {
    const pipe = rt.pipeline('gemm', { BF16: bf16, HAS_BIAS: hasBias, ...epi });
    rt.dispatch(enc, pipe, bindings, [Math.ceil(a.n / 32), Math.ceil(a.m / 32)]);
  }
}
