// RSS stays within budget + fixed overhead at 25/50/100% budgets with 8 concurrent requests (bench/adaptive-rss.ts prints the samples).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { convertToEwm } from '../runtime/container/ewm-writer.js';
import { budgetAt, decodedBlocksBytes, runRss } from '../bench/adaptive-rss.js';

const MiB = 1024 ** 2;
/** Allocator and GC noise between runs, measured at about ±8 MiB on this machine (docs/adaptive.md). */
const SLACK = 16 * MiB;
const root = new URL('../../', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'adaptive-rss-test-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

test('8 concurrent requests succeed at 25%, 50% and 100% budgets and RSS stays under fixed overhead + budget + slack', async () => {
  const ewm = join(work, 'default.ewm');
  convertToEwm(join(root, 'models/default'), ewm);
  const full = await decodedBlocksBytes(ewm);
  const base = runRss(ewm, 2 * MiB, 8, 32);
  assert.equal(base.ok, 8);
  assert.equal(base.cacheEntries, 0);
  const fixed = base.maxRss - 2 * MiB;
  // The compressed store is inside the budget: outside it the engine keeps only the decoded
  // embedding/LM head and one segment of read scratch (docs/adaptive.md), less than the store.
  const store = statSync(ewm).size;
  assert.ok(base.fixedBytes > 0 && base.fixedBytes < store, `engine fixed bytes ${base.fixedBytes} vs store ${store}`);
  const blocks: number[] = [];
  for (const fraction of [0.25, 0.5, 1]) {
    const budget = budgetAt(full, fraction);
    const run = runRss(ewm, budget, 8, 32);
    assert.equal(run.ok, 8, `${fraction}: ${run.ok}/8 succeeded`);
    assert.ok(run.samples.length > 10 && run.samples.every((s) => s > 0), 'RSS was sampled');
    assert.ok(run.maxRss <= fixed + budget + SLACK, `${fraction}: max RSS ${(run.maxRss / MiB).toFixed(1)} MiB > fixed ${(fixed / MiB).toFixed(1)} + budget ${(budget / MiB).toFixed(1)} + slack`);
    blocks.push(run.cacheEntries);
    // Blocks not cached decoded are read from the file (or held compressed within the budget).
    if (fraction < 1) assert.ok(run.segmentReads > 0, `${fraction}: no segment read from the file`);
  }
  // The cache holds what the budget leaves after KV caches: more budget, more decoded blocks.
  assert.ok(blocks[0] < blocks[1] && blocks[1] < blocks[2], `cached blocks ${blocks}`);
  assert.equal(blocks[2], 6, 'a 100% budget keeps every block decoded');
});
