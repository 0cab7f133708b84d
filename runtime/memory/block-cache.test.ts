// Block cache: exact hit/miss/eviction/bypass counts, admit-only-if-free policy, shrink evicts LRU first.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockCache, blockKey } from './block-cache.js';

test('blocks are admitted only into free space and never evict each other', () => {
  const cache = new BlockCache<string>(250);
  const access = (layer: number): string => {
    const key = blockKey(layer, 'bf16');
    const v = cache.get(key);
    if (v !== undefined) return v;
    const decoded = `block${layer}`;
    cache.admit(key, decoded, 100);
    return decoded;
  };
  // Three steps over four blocks: blocks 0 and 1 fit, 2 and 3 decode every step.
  for (let step = 0; step < 3; step++) for (let l = 0; l < 4; l++) assert.equal(access(l), `block${l}`);
  assert.deepEqual(cache.stats(), { hits: 4, misses: 8, evictions: 0, bypasses: 6, entries: 2, usedBytes: 200, capacityBytes: 250 });
});

test('shrinking evicts the least recently used blocks in the same call; growing admits again', () => {
  const cache = new BlockCache<number>(400);
  for (let l = 0; l < 4; l++) assert.ok(cache.admit(blockKey(l, 'bf16'), l, 100));
  assert.equal(cache.get(blockKey(0, 'bf16')), 0); // 0 becomes most recent: order 1,2,3,0
  cache.resize(250);
  assert.deepEqual([0, 1, 2, 3].map((l) => cache.has(blockKey(l, 'bf16'))), [true, false, false, true]);
  assert.equal(cache.stats().evictions, 2);
  assert.equal(cache.usedBytes, 200);
  cache.resize(0);
  assert.equal(cache.stats().entries, 0);
  assert.equal(cache.stats().evictions, 4);
  assert.equal(cache.admit(blockKey(1, 'bf16'), 1, 100), false);
  cache.resize(1000);
  assert.ok(cache.admit(blockKey(1, 'e8m3'), 1, 100));
  assert.equal(cache.get(blockKey(1, 'bf16')), undefined); // precisions never alias
  cache.evictWhere((k) => k.endsWith('/e8m3'));
  assert.equal(cache.stats().entries, 0);
  assert.equal(cache.stats().evictions, 5);
});
