// The default model's quality table: perplexity rises monotonically as depth falls (once the model is trained).

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

test('quality table of the default model: monotone in depth, stored in the container', async (t) => {
  const ewm = join(work, 'default.ewm');
  convertToEwm(model, ewm);
  const { qualityTables, layerImportance } = await calibrateContainer(ewm, readFileSync(join(root, 'models/default/calibration.txt'), 'utf8'), { maxTokens: 2048 });
  assert.deepEqual(readCalibration(ewm).qualityTables, qualityTables);
  assert.deepEqual([...layerImportance.ranking].sort(), [0, 1, 2, 3, 4, 5]);
  const byDepth = [...qualityTables.points].sort((a, b) => b.depth - a.depth).map((p) => p.perplexity);
  // NOTE: a random-weight placeholder (perplexity near the 4096-token vocabulary) has no quality to lose.
  if (byDepth[0] > 1024) {
    t.skip(`models/default looks untrained (full-depth perplexity ${byDepth[0].toFixed(0)}); monotonicity not checked`);
    return;
  }
  for (let i = 1; i < byDepth.length; i++) assert.ok(byDepth[i] > byDepth[i - 1], `perplexity by depth 6..1: ${byDepth.map((p) => p.toFixed(2)).join(' ')}`);
});
