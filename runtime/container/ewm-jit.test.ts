// Serving from a container decodes every block just in time, every step, into one set of reusable buffers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertToEwm } from './ewm-writer.js';
import { EwmWeightProvider } from './ewm-weights.js';
import { loadModel } from '../model/load-model.js';
import { createRunner } from '../engine/create-runner.js';
import type { LayerWeights } from '../engine/runner-types.js';

const root = new URL('../../../', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'ewm-jit-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

test('default model from .ewm: each step decodes every block once; all blocks share the same buffers; the store stays compressed', async () => {
  const ewm = join(work, 'default.ewm');
  convertToEwm(join(root, 'models/default'), ewm);
  const model = await loadModel(ewm);
  const weights = model.weights;
  assert.ok(weights instanceof EwmWeightProvider, 'a container loads as the just-in-time provider');
  const numLayers = model.config.numLayers;
  const runner = await createRunner(weights, { backend: 'cpu', threads: 1 });
  try {
    runner.createSequence(1);
    const before = weights.decodeStats.count;
    await runner.step([{ seqId: 1, tokenIds: [1, 2, 3, 4] }]);
    for (const id of [5, 6, 7]) await runner.step([{ seqId: 1, tokenIds: [id] }]);
    assert.equal(weights.decodeStats.count - before, 4 * numLayers, 'every block decoded on every step (no hidden cache)');
  } finally {
    await runner.dispose();
  }
  try {
    // What stays resident is the compressed store (about 10.6 bits/weight), not FP32 blocks.
    assert.ok(weights.residentBytes > 0 && weights.residentBytes < weights.ewm.header.metadataOffset);
    const keys: (keyof LayerWeights)[] = ['qProj', 'kProj', 'vProj', 'oProj', 'gateProj', 'upProj', 'downProj', 'inputNorm', 'postAttentionNorm'];
    const first = await weights.layer(0);
    const arrays = new Map(keys.map((k) => [k, first[k] as Float32Array]));
    const copy = (first.qProj as Float32Array).slice();
    for (let i = 1; i < numLayers; i++) {
      const lw = await weights.layer(i);
      for (const k of keys) assert.equal(lw[k], arrays.get(k), `block ${i} ${k} reuses block 0's buffer`);
    }
    assert.notDeepEqual(arrays.get('qProj'), copy, 'the shared buffer now holds the last block, not block 0');
  } finally {
    weights.close();
  }
});
