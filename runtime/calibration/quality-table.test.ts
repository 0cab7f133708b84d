// Lossless container at full depth has exactly the uncompressed model's held-out perplexity (same windows, same engine).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertToEwm } from '../container/ewm-writer.js';
import { createOrtRunner } from '../engine/ort-runner.js';
import { loadModel } from '../model/load-model.js';
import { calibrationWindows } from './calibration-text.js';
import { perplexity } from './perplexity.js';
import { EwmWeightProvider } from '../container/ewm-weights.js';
import { PRECISIONS } from '../container/precision.js';

const root = new URL('../../../', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'quality-table-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

test('bf16 full depth from the container equals the uncompressed folder bit for bit; fewer blocks change it', async () => {
  const hf = join(root, 'models/default');
  const ewm = join(work, 'd.ewm');
  convertToEwm(hf, ewm);
  const folder = await loadModel(hf);
  const container = await loadModel(ewm);
  const windows = calibrationWindows(folder.tokenizer!, readFileSync(join(hf, 'calibration.txt'), 'utf8'), 64, 256);
  assert.equal(windows.length, 4);
  assert.ok(windows.every((w) => w.length === 64 && new Set(w).size > 10));
  const a = await createOrtRunner(folder.weights, { maxSeqLen: 64 });
  const b = await createOrtRunner(container.weights, { maxSeqLen: 64 });
  try {
    const pa = await perplexity(a, windows);
    const pb = await perplexity(b, windows);
    assert.ok(pa > 1 && Number.isFinite(pa));
    assert.equal(pb, pa);
    assert.notEqual(await perplexity(b, windows, [0, 2, 4]), pa);
    // Each rung through the same store: lossless equals the folder; lower rungs move it.
    const store = container.weights as EwmWeightProvider;
    for (const rung of PRECISIONS) {
      const r = await createOrtRunner(store.atRung(rung), { maxSeqLen: 64 });
      try {
        const p = await perplexity(r, windows);
        if (rung.lossless) assert.equal(p, pa, rung.name);
        else assert.ok(Number.isFinite(p) && p !== pa, `${rung.name}: ${p} vs lossless ${pa}`);
      } finally {
        await r.dispose();
      }
    }
  } finally {
    await a.dispose();
    await b.dispose();
    container.weights.close();
  }
});
