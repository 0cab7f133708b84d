// Precision switching end to end in the engine: mixed-rung batches, cache forms and budgeted segments vs fixed-rung references.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertToEwm } from '../runtime/container/ewm-writer.js';
import { EwmWeightProvider } from '../runtime/container/ewm-weights.js';
import { PRECISIONS } from '../runtime/container/precision.js';
import { createOrtRunner } from '../runtime/engine/ort-runner.js';
import type { ModelRunner, WeightProvider } from '../runtime/engine/runner-types.js';
import { loadModel, loadTokenizerAndTemplate } from '../runtime/model/load-model.js';
import { BlockCache, blockKey } from '../runtime/memory/block-cache.js';
import type { CachedEntry } from '../runtime/memory/cached-weights.js';
import { budgetedWeights } from '../runtime/memory/budgeted-weights.js';
import { withSequenceOptions } from '../runtime/memory/adaptive-runner.js';
import { isSegmentKey, segmentKey } from '../runtime/memory/segment-store.js';

const root = new URL('../../', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'adaptive-precision-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const ewm = join(work, 'default.ewm');
convertToEwm(join(root, 'models/default'), ewm);
const { config } = await loadTokenizerAndTemplate(ewm);
const seed = Date.now() % 1000;
const prompt = Array.from({ length: 12 }, (_, i) => 50 + ((seed * 7 + i * 131) % 4000));
const MiB = 1024 ** 2;

/** Prefill then two decode steps of one sequence; the three logits rows, copied. */
async function trace(runner: ModelRunner, seqId = 1): Promise<Float32Array[]> {
  runner.createSequence(seqId);
  try {
    const out = [Float32Array.from((await runner.step([{ seqId, tokenIds: prompt }]))[0])];
    for (const t of [17, 42]) out.push(Float32Array.from((await runner.step([{ seqId, tokenIds: [t] }]))[0]));
    return out;
  } finally {
    runner.freeSequence(seqId);
  }
}

const same = (a: Float32Array[], b: Float32Array[]): boolean => a.every((x, i) => Buffer.from(x.buffer).equals(Buffer.from(b[i].buffer)));

/** Reference logits per rung: a plain runner over the store at that rung (no cache, resident segments). */
const reference = new Map<string, Float32Array[]>();
for (const rung of PRECISIONS) {
  const store = EwmWeightProvider.open(ewm, config, { threads: 1 });
  const runner = await createOrtRunner(store.atRung(rung), { maxSeqLen: 64, threads: 1 });
  reference.set(rung.name, await trace(runner));
  await runner.dispose();
  store.close();
}

test(`lossless rung equals the uncompressed folder bit for bit; lower rungs differ from it (seed ${seed})`, async () => {
  const folder = await loadModel(join(root, 'models/default'));
  const runner = await createOrtRunner(folder.weights, { maxSeqLen: 64, threads: 1 });
  try {
    assert.ok(same(await trace(runner), reference.get('bf16')!));
    assert.ok(!same(reference.get('e8m3')!, reference.get('bf16')!) && !same(reference.get('e8m1')!, reference.get('e8m3')!));
  } finally {
    await runner.dispose();
  }
});

for (const capacityMiB of [0, 1.3, 5, 64]) {
  test(`a batch mixing all three rungs gives each sequence its rung's reference logits; cache ${capacityMiB} MiB, segments read from the file`, async () => {
    const store = EwmWeightProvider.open(ewm, config, { threads: 2 });
    const cache = new BlockCache<CachedEntry>(capacityMiB * MiB);
    const { weights, segments } = budgetedWeights(store, cache);
    assert.equal(store.residentBytes, 0, 'no resident copy of the store once budgeted');
    const rungOf = new Map([[1, 'bf16'], [2, 'e8m3'], [3, 'e8m1']]);
    const runner = withSequenceOptions(await createOrtRunner(weights as WeightProvider, { maxSeqLen: 64, threads: 1 }), (seqId) => ({ precision: rungOf.get(seqId) }), (p) => weights.selectPrecision((p ?? 'bf16') as never));
    try {
      for (let round = 0; round < 2; round++) {
        const got = new Map<number, Float32Array[]>([[1, []], [2, []], [3, []]]);
        for (const id of rungOf.keys()) runner.createSequence(id);
        const first = await runner.step([...rungOf.keys()].map((seqId) => ({ seqId, tokenIds: prompt })));
        first.forEach((l, i) => got.get(i + 1)!.push(Float32Array.from(l)));
        for (const t of [17, 42]) {
          const rows = await runner.step([...rungOf.keys()].map((seqId) => ({ seqId, tokenIds: [t] })));
          rows.forEach((l, i) => got.get(i + 1)!.push(Float32Array.from(l)));
        }
        for (const id of rungOf.keys()) runner.freeSequence(id);
        for (const [id, rung] of rungOf) assert.ok(same(got.get(id)!, reference.get(rung)!), `round ${round}: sequence at ${rung} differs from its reference`);
      }
      // What the cache holds is counted at its real size and never exceeds the capacity.
      let counted = 0;
      for (let l = 0; l < config.numLayers; l++) {
        for (const rung of PRECISIONS) {
          if (!cache.has(blockKey(l, rung.name))) continue;
          counted += store.compactBytes(l, rung); // FP32 bytes for the lossless rung, symbols + planes below
        }
      }
      const held = cache.countWhere(isSegmentKey);
      assert.equal(cache.usedBytes, counted + held.bytes);
      assert.ok(cache.usedBytes <= capacityMiB * MiB);
      if (capacityMiB === 64) {
        assert.equal(cache.countWhere((k) => !isSegmentKey(k)).entries, 3 * config.numLayers, 'every block at every rung stays decoded');
        assert.equal(held.entries, 0, 'no segment is kept once its blocks are decoded');
      }
      if (capacityMiB === 0) assert.equal(segments.stats.hits, 0);
      assert.ok(segments.stats.reads > 0);
    } finally {
      await runner.dispose();
      weights.close();
    }
  });
}

test('a lower rung keeps only its planes: the held segment prefix has the rung\'s parts and no more', async () => {
  const store = EwmWeightProvider.open(ewm, config, { threads: 1 });
  const e8m1 = PRECISIONS[2];
  const seg1 = store.segmentOfLayer(1);
  const prefix = store.ewm.prefixBytes(seg1, e8m1.planes);
  // Room for block 0 compact plus one segment prefix, not two compact blocks.
  const cache = new BlockCache<CachedEntry>(store.compactBytes(0, e8m1) + prefix + 1000);
  const { weights, segments } = budgetedWeights(store, cache);
  weights.selectPrecision('e8m1');
  try {
    for (let l = 0; l < config.numLayers; l++) await weights.layer(l);
    const readsAfterFirstPass = segments.stats.reads;
    assert.ok(cache.has(blockKey(0, 'e8m1')));
    assert.ok(cache.has(segmentKey(seg1, 1)), 'block 1 kept compressed, one part');
    assert.equal(cache.countWhere(isSegmentKey).bytes, prefix);
    assert.ok(prefix < store.ewm.prefixBytes(seg1, 3) / 2, `e8m1 prefix ${prefix} vs whole segment ${store.ewm.prefixBytes(seg1, 3)}`);
    // Next pass: block 0 is a cache hit, block 1's prefix is served from memory, the other blocks are read again.
    const hits = segments.stats.hits;
    for (let l = 0; l < config.numLayers; l++) await weights.layer(l);
    assert.equal(segments.stats.hits, hits + 1);
    assert.equal(segments.stats.reads, readsAfterFirstPass + config.numLayers - 2);
  } finally {
    weights.close();
  }
});
