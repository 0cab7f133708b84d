// resolveBackend: explicit choices pass through; 'auto' takes the GPU only when a hardware adapter exists.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveBackend } from './webgpu-backend.js';
import { probeHardwareGpu } from '../../kernels/webgpu/device.js';

test('explicit backends pass through without probing', async () => {
  assert.deepEqual(await resolveBackend('cpu'), { backend: 'cpu', gpuName: null });
  assert.deepEqual(await resolveBackend('webgpu'), { backend: 'webgpu', gpuName: null });
});

test("'auto' agrees with the hardware probe (SwiftShader never counts)", async () => {
  const hardware = await probeHardwareGpu();
  const resolved = await resolveBackend('auto');
  assert.equal(resolved.backend, hardware ? 'webgpu' : 'cpu');
  assert.equal(resolved.gpuName, hardware);
  if (hardware) assert.ok(!/swiftshader|llvmpipe/i.test(hardware));
});
