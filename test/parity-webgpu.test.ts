// The WebGPU engine against the same PyTorch reference fixtures: on a hardware GPU, or on SwiftShader when asked.

import { probeHardwareGpu } from '../kernels/webgpu/device.js';
import { defineParitySuite } from './helpers/parity-suite.js';

/**
 * NOTE: on SwiftShader the suite takes minutes on 2 busy cores and Dawn/SwiftShader has been
 * seen to abort the process (glibc `__pthread_tpp_change_priority` assertion), so without a
 * hardware GPU it runs only with EDGEWISE_PARITY_WEBGPU=1. The webgpu engineer's own tests
 * cover SwiftShader with smaller models.
 */
async function skipReason(): Promise<string | false> {
  if (process.env.EDGEWISE_PARITY_WEBGPU === '1') return false;
  const gpuName = await probeHardwareGpu();
  return gpuName ? false : 'no hardware GPU (set EDGEWISE_PARITY_WEBGPU=1 to run on SwiftShader)';
}

defineParitySuite('webgpu', { skip: await skipReason() });
