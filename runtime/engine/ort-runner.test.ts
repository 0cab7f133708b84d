// Checks the onnxruntime block-wise runner against the plain float64 reference forward pass.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelConfig } from '../model/model-config.js';
import { createOrtRunner } from './ort-runner.js';
import { createRunner } from './create-runner.js';
import { createRandomWeights, tinyConfig } from './random-weights.js';
import { referenceForward, relativeMaxError } from './reference-forward.js';
import { checkScenario as runScenario, randomTokens, type ScenarioSequence, type Plan } from './runner-scenarios.js';
import type { WeightProvider } from './runner-types.js';
import { computeInvFreq } from './rope.js';
import { EdgewiseError } from '../errors.js';

/** Runs a scenario on a fresh single-threaded ORT runner unless one is given. */
async function checkScenario(weights: WeightProvider, sequences: ScenarioSequence[], plan: Plan, runner?: Awaited<ReturnType<typeof createOrtRunner>>): Promise<number> {
  const r = runner ?? (await createOrtRunner(weights, { threads: 1 }));
  try {
    return await runScenario(r, weights, sequences, plan);
  } finally {
    if (runner === undefined) await r.dispose();
  }
}

const variants: { name: string; config: ModelConfig }[] = [
  { name: 'GQA ratio 2, untied', config: tinyConfig() },
  { name: 'GQA ratio 1 (MHA), tied embeddings', config: tinyConfig({ numKvHeads: 4, tieWordEmbeddings: true }) },
  { name: 'q/k/v bias (Qwen2-like)', config: tinyConfig({ attentionBias: true, modelType: 'qwen2' }) },
  { name: 'o_proj and MLP biases', config: tinyConfig({ attentionBias: true, outputBias: true, mlpBias: true }) },
  {
    name: 'llama3 rope scaling',
    config: tinyConfig({
      ropeTheta: 500000,
      ropeScaling: { kind: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 256 },
    }),
  },
  { name: 'linear rope scaling, GQA ratio 4', config: tinyConfig({ numHeads: 8, numKvHeads: 2, headDim: 4, ropeScaling: { kind: 'linear', factor: 2 } }) },
];

for (const { name, config } of variants) {
  test(`ort runner matches the reference: ${name} (prefill all logits, then decode)`, async () => {
    const weights = createRandomWeights(config, 7);
    const tokens = randomTokens(14, config.vocabSize, 3);
    await checkScenario(weights, [{ seqId: 1, tokens }], [
      [{ seqId: 1, count: 9, allLogits: true }],
      [{ seqId: 1, count: 1 }],
      [{ seqId: 1, count: 3, allLogits: true }],
      [{ seqId: 1, count: 1 }],
    ]);
  });
}

test('llama3 scaling leaves high frequencies, divides low ones, smooths the band between', () => {
  const config = tinyConfig({
    ropeTheta: 500000,
    ropeScaling: { kind: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 256 },
  });
  const scaled = computeInvFreq(config);
  const plain = computeInvFreq({ ...config, ropeScaling: { kind: 'none' } });
  assert.equal(scaled[0], plain[0]); // wavelength 2π < 64: kept
  assert.ok(Math.abs(scaled[3] - plain[3] / 8) < 1e-12); // wavelength ≈ 118k > 256: divided
  assert.ok(scaled[1] < plain[1] && scaled[1] > plain[1] / 8, 'medium band interpolated'); // wavelength ≈ 167
});

test('batch with different lengths mixes prefill and decode in one step', async () => {
  const config = tinyConfig();
  const weights = createRandomWeights(config, 11);
  const worst = await checkScenario(
    weights,
    [
      { seqId: 10, tokens: randomTokens(13, config.vocabSize, 5) },
      { seqId: 20, tokens: randomTokens(9, config.vocabSize, 6) },
      { seqId: 30, tokens: randomTokens(7, config.vocabSize, 8) },
    ],
    [
      [{ seqId: 10, count: 6 }],
      // 10 decodes while 20 prefills 5 tokens (with all logits) and 30 prefills 1.
      [{ seqId: 10, count: 1 }, { seqId: 20, count: 5, allLogits: true }, { seqId: 30, count: 1 }],
      [{ seqId: 30, count: 4 }, { seqId: 10, count: 1 }, { seqId: 20, count: 1 }],
      [{ seqId: 20, count: 1 }, { seqId: 30, count: 1 }, { seqId: 10, count: 4, allLogits: true }],
      [{ seqId: 10, count: 1 }, { seqId: 20, count: 2 }],
    ],
  );
  assert.ok(worst > 0, 'float32 engine vs float64 reference differs a little, not exactly');
});

