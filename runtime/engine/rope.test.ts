// Checks the RoPE tables: float32 values of cos/sin(p * inv_freq), both copy layouts agreeing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeInvFreq, RopeTables } from './rope.js';
import { tinyConfig } from './random-weights.js';

test('RopeTables rows hold cos/sin(p * inv_freq) twice over, in both layouts', () => {
  const config = tinyConfig({ headDim: 8, ropeTheta: 10000 });
  const tables = new RopeTables(config, 40);
  const invFreq = computeInvFreq(config);
  const positions = [0, 7, 39, 3];
  const cos = new Float32Array(positions.length * 8).fill(NaN);
  const sin = new Float32Array(positions.length * 8).fill(NaN);
  const both = new Float32Array(positions.length * 16).fill(NaN);
  tables.fill(positions, cos, sin);
  tables.fillInterleaved(positions, both);
  positions.forEach((p, t) => {
    for (let i = 0; i < 8; i++) {
      const angle = p * invFreq[i % 4];
      assert.ok(Math.abs(cos[t * 8 + i] - Math.cos(angle)) < 1e-6, `cos p=${p} i=${i}`);
      assert.ok(Math.abs(sin[t * 8 + i] - Math.sin(angle)) < 1e-6, `sin p=${p} i=${i}`);
      assert.equal(both[t * 16 + i], cos[t * 8 + i]);
      assert.equal(both[t * 16 + 8 + i], sin[t * 8 + i]);
    }
  });
  assert.equal(cos[0], 1);
  assert.equal(sin[0], 0);
  assert.ok(sin.slice(8).some((v) => v !== 0));
});

test('linear scaling divides every inverse frequency by the factor', () => {
  const plain = computeInvFreq(tinyConfig());
  const scaled = computeInvFreq(tinyConfig({ ropeScaling: { kind: 'linear', factor: 4 } }));
  plain.forEach((f, i) => assert.ok(Math.abs(scaled[i] - f / 4) <= 1e-7 * f));
});
