// Governor decisions: wishes set the floor, memory and queue pick the depth, unmeetable wishes get kind 'budget'.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EdgewiseError } from '../errors.js';
import { Governor, type GovernorOptions } from './governor.js';

const KV = 2 * 2 * 8 * 4; // per token per block: K and V, 2 heads × 8 dims, fp32
const base: GovernorOptions = {
  numLayers: 4,
  ranking: [2, 0, 3, 1],
  qualityTable: {
    numTokens: 100, windowTokens: 50,
    points: [{ depth: 4, precision: 'bf16', perplexity: 10 }, { depth: 3, precision: 'bf16', perplexity: 10.4 },
      { depth: 2, precision: 'bf16', perplexity: 12 }, { depth: 1, precision: 'bf16', perplexity: 19 }],
  },
  blockBytes: 10_000,
  kvBytesPerTokenLayer: KV,
  maxSeqLen: 256,
  defaultQuality: 'high',
};
const idle = { running: 0, waiting: 0, maxBatch: 4 };
const isBudget = (e: unknown) => e instanceof EdgewiseError && e.kind === 'budget';

test('KV bytes follow the cache capacity doubling from 64 tokens up to maxSeqLen', () => {
  const g = new Governor(base, 1e9);
  assert.equal(g.kvBytes(4, 10), 4 * 64 * KV);
  assert.equal(g.kvBytes(2, 65), 2 * 128 * KV);
  assert.equal(g.kvBytes(1, 1000), 256 * KV);
});

test('plenty of memory: full depth for every quality; floors come from the quality table', () => {
  const g = new Governor(base, 1e9);
  for (const quality of ['exact', 'high', 'balanced', 'fast'] as const) {
    const d = g.decide({ quality }, 20, idle);
    assert.equal(d.choice.depth, 4, quality);
    assert.equal(d.layerIndices, undefined);
  }
  // A long queue takes the floor: high → 3 (10.4 ≤ 10.5), balanced → 2 (12 ≤ 12.5), fast → 1 (19 ≤ 20).
  const busy = { running: 4, waiting: 4, maxBatch: 4 };
  assert.deepEqual(g.decide({ quality: 'high' }, 20, busy).layerIndices, [0, 2, 3]);
  assert.deepEqual(g.decide({ quality: 'balanced' }, 20, busy).layerIndices, [0, 2]);
  assert.deepEqual(g.decide({ quality: 'fast' }, 20, busy).layerIndices, [2]);
  assert.equal(g.decide({ quality: 'exact' }, 20, busy).choice.depth, 4);
  assert.match(g.decide({ quality: 'fast' }, 20, busy).choice.why, /queue long/);
  assert.equal(g.decide({ quality: 'fast', minDepth: 3 }, 20, busy).choice.depth, 3);
});

test('less memory: the deepest depth whose blocks fit in the cache, not below the floor', () => {
  const kv = (d: number) => d * 64 * KV;
  // Room for exactly 2 blocks besides a depth-2 KV cache.
  const g = new Governor(base, 2 * 10_000 + kv(2));
  const d = g.decide({ quality: 'fast' }, 20, idle);
  assert.equal(d.choice.depth, 2);
  assert.deepEqual(d.layerIndices, [0, 2]);
  assert.match(d.choice.why, /memory/);
  assert.equal(g.decide({ quality: 'high' }, 20, idle).choice.depth, 3); // floor 3 wins over the cache
  assert.equal(g.decide(undefined, 20, idle).choice.depth, 3); // server default 'high'
});

test('reservations shrink the free budget and the cache capacity; unmeetable wishes fail with kind budget', () => {
  const kv4 = 4 * 64 * KV;
  const g = new Governor(base, 2 * kv4 + 100);
  g.admit('a', { quality: 'exact' }, 20, idle);
  g.admit('b', { quality: 'exact' }, 20, idle);
  assert.equal(g.kvReservedBytes, 2 * kv4);
  assert.equal(g.cacheCapacity(), 100);
  assert.throws(() => g.admit('c', { quality: 'exact' }, 20, idle), isBudget);
  assert.throws(() => g.admit('c', { quality: 'fast' }, 20, idle), isBudget);
  g.release('a');
  g.release('a'); // idempotent
  assert.equal(g.admit('c', { quality: 'exact' }, 20, idle).choice.depth, 4);
  g.setBudget(10);
  assert.equal(g.cacheCapacity(), 0);
  assert.throws(() => g.decide({ precision: 'e8m3' }, 20, idle), (e: unknown) => e instanceof EdgewiseError && e.kind === 'invalid_request');
  assert.throws(() => g.decide({ minDepth: 9 }, 20, idle), (e: unknown) => e instanceof EdgewiseError && e.param === 'edgewise.min_depth');
});