test('layerIndices: sequences run only their blocks, side by side in one batch', async () => {
  const config = tinyConfig({ numLayers: 4 });
  const weights = createRandomWeights(config, 13);
  await checkScenario(
    weights,
    [
      { seqId: 1, tokens: randomTokens(8, config.vocabSize, 1) },
      { seqId: 2, tokens: randomTokens(8, config.vocabSize, 2), layerIndices: [0, 2] },
      { seqId: 3, tokens: randomTokens(8, config.vocabSize, 4), layerIndices: [1, 2, 3] },
    ],
    [
      [{ seqId: 1, count: 5, allLogits: true }, { seqId: 2, count: 6, allLogits: true }, { seqId: 3, count: 3 }],
      [{ seqId: 1, count: 1 }, { seqId: 2, count: 1 }, { seqId: 3, count: 1 }],
      [{ seqId: 2, count: 1 }, { seqId: 3, count: 4, allLogits: true }],
    ],
  );
  // A subset really changes the output (the test would be vacuous otherwise).
  const tokens = randomTokens(4, config.vocabSize, 9);
  const full = await referenceForward(weights, tokens);
  const sub = await referenceForward(weights, tokens, [0, 2]);
  assert.ok(relativeMaxError(sub, full) > 1e-2);
});

test('createRunner(cpu) runs; sequence bookkeeping and bad input give typed errors', async () => {
  const config = tinyConfig();
  const weights = createRandomWeights(config, 3);
  const runner = await createRunner(weights, { backend: 'cpu', maxSeqLen: 8, threads: 1 });
  runner.createSequence(1);
  const [logits] = await runner.step([{ seqId: 1, tokenIds: [3, 4, 5] }]);
  assert.equal(logits.length, config.vocabSize);
  assert.ok(logits.some((v) => v !== 0) && logits.every(Number.isFinite));
  assert.equal(runner.sequenceLength(1), 3);
  const kinds = async (fn: () => unknown): Promise<string> => {
    try {
      await fn();
    } catch (err) {
      assert.ok(err instanceof EdgewiseError);
      return err.kind;
    }
    return 'no error';
  };
  assert.equal(await kinds(() => runner.step([{ seqId: 9, tokenIds: [1] }])), 'invalid_request');
  assert.equal(await kinds(() => runner.step([{ seqId: 1, tokenIds: [config.vocabSize] }])), 'invalid_request');
  assert.equal(await kinds(() => runner.step([{ seqId: 1, tokenIds: [1, 2, 3, 4, 5, 6] }])), 'invalid_request');
  assert.equal(await kinds(() => runner.createSequence(2, { layerIndices: [2, 1] })), 'invalid_request');
  assert.equal(await kinds(() => runner.createSequence(1)), 'invalid_request');
  assert.equal(runner.sequenceLength(1), 3, 'failed steps leave the cache untouched');
  runner.freeSequence(1);
  assert.equal(await kinds(() => runner.sequenceLength(1)), 'invalid_request');
  assert.equal(await kinds(() => createRunner(weights, { backend: 'tpu' as 'cpu' })), 'invalid_request');
  await runner.dispose();
});

test('long prefills run in chunks and return the same logits', async () => {
  const config = tinyConfig();
  const weights = createRandomWeights(config, 17);
  const runner = await createOrtRunner(weights, { threads: 1, chunkTokens: 4 });
  await checkScenario(
    weights,
    [
      { seqId: 1, tokens: randomTokens(13, config.vocabSize, 21) },
      { seqId: 2, tokens: randomTokens(10, config.vocabSize, 22) },
      { seqId: 3, tokens: randomTokens(4, config.vocabSize, 23) },
    ],
    [
      [{ seqId: 3, count: 3 }],
      // 11 tokens with all logits (3 chunks), 9 with the last row only (3 chunks), one decode.
      [{ seqId: 1, count: 11, allLogits: true }, { seqId: 2, count: 9 }, { seqId: 3, count: 1 }],
      [{ seqId: 2, count: 1 }, { seqId: 1, count: 2 }],
    ],
    runner,
  );
  await runner.dispose();
});

test('KV caches grow past their first capacity without losing stored rows', async () => {
  const config = tinyConfig({ numLayers: 2 });
  const weights = createRandomWeights(config, 19);
  await checkScenario(
    weights,
    [{ seqId: 1, tokens: randomTokens(84, config.vocabSize, 31) }],
    [
      [{ seqId: 1, count: 40 }],
      // 40 stored rows, 40 more: the 64-token buffers double with content to keep.
      [{ seqId: 1, count: 40, allLogits: true }],
      [{ seqId: 1, count: 1 }],
      [{ seqId: 1, count: 3, allLogits: true }],
    ],
  );
});
