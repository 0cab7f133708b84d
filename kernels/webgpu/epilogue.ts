// The output epilogue of the matmul kernels (kernels/wgsl/epilogue.wgsl): plain store, residual add, or SiLU gate.

import type { Defines } from './wgsl-loader.js';

export interface Epilogue {
  /** y += x · Wᵀ (+ bias): the residual add fused into the product. */
  accumulate?: boolean;
  /** y = silu(gate) * (x · Wᵀ (+ bias)): the SiLU-gated MLP fused into the up projection; `gate` is laid out as y. */
  gate?: GPUBuffer | null;
}

/** Appends the epilogue's binding (after all others) to `bindings`; returns the defines the kernel needs. */
export function epilogueDefines(e: Epilogue, bindings: (GPUBuffer | GPUBufferBinding)[]): Defines {
  if (e.accumulate && e.gate) throw new RangeError('matmul: accumulate and gate are exclusive');
  if (!e.gate) return { ACCUMULATE: e.accumulate ?? false, GLU: false };
  bindings.push(e.gate);
  return { ACCUMULATE: false, GLU: true, GATE_BINDING: bindings.length - 1 };
}