test('an uncalibrated container serves full depth only', () => {
  const g = new Governor({ ...base, ranking: null, qualityTable: null }, 1e9);
  const d = g.decide({ quality: 'fast' }, 20, { running: 9, waiting: 9, maxBatch: 1 });
  assert.equal(d.choice.depth, 4);
  assert.match(d.choice.why, /not calibrated/);
  // Without a table, qualities keep a fraction of the blocks.
  const t = new Governor({ ...base, qualityTable: null }, 1e9);
  assert.equal(t.decide({ quality: 'balanced' }, 20, { running: 9, waiting: 9, maxBatch: 1 }).choice.depth, 3);
});

const rungs = [{ name: 'bf16', blockBytes: 10_000 }, { name: 'e8m3', blockBytes: 3_750 }, { name: 'e8m1', blockBytes: 3_125 }];
const withRungs: GovernorOptions = {
  ...base,
  precisions: rungs,
  qualityTable: {
    numTokens: 100, windowTokens: 50,
    points: [
      ...[[4, 10], [3, 10.4], [2, 12], [1, 19]].map(([depth, perplexity]) => ({ depth, precision: 'bf16', perplexity })),
      ...[[4, 10.2], [3, 10.6], [2, 12.3], [1, 19.5]].map(([depth, perplexity]) => ({ depth, precision: 'e8m3', perplexity })),
      ...[[4, 13], [3, 14], [2, 16], [1, 25]].map(([depth, perplexity]) => ({ depth, precision: 'e8m1', perplexity })),
    ],
  },
};

test('precision rungs: plenty of memory keeps lossless full depth; less memory trades precision before depth when the table allows', () => {
  const kv = (d: number) => d * 64 * KV;
  assert.deepEqual([new Governor(withRungs, 1e9).decide({ quality: 'high' }, 20, idle).choice].map((c) => [c.depth, c.precision]), [[4, 'bf16']]);
  // Room for 4 e8m3 blocks (15 000 B) but not 4 lossless ones: high (≤ 10.5) allows (4, e8m3) at 10.2 and (3, bf16) at 10.4.
  const g = new Governor(withRungs, 15_000 + kv(4));
  const high = g.decide({ quality: 'high' }, 20, idle).choice;
  assert.deepEqual([high.depth, high.precision], [4, 'e8m3']);
  assert.match(high.why, /memory/);
  // exact stays lossless full depth even though its blocks do not all fit.
  assert.deepEqual([g.decide({ quality: 'exact' }, 20, idle).choice].map((c) => [c.depth, c.precision]), [[4, 'bf16']]);
  // balanced (≤ 12.5): e8m1 never qualifies (13 at full depth); with room for ~2 lossless blocks, (4, e8m3) fits whole.
  const b = new Governor(withRungs, 20_000 + kv(4)).decide({ quality: 'balanced' }, 20, idle).choice;
  assert.deepEqual([b.depth, b.precision], [4, 'e8m3']);
  // fast (≤ 20) with a long queue: cheapest allowed pair, depth 1 at e8m1 (25 > 20 is out) → (1, e8m3) at 3 750 B.
  const busy = { running: 4, waiting: 4, maxBatch: 4 };
  const f = new Governor(withRungs, 1e9).decide({ quality: 'fast' }, 20, busy).choice;
  assert.deepEqual([f.depth, f.precision], [1, 'e8m3']);
});

