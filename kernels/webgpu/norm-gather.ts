// Launchers for embedding/row gather and RMSNorm.

import type { KernelRuntime } from './kernel-runtime.js';
import { weightBinding, type GpuWeight } from './gpu-weight.js';

/** out[t, :] = table[ids[t * idStride], :] for t < count. */
export function gather(
  rt: KernelRuntime,
  enc: GPUCommandEncoder,
  a: { ids: GPUBuffer; idStride: number; table: GpuWeight; out: GPUBuffer; hidden: number; count: number },
): void {
  if (a.count > 65535) throw new RangeError(`gather: ${a.count} rows exceed one dispatch`);
  const pipe = rt.pipeline('gather', { BF16: a.table.format === 'bf16' });
  rt.dispatch(enc, pipe, [rt.uniform([a.hidden, a.count, a.idStride, 0]), a.ids, weightBinding(a.table), a.out], [Math.ceil(a.hidden / 256), a.count]);
}

/** y = rmsnorm(x) * weight over `rows` rows of `hidden`. */
export function rmsnorm(
  rt: KernelRuntime,
  enc: GPUCommandEncoder,
  a: { x: GPUBuffer; weight: GPUBuffer; y: GPUBuffer; hidden: number; rows: number; eps: number },
): void {
  const pipe = rt.pipeline('rmsnorm');
  rt.dispatch(enc, pipe, [rt.uniform([a.hidden, a.rows, { f32: a.eps }, 0]), a.x, a.weight, a.y], [a.rows]);
}
