// The default model's quality table: perplexity rises monotonically as depth falls, and as precision falls at every servable depth.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { convertToEwm } from '../runtime/container/ewm-writer.js';
import { calibrateContainer } from '../runtime/calibration/calibrate.js';
import { readCalibration } from '../runtime/calibration/ewm-calibration-store.js';

const root = new URL('../../', import.meta.url).pathname;
// EDGEWISE_QUALITY_MODEL: another HF folder with the default model's tokenizer (e.g. a training checkpoint).
const model = process.env.EDGEWISE_QUALITY_MODEL ?? join(root, 'models/default');
const work = mkdtempSync(join(tmpdir(), 'adaptive-quality-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

// NOTE: 4096 tokens, not 2048: on 2048 the H200-trained default model's e8m3 rung scores a hair
// under lossless at depth 6 (97.673 vs 97.684, -0.011%), sampling noise against a rung gap of
// +0.09% on 4096 tokens (92.724 / 92.805 / 93.732) and +0.13% on 8192 (85.692 / 85.805 / 86.577).
// Calibration takes about 25 s on 4096 tokens (12 s on 2048).
const QUALITY_TOKENS = 4096;

let byDepth: number[] = [];
let table: { depth: number; precision: string; perplexity: number }[] = [];

test('quality table of the default model is measured for every depth and stored in the container', async () => {
  const ewm = join(work, 'default.ewm');
  convertToEwm(model, ewm);
  const { qualityTables, layerImportance } = await calibrateContainer(ewm, readFileSync(join(root, 'models/default/calibration.txt'), 'utf8'), { maxTokens: QUALITY_TOKENS });
  assert.deepEqual(readCalibration(ewm).qualityTables, qualityTables);
  assert.deepEqual([...layerImportance.ranking].sort(), [0, 1, 2, 3, 4, 5]);
  table = qualityTables.points;
  assert.deepEqual([...new Set(table.map((p) => p.precision))], ['bf16', 'e8m3', 'e8m1']);
  byDepth = table.filter((p) => p.precision === 'bf16').sort((a, b) => b.depth - a.depth).map((p) => p.perplexity);
  assert.equal(byDepth.length, 6);
  assert.equal(table.length, 18);
  for (const perplexity of byDepth) assert.ok(Number.isFinite(perplexity) && perplexity > 1, `perplexity ${perplexity}`);
});

// Every step down in depth costs perplexity (H200 weights, 4096 tokens: 92.72 102.83 127.14 193.63 252.84 418.70
// for depth 6..1; the smallest step is +10.9%).
test('quality table of the default model rises monotonically as depth falls', (t) => {
  // A random-weight placeholder (perplexity near the 4096-token vocabulary) has no quality to lose.
  if (byDepth[0] > 1024) {
    t.skip(`models/default looks untrained (full-depth perplexity ${byDepth[0].toFixed(0)}); monotonicity not checked`);
    return;
  }
  for (let i = 1; i < byDepth.length; i++) assert.ok(byDepth[i] > byDepth[i - 1], `perplexity by depth 6..1: ${byDepth.map((p) => p.toFixed(2)).join(' ')}`);
});

// NOTE: checked strictly at every depth the governor can serve (bf16 perplexity within 2× of full
// depth, the loosest quality's ratio). Below that the model is broken anyway: at depth 1 of the
// current default model (418.70 vs 92.72 on 4096 tokens) e8m3 and e8m1 lower perplexity by 0.1% and
// 1.0%; reported, not asserted. Depths 6 to 4 are servable there (depth 3: 193.63, over 2×).
test('quality table of the default model rises as precision falls (bf16 < e8m3 < e8m1 at every servable depth)', (t) => {
  if (byDepth[0] > 1024) {
    t.skip(`models/default looks untrained (full-depth perplexity ${byDepth[0].toFixed(0)}); not checked`);
    return;
  }
  for (let depth = 6; depth >= 1; depth--) {
    const at = ['bf16', 'e8m3', 'e8m1'].map((r) => table.find((p) => p.depth === depth && p.precision === r)!.perplexity);
    const line = `depth ${depth}: bf16 ${at[0].toFixed(3)}, e8m3 ${at[1].toFixed(3)}, e8m1 ${at[2].toFixed(3)}`;
    if (at[0] > 2 * byDepth[0]) t.diagnostic(`not servable (over 2× full depth), not asserted: ${line}`);
    else assert.ok(at[0] < at[1] && at[1] < at[2], line);
  }
});
