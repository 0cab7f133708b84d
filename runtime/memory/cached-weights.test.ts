// The cached container path returns blocks bit-identical to the uncached one, with exact cache counts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertToEwm } from '../container/ewm-writer.js';
import { EwmWeightProvider } from '../container/ewm-weights.js';
import { writeEdgeValueFolder } from '../container/ewm-test-util.js';
import { loadTokenizerAndTemplate } from '../model/load-model.js';
import type { LayerWeights } from '../engine/runner-types.js';
import { BlockCache } from './block-cache.js';
import { CachedWeightProvider, blockBytes, type CachedEntry } from './cached-weights.js';

const work = mkdtempSync(join(tmpdir(), 'cached-weights-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

function sameBits(a: LayerWeights, b: LayerWeights, what: string): void {
  for (const key of Object.keys(a) as (keyof LayerWeights)[]) {
    const x = a[key];
    const y = b[key];
    if (x === null || y === null) {
      assert.equal(x, y, `${what} ${key}`);
      continue;
    }
    assert.ok(x.length > 0, `${what} ${key} empty`);
    assert.ok(Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength)), `${what} ${key} differs`);
  }
}

test('decoded blocks are identical with and without the cache; hits skip decoding', async () => {
  const src = join(work, 'src');
  writeEdgeValueFolder(src, 7);
  const ewm = join(work, 'm.ewm');
  convertToEwm(src, ewm, { chunkSize: 256 });
  const { config } = await loadTokenizerAndTemplate(ewm);
  const plain = EwmWeightProvider.open(ewm, config, { threads: 1 });
  const one = blockBytes(config);
  const cache = new BlockCache<CachedEntry>(one + 10); // room for exactly one block
  const cached = new CachedWeightProvider(EwmWeightProvider.open(ewm, config, { threads: 1 }), cache);
  try {
    for (let step = 0; step < 3; step++) {
      for (let l = 0; l < config.numLayers; l++) {
        const ref = await plain.layer(l);
        sameBits(await cached.layer(l), ref, `step ${step} layer ${l}`);
      }
    }
    // Layer 0 admitted at its first miss, layer 1 never fits: 2 hits, 4 misses, 3 bypasses.
    assert.deepEqual(cache.stats(), { hits: 2, misses: 4, evictions: 0, bypasses: 3, entries: 1, usedBytes: one, capacityBytes: one + 10 });
    cache.resize(one - 1);
    assert.equal(cache.stats().evictions, 1);
    sameBits(await cached.layer(0), await plain.layer(0), 'after shrink');
  } finally {
    plain.close();
    cached.close();
  }
});
