// The native decode step (kernels/codec/src/cpu-forward.cc) against the float64 reference forward pass.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelConfig } from '../model/model-config.js';
import { createOrtRunner } from './ort-runner.js';
import { DECODE_ISAS, NativeDecodeStep, nativeDecodeAvailable, nativeDecodeIsa, type DecodeIsa } from './native-decode.js';
import { createRandomWeights, tinyConfig } from './random-weights.js';
import { checkScenario, randomTokens, type Plan, type ScenarioSequence } from './runner-scenarios.js';

/** The batch size of every NativeDecodeStep.run call made while `fn` runs, so a test knows the native path really ran. */
async function nativeRuns(fn: () => Promise<unknown>): Promise<number[]> {
  const original = NativeDecodeStep.prototype.run;
  const batches: number[] = [];
  NativeDecodeStep.prototype.run = function (this: NativeDecodeStep, ...args: Parameters<typeof original>) {
    batches.push(args[3].length);
    return original.apply(this, args);
  };
  try {
    await fn();
  } finally {
    NativeDecodeStep.prototype.run = original;
  }
  return batches;
}

const variants: { name: string; config: ModelConfig }[] = [
  { name: 'GQA ratio 2', config: tinyConfig() },
  // hidden and intermediate not multiples of 8: the AVX2 tiles' scalar tails run.
  { name: 'odd widths, q width != hidden', config: tinyConfig({ hiddenSize: 36, intermediateSize: 45, numHeads: 4, headDim: 10 }) },
  { name: 'all biases, MHA', config: tinyConfig({ numKvHeads: 4, attentionBias: true, outputBias: true, mlpBias: true }) },
  // head widths 32, 64 and 128 take the register-blocked attention kernels; the others the generic loop.
  { name: 'head_dim 64, GQA ratio 2', config: tinyConfig({ hiddenSize: 64, numHeads: 2, numKvHeads: 1, headDim: 64 }) },
  { name: 'head_dim 128, MHA', config: tinyConfig({ hiddenSize: 48, numHeads: 2, numKvHeads: 2, headDim: 128, intermediateSize: 40 }) },
  { name: 'GQA ratio 4, llama3 rope', config: tinyConfig({ numHeads: 8, numKvHeads: 2, headDim: 4, ropeScaling: { kind: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 } }) },
];

test('the native decode step is built (npm install compiles it)', () => {
  assert.equal(nativeDecodeAvailable(), true);
});

/** The kernel sets this CPU can run (the test runs each; the best is restored after). */
function supportedIsas(): DecodeIsa[] {
  const best = nativeDecodeIsa();
  return DECODE_ISAS.slice(DECODE_ISAS.indexOf(best));
}

for (const { name, config } of variants) {
  for (const isa of supportedIsas()) test(`native decode (${isa}) matches the reference for batches of 1 to 6 sequences: ${name}`, async () => {
    const best = nativeDecodeIsa();
    nativeDecodeIsa(isa);
    try {
      await checkBatches(config);
    } finally {
      nativeDecodeIsa(best);
    }
  });
}

async function checkBatches(config: ModelConfig): Promise<void> {
  {
    const seed = 1 + Math.floor(Math.random() * 1e6);
    const weights = createRandomWeights(config, seed);
    const sequences: ScenarioSequence[] = [1, 2, 3, 4, 5, 6].map((id) => ({ seqId: id, tokens: randomTokens(12 + id, config.vocabSize, seed + id) }));
    // Prefill lengths differ per sequence, so each decode step attends over different lengths.
    const plan: Plan = [sequences.map((s) => ({ seqId: s.seqId, count: 2 + s.seqId }))];
    for (const batch of [1, 2, 3, 4, 5, 6, 6]) plan.push(sequences.slice(0, batch).map((s) => ({ seqId: s.seqId, count: 1 })));
    const runner = await createOrtRunner(weights, { threads: 1, nativeDecode: true });
    try {
      const calls = (await nativeRuns(() => checkScenario(runner, weights, sequences, plan))).length;
      assert.equal(calls, 7 * config.numLayers, `native runs (seed ${seed})`);
    } finally {
      await runner.dispose();
    }
  }
}

