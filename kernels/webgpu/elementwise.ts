// Launchers for the element-wise kernels: SiLU-gated product and residual add.

import { grid, type KernelRuntime } from './kernel-runtime.js';

/** out = silu(gate) * up over `count` elements. */
export function siluMul(rt: KernelRuntime, enc: GPUCommandEncoder, a: { gate: GPUBuffer; up: GPUBuffer; out: GPUBuffer; count: number }): void {
  rt.dispatch(enc, rt.pipeline('silu-mul'), [rt.uniform([a.count, 0, 0, 0]), a.gate, a.up, a.out], grid(Math.ceil(a.count / 256)));
}

/** x += y over `count` elements. */
export function addInPlace(rt: KernelRuntime, enc: GPUCommandEncoder, a: { x: GPUBuffer; y: GPUBuffer; count: number }): void {
  rt.dispatch(enc, rt.pipeline('add'), [rt.uniform([a.count, 0, 0, 0]), a.x, a.y], grid(Math.ceil(a.count / 256)));
}
