// Resolves the `--backend auto` choice: the WebGPU backend when Dawn finds a hardware GPU, else the CPU backend.

import { probeHardwareGpu } from '../../kernels/webgpu/device.js';

export type BackendChoice = 'cpu' | 'webgpu' | 'auto';

/**
 * 'auto' → 'webgpu' when a hardware GPU is found, else 'cpu' (SwiftShader is far slower than the
 * CPU backend, so it never wins 'auto'). Explicit choices pass through. Costs one adapter
 * request (tens of milliseconds), no device.
 */
export async function resolveBackend(choice: BackendChoice): Promise<{ backend: 'cpu' | 'webgpu'; gpuName: string | null }> {
  if (choice !== 'auto') return { backend: choice, gpuName: null };
  const gpuName = await probeHardwareGpu();
  return { backend: gpuName ? 'webgpu' : 'cpu', gpuName };
}
