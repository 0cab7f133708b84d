// Size targets on Gaussian weights of a 1B-shaped block: ≤ 70% of BF16, within 0.15 bits of 8 + H(exponent).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertToEwm } from './ewm-writer.js';
import { writeLlama1bLayerFolder } from './ewm-test-util.js';

test('Gaussian 1B-shaped block (rows / 16): bits/weight within 0.15 of the entropy bound and ≤ 70% of BF16', () => {
  const work = mkdtempSync(join(tmpdir(), 'ewm-size-'));
  try {
    const n = writeLlama1bLayerFolder(join(work, 'src'), 16, 3);
    const report = convertToEwm(join(work, 'src'), join(work, 'l.ewm'));
    const layer = report.segments.find((s) => s.name === 'layer.0')!;
    assert.equal(layer.numWeights, n);
    console.log(`1B-shaped block: ${layer.bitsPerWeight.toFixed(3)} bits/weight, bound ${layer.entropyBoundBits.toFixed(3)}, ${((layer.bitsPerWeight / 16) * 100).toFixed(1)}% of BF16`);
    assert.ok(layer.bitsPerWeight <= 0.7 * 16, `${layer.bitsPerWeight} bits/weight`);
    assert.ok(layer.bitsPerWeight - layer.entropyBoundBits <= 0.15, `gap ${layer.bitsPerWeight - layer.entropyBoundBits}`);
    assert.ok(layer.entropyBoundBits > 10 && layer.entropyBoundBits < 11, `bound ${layer.entropyBoundBits} is not Gaussian-like`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
