// Launches y = x · Wᵀ (+ bias): the GEMV kernel for up to 8 rows of x (decode), the tiled GEMM above that (prefill).

import { grid, type KernelRuntime } from './kernel-runtime.js';
import { weightBinding, type GpuWeight } from './gpu-weight.js';

/** Rows of x one GEMV dispatch handles; batches above this use the tiled GEMM. */
export const GEMV_MAX_ROWS = 8;
const GEMV_WG = 64;

export interface MatmulArgs {
  x: GPUBuffer; // [m, k] f32
  w: GpuWeight; // [n, k]
  y: GPUBuffer; // [m, n] f32
  bias?: GPUBuffer | null; // [n]
  m: number;
  n: number;
  k: number;
}

export function matmul(rt: KernelRuntime, enc: GPUCommandEncoder, a: MatmulArgs, options: { forceGemm?: boolean } = {}): void {
  if (a.k % 2 !== 0) throw new RangeError(`matmul: k=${a.k} must be even`);
  const bf16 = a.w.format === 'bf16';
  const hasBias = a.bias != null;
  const bindings = [rt.uniform([a.n, a.k, a.m, 0]), a.x, weightBinding(a.w), a.y];
  if (a.bias) bindings.push(a.bias);
  if (a.m <= GEMV_MAX_ROWS && !options.forceGemm) {
    const pipe = rt.pipeline('gemv', { BF16: bf16, HAS_BIAS: hasBias, WG: GEMV_WG, MB: a.m });
    rt.dispatch(enc, pipe, bindings, grid(a.n));
  } else {
    const pipe = rt.pipeline('gemm', { BF16: bf16, HAS_BIAS: hasBias });
    rt.dispatch(enc, pipe, bindings, [Math.ceil(a.n / 32), Math.ceil(a.m / 32)]);
  }
}
