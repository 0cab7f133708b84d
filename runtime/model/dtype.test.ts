// Tests the half/bfloat16 conversions against plain formula references over all or random inputs.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bf16ToF32, f16ToF32, f32ToBf16 } from './dtype.js';

/** IEEE 754 binary16 by its definition, independent of the bit-twiddling code. */
function halfReference(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * Math.pow(2, -24);
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * Math.pow(2, exp - 15) * (1 + mant / 1024);
}

test('f16ToF32 is exact for all 65536 halves (subnormals, ±0, ±inf, NaN)', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const out = f16ToF32(all);
  let checked = 0;
  for (let h = 0; h < 65536; h++) {
    const ref = halfReference(h);
    if (Number.isNaN(ref)) assert.ok(Number.isNaN(out[h]), `half 0x${h.toString(16)}`);
    else assert.ok(Object.is(out[h], ref), `half 0x${h.toString(16)}: got ${out[h]}, want ${ref}`);
    checked++;
  }
  assert.equal(checked, 65536);
  assert.ok(Object.is(out[0x8000], -0));
  assert.equal(out[0x0001], 5.960464477539063e-8); // smallest subnormal
  assert.equal(out[0x7bff], 65504);
});

test('bf16ToF32 places the bits in the top half', () => {
  const src = Uint16Array.from([0x3f80, 0xc000, 0x0001, 0x7f80, 0x8000, 0x4049]);
  const out = bf16ToF32(src);
  assert.deepEqual([...out.slice(0, 2)], [1, -2]);
  assert.equal(out[2], Math.pow(2, -133)); // smallest bf16 subnormal
  assert.equal(out[3], Infinity);
  assert.ok(Object.is(out[4], -0));
  assert.equal(out[5], 3.140625);
});

/** Round-to-nearest-even to bf16 by comparing the two neighbours' values. */
function bf16Reference(x: number): number {
  const f = new Float32Array([x]);
  const bits = new Uint32Array(f.buffer)[0];
  const down = bits >>> 16;
  const up = (down + 1) & 0xffff;
  const val = (b: number): number => new Float32Array(new Uint32Array([b << 16]).buffer)[0];
  const dDown = Math.abs(f[0] - val(down));
  const dUp = Math.abs(f[0] - val(up));
  if (dDown < dUp) return down;
  if (dUp < dDown) return up;
  return down % 2 === 0 ? down : up;
}

test('f32ToBf16 rounds to nearest even like torch, on random values and exact ties', () => {
  let seed = 12345;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const xs = new Float32Array(20000);
  for (let i = 0; i < xs.length; i++) xs[i] = (rand() - 0.5) * Math.pow(2, Math.floor(rand() * 40) - 20);
  // Exact ties: the dropped 16 bits are 0x8000.
  const tieBits = new Uint32Array([0x3f808000, 0x3f818000, 0xbf808000]);
  const ties = new Float32Array(tieBits.buffer);
  const all = Float32Array.from([...xs, ...ties]);
  const out = f32ToBf16(all);
  assert.ok(out.some((v) => v !== 0));
  for (let i = 0; i < all.length; i++) assert.equal(out[i], bf16Reference(all[i]), `value ${all[i]}`);
  assert.deepEqual([...out.slice(-3)], [0x3f80, 0x3f82, 0xbf80]);
  const special = f32ToBf16(Float32Array.from([NaN, Infinity, -Infinity, 3.4028234663852886e38]));
  assert.ok((special[0] & 0x7f80) === 0x7f80 && (special[0] & 0x7f) !== 0, 'NaN stays NaN');
  assert.deepEqual([...special.slice(1)], [0x7f80, 0xff80, 0x7f80]); // max float rounds up to inf, as torch does
});
