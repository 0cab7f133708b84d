// The WebGPU runner against the float64 reference forward pass (mixed batches, biases, depth switching) and the cpu backend (greedy 32 tokens).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { ModelRunner } from './runner-types.js';
import { createWebgpuRunner } from './webgpu-runner.js';
import { createRandomWeights, tinyConfig } from './random-weights.js';
import { relativeMaxError } from './reference-forward.js';
import { checkScenario, randomTokens } from './runner-scenarios.js';
import { createRunner } from './create-runner.js';
import { loadModel } from '../model/load-model.js';
import { gpuSuite } from '../../kernels/webgpu/gpu-test-util.js';

describe('webgpu runner', () => {
  const suite = gpuSuite();
  const { ready } = suite;

  for (const [name, config] of [
    ['plain llama (GQA)', tinyConfig()],
    ['q/k/v, o_proj and MLP biases', tinyConfig({ attentionBias: true, outputBias: true, mlpBias: true })],
    ['head_dim 80, llama3 rope', tinyConfig({ headDim: 80, numHeads: 2, numKvHeads: 1, ropeScaling: { kind: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 } })],
  ] as const) {
    it(`matches the reference: ${name}; prefill with all logits, then decode`, async (t) => {
      if (!ready(t)) return;
      const weights = createRandomWeights(config, 7);
      const runner = await createWebgpuRunner(weights, { gpu: suite.gpu!, maxSeqLen: 64 });
      await checkScenario(runner, weights, [{ seqId: 1, tokens: randomTokens(12, config.vocabSize, 3) }], [
        [{ seqId: 1, count: 9, allLogits: true }],
        [{ seqId: 1, count: 1 }],
        [{ seqId: 1, count: 2, allLogits: true }],
      ]);
      await runner.dispose();
    });
  }

  for (const kernels of ['auto', 'hardware'] as const) {
    it(`mixes prefill and decode of several sequences, GEMM-sized batches, depth switching, slot reuse (${kernels} kernels)`, async (t) => {
      if (!ready(t)) return;
      const config = tinyConfig({ numLayers: 4 });
      const weights = createRandomWeights(config, 11);
      const runner = await createWebgpuRunner(weights, { gpu: suite.gpu!, maxSeqLen: 80, kernels });
      const seqs = [
        { seqId: 1, tokens: randomTokens(70, config.vocabSize, 1) },
        { seqId: 2, tokens: randomTokens(10, config.vocabSize, 2), layerIndices: [0, 2] },
        { seqId: 3, tokens: randomTokens(10, config.vocabSize, 4) },
        { seqId: 4, tokens: randomTokens(6, config.vocabSize, 5), layerIndices: [1, 2, 3] },
        { seqId: 5, tokens: randomTokens(6, config.vocabSize, 6) },
        { seqId: 6, tokens: randomTokens(6, config.vocabSize, 8) },
      ];
      await checkScenario(runner, weights, seqs, [
        [{ seqId: 1, count: 66 }, { seqId: 3, count: 4, allLogits: true }],
        [{ seqId: 1, count: 1 }, { seqId: 2, count: 7 }, { seqId: 3, count: 1 }, { seqId: 4, count: 3 }, { seqId: 5, count: 2 }, { seqId: 6, count: 3 }],
        [{ seqId: 1, count: 1 }, { seqId: 2, count: 1 }, { seqId: 3, count: 1 }, { seqId: 4, count: 1 }, { seqId: 5, count: 1 }, { seqId: 6, count: 1 }],
      ]);
      // Freed slots are reused by new sequences, whose caches must not see the old contents.
      await checkScenario(runner, weights, [{ seqId: 9, tokens: randomTokens(5, config.vocabSize, 9) }], [[{ seqId: 9, count: 5, allLogits: true }]]);
      await runner.dispose();
    });
  }

  it('greedy generation of 32 tokens of models/default equals the cpu backend', async (t) => {
    if (!ready(t)) return;
    if (!existsSync('models/default/config.json')) return t.skip('models/default is missing');
    const model = await loadModel('models/default');
    const prompt = model.tokenizer ? model.tokenizer.encode('The old house at the end of the road', { addSpecialTokens: true }) : [1, 2, 3];
    const generate = async (runner: ModelRunner): Promise<{ tokens: number[]; last: Float32Array }> => {
      runner.createSequence(0);
      let logits = (await runner.step([{ seqId: 0, tokenIds: prompt }]))[0];
      const out: number[] = [];
      for (let i = 0; i < 32; i++) {
        let best = 0;
        for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
        out.push(best);
        logits = (await runner.step([{ seqId: 0, tokenIds: [best] }]))[0];
      }
      await runner.dispose();
      return { tokens: out, last: logits };
    };
    const cpu = await generate(await createRunner(model.weights, { backend: 'cpu', threads: 1 }));
    const webgpu = await generate(await createWebgpuRunner(model.weights, { gpu: suite.gpu!, maxSeqLen: 64 }));
    assert.deepEqual(webgpu.tokens, cpu.tokens);
    // NOTE: an untrained placeholder model may repeat one token; the logits after 32 steps still have to agree.
    const err = relativeMaxError(webgpu.last, cpu.last);
    assert.ok(err <= 1e-3, `logits after 32 greedy tokens: rel err ${err}`);
    model.weights.close();
  });
});
