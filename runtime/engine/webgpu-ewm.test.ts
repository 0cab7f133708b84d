// The webgpu runner on an .ewm container: blocks decoded on the GPU just in time, or fused into the GEMVs, match the cpu backend, at every precision rung.

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
import { gpuSuite } from '../../kernels/webgpu/gpu-test-util.js';
import { precisionRung } from '../container/precision.js';
import { EwmWeightProvider } from '../container/ewm-weights.js';
import { isEdgewiseError } from '../errors.js';
import { withSequenceOptions } from '../memory/adaptive-runner.js';


/** Prefill then 6 greedy decode steps; returns the tokens and every step's logits. */
async function run(runner: ModelRunner, prompt: number[], precision?: string): Promise<{ tokens: number[]; logits: Float32Array[] }> {
  runner.createSequence(0, precision === undefined ? undefined : ({ precision } as object));
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
  const suite = gpuSuite();
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgewise-webgpu-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const ready = (t: TestContext, folder: string): boolean => {
    if (!suite.ready(t)) return false;
    if (existsSync(join(folder, 'config.json'))) return true;
    t.skip(`${folder} is missing`);
    return false;
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
        const gpuRun = await run(await createWebgpuRunner(model.weights, { gpu: suite.gpu!, maxSeqLen: 64, ...opts }), prompt);
        assert.deepEqual(gpuRun.tokens, cpu.tokens, `${mode}: greedy tokens`);
        gpuRun.logits.forEach((l, i) => {
          const err = relativeMaxError(l, cpu.logits[i]);
          assert.ok(err <= 1e-4, `${mode}: step ${i} logits rel err ${err}`);
        });
      }
      model.weights.close();
    });
  }

  it('lower rungs (e8m3, e8m1) decoded on the GPU from the planes they keep give the cpu backend\'s logits at the same rung', async (t) => {
    const folder = join('test/fixtures', 'qwen2-bias');
    if (!ready(t, folder)) return;
    const path = join(dir, 'rungs.ewm');
    convertToEwm(folder, path, { chunkSize: 256, castFp32: true });
    const model = await loadModel(path);
    const weights = model.weights as EwmWeightProvider;
    const prompt = [1, 17, 93, 4, 200, 31, 8, 77, 150, 3, 64];
    const lossless = await run(await createRunner(weights, { backend: 'cpu', threads: 1 }), prompt);
    let bytes = 0;
    for (const name of ['e8m3', 'e8m1'] as const) {
      const cpu = await run(await createRunner(weights.atRung(precisionRung(name)), { backend: 'cpu', threads: 1 }), prompt);
      assert.ok(relativeMaxError(cpu.logits[0], lossless.logits[0]) > 1e-4, `${name}: the rung changes the cpu logits`);
      for (const mode of ['jit', 'jit-matrix', 'fused'] as const) {
        const opts = mode === 'jit-matrix' ? { compressedMode: 'jit' as const, jitUnit: 'matrix' as const } : { compressedMode: mode };
        const runner = await createWebgpuRunner(weights, { gpu: suite.gpu!, maxSeqLen: 64, precision: name, ...opts });
        if (mode === 'jit') {
          // One resident store serves every rung: the GPU bytes do not depend on the rung.
          if (bytes === 0) bytes = (runner as unknown as { gpuBytes: number }).gpuBytes;
          assert.equal((runner as unknown as { gpuBytes: number }).gpuBytes, bytes, `${name}: gpuBytes`);
        }
        const gpuRun = await run(runner, prompt);
        assert.deepEqual(gpuRun.tokens, cpu.tokens, `${name} ${mode}: greedy tokens`);
        gpuRun.logits.forEach((l, i) => {
          const err = relativeMaxError(l, cpu.logits[i]);
          assert.ok(err <= 1e-4, `${name} ${mode}: step ${i} logits rel err ${err}`);
        });
      }
    }
    // Per sequence (as the adaptive runner passes a request's rung): two rungs in one step run as two passes.
    const e8m1 = await run(await createRunner(weights.atRung(precisionRung('e8m1')), { backend: 'cpu', threads: 1 }), prompt);
    // The adaptive runner's wrapper hands each sequence its request's rung; without a selectPrecision hook it passes the
    // mixed step whole, so the runner itself splits it.
    const rungOf = new Map<number, string>([[1, 'e8m1']]);
    const mixed = withSequenceOptions(await createWebgpuRunner(weights, { gpu: suite.gpu!, maxSeqLen: 64 }), (id) => ({ precision: rungOf.get(id) }));
    mixed.createSequence(1);
    mixed.createSequence(2);
    const [low, high] = await mixed.step([{ seqId: 1, tokenIds: prompt }, { seqId: 2, tokenIds: prompt }]);
    assert.ok(relativeMaxError(low, e8m1.logits[0]) <= 1e-4, 'mixed step: e8m1 sequence');
    assert.ok(relativeMaxError(high, lossless.logits[0]) <= 1e-4, 'mixed step: bf16 sequence');
    assert.throws(() => mixed.createSequence(3, { precision: 'e4m3' } as object), (e: unknown) => isEdgewiseError(e) && e.kind === 'invalid_request');
    await mixed.dispose();
    // Weights uploaded as they are (no planed store) serve no rung of their own.
    const dense = await createWebgpuRunner(weights.atRung(precisionRung('e8m3')), { gpu: suite.gpu!, maxSeqLen: 64 });
    assert.throws(() => dense.createSequence(0, { precision: 'e8m3' } as object), (e: unknown) => isEdgewiseError(e) && e.kind === 'invalid_request' && /serve: bf16/.test(e.message));
    await dense.dispose();
    model.weights.close();
  });
});
