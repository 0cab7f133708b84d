// The webgpu runner on an .ewm container: blocks decoded on the GPU just in time, or fused into the GEMVs, match the cpu backend.

import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelRunner } from './runner-types.js';
import { createWebgpuRunner } from './webgpu-runner.js';
import { createRunner } from './create-runner.js';
import { relativeMaxError } from './reference-forward.js';
import { loadModel } from '../model/load-model.js';
import { convertToEwm } from '../container/ewm-writer.js';
import { openGpu, type GpuContext } from '../../kernels/webgpu/device.js';
import { NO_GPU_MESSAGE } from '../../kernels/webgpu/gpu-test-util.js';


/** Prefill then 6 greedy decode steps; returns the tokens and every step's logits. */
async function run(runner: ModelRunner, prompt: number[]): Promise<{ tokens: number[]; logits: Float32Array[] }> {
  runner.createSequence(0);
  const logits = [(await runner.step([{ seqId: 0, tokenIds: prompt }]))[0]];
  const tokens: number[] = [];
  for (let i = 0; i < 6; i++) {
    const last = logits[logits.length - 1];
    let best = 0;
    for (let v = 1; v < last.length; v++) if (last[v] > last[best]) best = v;
    tokens.push(best);
    logits.push((await runner.step([{ seqId: 0, tokenIds: [best] }]))[0]);
  }
  await runner.dispose();
  return { tokens, logits };
}

describe('webgpu runner on an .ewm container', () => {
  let gpu: GpuContext | null = null;
  let dir = '';
  before(async () => {
    gpu = await openGpu();
    dir = mkdtempSync(join(tmpdir(), 'edgewise-webgpu-'));
  });
  after(() => {
    gpu?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  const ready = (t: TestContext, folder: string): boolean => {
    if (!gpu) t.skip(NO_GPU_MESSAGE);
    else if (!existsSync(join(folder, 'config.json'))) t.skip(`${folder} is missing`);
    return gpu !== null && existsSync(join(folder, 'config.json'));
  };

  for (const [fixture, how] of [
    ['qwen2-bias', { castFp32: true }], // every tensor huff8-coded BF16, biases included
    ['llama-gqa', { keepFp32: true }], // raw F32 tensors pass through uncompressed
  ] as const) {
    it(`just-in-time and fused decoding give the cpu backend's greedy tokens and logits: ${fixture} ${Object.keys(how)[0]}`, async (t) => {
      const folder = join('test/fixtures', fixture);
      if (!ready(t, folder)) return;
      const path = join(dir, `${fixture}.ewm`);
      convertToEwm(folder, path, { chunkSize: 256, ...how });
      const model = await loadModel(path);
      assert.equal(model.format, 'ewm');
      const prompt = [1, 17, 93, 4, 200, 31, 8, 77, 150, 3, 64];
      const cpu = await run(await createRunner(model.weights, { backend: 'cpu', threads: 1 }), prompt);
      // 'jit': one decode dispatch per block (the default); 'jit-matrix': one per matrix, right before its product.
      for (const mode of ['jit', 'jit-matrix', 'fused'] as const) {
        const opts = mode === 'jit-matrix' ? { compressedMode: 'jit' as const, jitUnit: 'matrix' as const } : { compressedMode: mode };
        const gpuRun = await run(await createWebgpuRunner(model.weights, { gpu: gpu!, maxSeqLen: 64, ...opts }), prompt);
        assert.deepEqual(gpuRun.tokens, cpu.tokens, `${mode}: greedy tokens`);
        gpuRun.logits.forEach((l, i) => {
          const err = relativeMaxError(l, cpu.logits[i]);
          assert.ok(err <= 1e-4, `${mode}: step ${i} logits rel err ${err}`);
        });
      }
      model.weights.close();
    });
  }
});
