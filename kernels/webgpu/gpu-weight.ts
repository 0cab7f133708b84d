// A weight tensor resident on the GPU: f32 values, or BF16 bit patterns packed two per u32 (element 2i in the low half).

import type { KernelRuntime } from './kernel-runtime.js';

export type WeightFormat = 'f32' | 'bf16';

export interface GpuWeight {
  buffer: GPUBuffer;
  format: WeightFormat;
  /** Byte offset of the tensor inside `buffer` (a multiple of 256 when not 0). */
  offset?: number;
  /** Byte size of the tensor when it shares `buffer` with others. */
  size?: number;
}

/** Uploads f32 values, or BF16 bit patterns (a Uint16Array of even length; little-endian pairs are the packed u32 layout). */
export function uploadWeight(rt: KernelRuntime, values: Float32Array | Uint16Array, label?: string): GpuWeight {
  if (values instanceof Uint16Array && values.length % 2 !== 0) throw new RangeError(`${label ?? 'weight'}: odd BF16 length ${values.length}`);
  return { buffer: rt.upload(values, label), format: values instanceof Uint16Array ? 'bf16' : 'f32' };
}

/** The binding resource of a weight (whole buffer, or its slice). */
export function weightBinding(w: GpuWeight): GPUBuffer | GPUBufferBinding {
  return w.offset === undefined && w.size === undefined ? w.buffer : { buffer: w.buffer, offset: w.offset ?? 0, size: w.size };
}
