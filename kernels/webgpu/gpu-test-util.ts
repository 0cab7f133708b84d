// Shared helpers of the GPU kernel tests: adapter-or-skip, seeded random inputs, poisoned outputs, tolerance checks.

import assert from 'node:assert/strict';
import { after, before, type TestContext } from 'node:test';
import { Prng } from '../../runtime/generation/prng.js';
import { openGpu, type GpuContext, type OpenGpuOptions } from './device.js';
import { KernelRuntime } from './kernel-runtime.js';

export const NO_GPU_MESSAGE =
  'no WebGPU adapter: install Debian packages chromium and libvulkan1 for SwiftShader (or run on a GPU machine)';

/** Opens a device or marks the test skipped (returns null). */
export async function gpuOrSkip(t: TestContext, options: OpenGpuOptions = {}): Promise<{ gpu: GpuContext; rt: KernelRuntime } | null> {
  const gpu = await openGpu(options);
  if (!gpu) {
    t.skip(NO_GPU_MESSAGE);
    return null;
  }
  return { gpu, rt: new KernelRuntime(gpu) };
}

/** The device, runtime, seed and skip check of one describe block, which every GPU test suite wrote out by hand; call it inside `describe`. */
export function gpuSuite(options: { open?: OpenGpuOptions; kernels?: 'auto' | 'hardware' } = {}): {
  readonly gpu: GpuContext | null;
  readonly rt: KernelRuntime;
  readonly seed: number;
  readonly prng: Prng;
  readonly ready: (t: TestContext) => boolean;
} {
  let gpu: GpuContext | null = null;
  let rt: KernelRuntime | undefined;
  const seed = freshSeed();
  const prng = new Prng(seed);
  before(async () => {
    gpu = await openGpu(options.open);
    if (gpu) rt = new KernelRuntime(gpu, { kernels: options.kernels });
  });
  after(() => gpu?.destroy());
  return {
    get gpu() {
      return gpu;
    },
    get rt() {
      if (!rt) throw new Error('gpuSuite: rt read before the before hook opened a device (check ready(t) first)');
      return rt;
    },
    seed,
    prng,
    ready: (t) => {
      if (!gpu) t.skip(NO_GPU_MESSAGE);
      return gpu !== null;
    },
  };
}

/** A fresh seed per run (printed by callers on failure) so inputs differ between runs. */
export function freshSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

/** Uniform floats in (-1, 1); never all zeros. */
export function randUniform(prng: Prng, count: number, scale = 1): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = ((prng.nextUint32() / 2 ** 32) * 2 - 1) * scale;
  assert.ok(out.some((v) => v !== 0), 'random input is all zeros');
  return out;
}

/** Random BF16 bit patterns of normal numbers in about ±[2^-8, 2), either sign. */
export function randBf16(prng: Prng, count: number): Uint16Array {
  const out = new Uint16Array(count);
  for (let i = 0; i < count; i++) {
    const r = prng.nextUint32();
    const exponent = 119 + (r % 8); // 2^-8 .. 2^0
    out[i] = ((r >>> 31) << 15) | (exponent << 7) | ((r >>> 8) & 0x7f);
  }
  return out;
}

/** Fills a GPU buffer with NaNs so that any element a kernel fails to write fails the comparison. */
export function poison(rt: KernelRuntime, buf: GPUBuffer): void {
  rt.write(buf, new Uint32Array(buf.size / 4).fill(0x7fc00000));
}

/** llm.c-style comparison: |a - e| <= atol + rtol*|e| for finite references; reports the first mismatches and the largest difference. */
export function assertClose(actual: Float32Array, expected: Float32Array, label: string, atol = 1e-5, rtol = 1e-4): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  let maxDiff = 0;
  const bad: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    if (!Number.isFinite(e)) continue;
    const d = Math.abs(actual[i] - e);
    if (!(d <= atol + rtol * Math.abs(e))) {
      if (bad.length < 5) bad.push(`[${i}] got ${actual[i]} want ${e}`);
      else bad.push('');
    }
    if (!(d <= maxDiff)) maxDiff = Number.isNaN(d) ? Infinity : d;
  }
  assert.ok(bad.length === 0, `${label}: ${bad.length} of ${expected.length} differ (max diff ${maxDiff}): ${bad.filter((s) => s).join('; ')}`);
}