test('the kernel set can be switched and reported; an unknown one is an error', () => {
  const best = nativeDecodeIsa();
  try {
    assert.throws(() => nativeDecodeIsa('sse9' as DecodeIsa), /unknown ISA/);
    assert.equal(nativeDecodeIsa('portable'), 'portable');
    assert.equal(nativeDecodeIsa(), 'portable');
  } finally {
    nativeDecodeIsa(best);
  }
  assert.equal(nativeDecodeIsa(), best);
});

test('native decode with more threads than rows splits work and still matches', async () => {
  // Big enough (intermediate × hidden × batch ≥ 2^20 multiply-adds) for the rows to be split over threads.
  const config = tinyConfig({ hiddenSize: 256, intermediateSize: 700, numHeads: 8, numKvHeads: 2, headDim: 32, numLayers: 2, vocabSize: 50 });
  const weights = createRandomWeights(config, 5);
  const sequences: ScenarioSequence[] = [1, 2, 3, 4, 5, 6, 7, 8].map((id) => ({ seqId: id, tokens: randomTokens(6, config.vocabSize, 40 + id) }));
  const plan: Plan = [sequences.map((s) => ({ seqId: s.seqId, count: 4 })), sequences.map((s) => ({ seqId: s.seqId, count: 1 }))];
  const runner = await createOrtRunner(weights, { threads: 3, nativeDecode: true });
  try {
    const calls = (await nativeRuns(() => checkScenario(runner, weights, sequences, plan))).length;
    assert.equal(calls, config.numLayers);
  } finally {
    await runner.dispose();
  }
});

test('nativeDecode: false keeps every block on onnxruntime', async () => {
  const config = tinyConfig();
  const weights = createRandomWeights(config, 9);
  const runner = await createOrtRunner(weights, { threads: 1, nativeDecode: false });
  try {
    const calls = (await nativeRuns(() => checkScenario(runner, weights, [{ seqId: 1, tokens: randomTokens(6, config.vocabSize, 2) }], [[{ seqId: 1, count: 5 }], [{ seqId: 1, count: 1 }]]))).length;
    assert.equal(calls, 0);
  } finally {
    await runner.dispose();
  }
});

test('a step mixing prefill and decode sends the decodes to the native step and the prefill to onnxruntime', async () => {
  const config = tinyConfig({ numLayers: 2 });
  const seed = 1 + Math.floor(Math.random() * 1e6);
  const weights = createRandomWeights(config, seed);
  const sequences: ScenarioSequence[] = [1, 2, 3].map((id) => ({ seqId: id, tokens: randomTokens(10, config.vocabSize, seed + id) }));
  const plan: Plan = [
    [{ seqId: 1, count: 4 }, { seqId: 3, count: 2 }],
    // 1 and 3 decode (native, batch of 2) while 2 prefills 5 tokens with all logits (onnxruntime).
    [{ seqId: 1, count: 1 }, { seqId: 2, count: 5, allLogits: true }, { seqId: 3, count: 1 }],
    [{ seqId: 2, count: 1 }, { seqId: 3, count: 3, allLogits: true }, { seqId: 1, count: 1 }],
  ];
  // Counts block fetches: a container provider decodes a block on every layer() call.
  let layerCalls = 0;
  const counted = { ...weights, config: weights.config, embedding: () => weights.embedding(), finalNorm: () => weights.finalNorm(), lmHead: () => weights.lmHead(), layer: (i: number) => (layerCalls++, weights.layer(i)), close: () => weights.close() };
  const runner = await createOrtRunner(counted, { threads: 1 });
  let batchSizes: number[];
  try {
    batchSizes = await nativeRuns(() => checkScenario(runner, weights, sequences, plan));
  } finally {
    await runner.dispose();
  }
  assert.deepEqual(batchSizes, [2, 2, 2, 2], `native batch per block run (seed ${seed})`);
  assert.equal(layerCalls, plan.length * config.numLayers, 'each block fetched once per step, also when native and onnxruntime both run it');
});