test('precision wishes: a named rung is honoured, judged against its own full depth; unknown rungs are a 400 naming the served ones', () => {
  const g = new Governor(withRungs, 1e9);
  const e8m1 = g.decide({ precision: 'e8m1' }, 20, idle).choice;
  assert.deepEqual([e8m1.depth, e8m1.precision], [4, 'e8m1']);
  const busy = { running: 4, waiting: 4, maxBatch: 4 };
  // high against e8m1's full depth (13 × 1.05 = 13.65): depth 3 (14) is out, so the floor stays 4.
  assert.equal(g.decide({ precision: 'e8m1', quality: 'high' }, 20, busy).choice.depth, 4);
  assert.equal(g.decide({ precision: 'e8m1', quality: 'fast' }, 20, busy).choice.depth, 1);
  assert.throws(() => g.decide({ precision: 'int4' }, 20, idle), (e: unknown) => e instanceof EdgewiseError && e.kind === 'invalid_request' && /bf16, e8m3, e8m1/.test(e.message));
  // Without a table for the rung, lower rungs run only when named.
  const untabled = new Governor({ ...withRungs, qualityTable: base.qualityTable }, 15_000 + 4 * 64 * KV);
  assert.equal(untabled.decide({ quality: 'high' }, 20, idle).choice.precision, 'bf16');
  assert.equal(untabled.decide({ precision: 'e8m3' }, 20, idle).choice.precision, 'e8m3');
  // The budget error names precision among what could be lowered.
  const tiny = new Governor(withRungs, 100);
  assert.throws(() => tiny.decide({ precision: 'e8m1', quality: 'exact' }, 20, idle), (e: unknown) => isBudget(e) && /precision/.test((e as Error).message));
});

test('a lower rung or a shallower depth measured a hair better than the pair above it never outranks it', () => {
  // Calibration noise: e8m3 at full depth measured below lossless, depth 3 below depth 4.
  const noisy: GovernorOptions = {
    ...base,
    qualityTable: {
      numTokens: 100, windowTokens: 50,
      points: [
        { depth: 4, precision: 'bf16', perplexity: 10 }, { depth: 4, precision: 'e8m3', perplexity: 9.99 },
        { depth: 3, precision: 'bf16', perplexity: 9.98 }, { depth: 3, precision: 'e8m3', perplexity: 10.1 },
        { depth: 2, precision: 'bf16', perplexity: 12 }, { depth: 2, precision: 'e8m3', perplexity: 12.2 },
        { depth: 1, precision: 'bf16', perplexity: 19 }, { depth: 1, precision: 'e8m3', perplexity: 19.5 },
      ],
    },
    precisions: [{ name: 'bf16', blockBytes: 10_000 }, { name: 'e8m3', blockBytes: 4_000 }],
  };
  const g = new Governor(noisy, 1e9);
  for (const quality of ['high', 'balanced', 'fast'] as const) {
    const d = g.decide({ quality }, 20, idle);
    assert.deepEqual([d.choice.depth, d.choice.precision], [4, 'bf16'], quality);
  }
  // With room for 4 e8m3 blocks but not 4 lossless ones, memory still moves it down a rung.
  const tight = new Governor(noisy, 4 * 4_000 + 4 * 64 * KV);
  assert.deepEqual([tight.decide({ quality: 'balanced' }, 20, idle).choice.depth, tight.decide({ quality: 'balanced' }, 20, idle).choice.precision], [4, 'e8m3']);
});

test('a better pair with one block left to decode per step wins over a lower rung cached whole when it is estimated no slower', () => {
  const kv = (d: number) => d * 64 * KV;
  // Room for 3 of 4 lossless blocks: lossless costs 4 + 1 × 6 = 10 block-runs a step, e8m3 cached whole 4 + 4 × 1.5 = 10.
  const three = new Governor(withRungs, 30_000 + kv(4)).decide({ quality: 'high' }, 20, idle).choice;
  assert.deepEqual([three.depth, three.precision], [4, 'bf16']);
  assert.match(three.why, /estimated no slower/);
  // Room for 2: lossless would cost 4 + 2 × 6 = 16, so e8m3 cached whole (10) is kept.
  const two = new Governor(withRungs, 20_000 + kv(4)).decide({ quality: 'high' }, 20, idle).choice;
  assert.deepEqual([two.depth, two.precision], [4, 'e8m3']);
});
