// Block Influence and perplexity on the real ORT runner vs plain float64 references; ranking and depth selection.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOrtRunner } from '../engine/ort-runner.js';
import { createRandomWeights, tinyConfig } from '../engine/random-weights.js';
import { referenceForward } from '../engine/reference-forward.js';
import type { LayerWeights, WeightProvider } from '../engine/runner-types.js';
import { Prng } from '../generation/prng.js';
import { HiddenStateProbe, blockInfluence, meanOneMinusCos } from './block-influence.js';
import { layersAtDepth, rankByScore } from './calibration-types.js';
import { logSoftmaxAt, perplexity } from './perplexity.js';

const config = tinyConfig({ numLayers: 4, vocabSize: 97, hiddenSize: 32 });

/** Block `identity` has zero o_proj and down_proj, so it adds nothing to the residual stream. */
function withIdentityBlock(inner: WeightProvider, identity: number): WeightProvider {
  return {
    config: inner.config,
    embedding: () => inner.embedding(),
    finalNorm: () => inner.finalNorm(),
    lmHead: () => inner.lmHead(),
    async layer(i: number): Promise<LayerWeights> {
      const w = await inner.layer(i);
      return i === identity ? { ...w, oProj: new Float32Array(w.oProj.length), downProj: new Float32Array(w.downProj.length) } : w;
    },
    close: () => inner.close(),
  };
}

function windows(seed: number, count: number, len: number): number[][] {
  const rng = new Prng(seed);
  return Array.from({ length: count }, () => Array.from({ length: len }, () => Math.floor(rng.nextFloat() * config.vocabSize)));
}

test('block influence from the runner matches a float64 reference; an identity block scores 0 and ranks last', async () => {
  const weights = withIdentityBlock(createRandomWeights(config, 11), 2);
  const runner = await createOrtRunner(new HiddenStateProbe(weights), { maxSeqLen: 64 });
  const ws = windows(5, 3, 12);
  try {
    const bi = await blockInfluence(runner, weights.embedding(), ws);
    // Reference: hidden states from the float64 forward of the same probe, prefix by prefix.
    const probe = new HiddenStateProbe(weights);
    const H = config.hiddenSize;
    const V = config.vocabSize;
    const ref = new Array<number>(config.numLayers).fill(0);
    for (const ids of ws) {
      let prev = new Float32Array(ids.length * H);
      ids.forEach((id, t) => prev.set(weights.embedding().subarray(id * H, (id + 1) * H), t * H));
      let stride = H;
      for (let k = 0; k < config.numLayers; k++) {
        const out = Float32Array.from(await referenceForward(probe, ids, Array.from({ length: k + 1 }, (_, i) => i)));
        ref[k] += meanOneMinusCos(prev, stride, out, V, ids.length, H) * ids.length;
        prev = out;
        stride = V;
      }
    }
    const n = ws.length * 12;
    assert.equal(bi.numTokens, n);
    for (let k = 0; k < config.numLayers; k++) assert.ok(Math.abs(bi.scores[k] - ref[k] / n) < 1e-4, `block ${k}: ${bi.scores[k]} vs ${ref[k] / n}`);
    assert.ok(Math.abs(bi.scores[2]) < 1e-5, `identity block scored ${bi.scores[2]}`);
    assert.ok(bi.scores.filter((_, i) => i !== 2).every((s) => s > 1e-3), `scores ${bi.scores}`);
    assert.equal(bi.ranking[bi.ranking.length - 1], 2);
    assert.deepEqual([...bi.ranking].sort(), [0, 1, 2, 3]);
  } finally {
    await runner.dispose();
  }
});

test('perplexity through the runner matches the float64 reference at full and reduced depth', async () => {
  const weights = createRandomWeights(config, 3);
  const runner = await createOrtRunner(weights, { maxSeqLen: 64 });
  const ws = windows(9, 2, 10);
  try {
    for (const layers of [undefined, [0, 3]]) {
      let nll = 0;
      let count = 0;
      for (const ids of ws) {
        const logits = Float32Array.from(await referenceForward(weights, ids, layers));
        for (let t = 0; t + 1 < ids.length; t++) {
          nll -= logSoftmaxAt(logits.subarray(t * config.vocabSize, (t + 1) * config.vocabSize), ids[t + 1]);
          count++;
        }
      }
      const got = await perplexity(runner, ws, layers);
      const want = Math.exp(nll / count);
      assert.ok(want > 1 && Math.abs(got - want) / want < 1e-4, `${layers}: ${got} vs ${want}`);
    }
  } finally {
    await runner.dispose();
  }
});

test('ranking and depth selection keep original block order', () => {
  assert.deepEqual(rankByScore([0.1, 0.5, 0.05, 0.5]), [1, 3, 0, 2]);
  assert.deepEqual(layersAtDepth([1, 3, 0, 2], 3), [0, 1, 3]);
  assert.deepEqual(layersAtDepth([1, 3, 0, 2], 4), [0, 1, 2, 3]);
  assert.throws(() => layersAtDepth([1, 0], 3), RangeError);
  assert.ok(Math.abs(logSoftmaxAt(Float32Array.from([0, 0]), 1) + Math.LN2) < 1e-12);
});
