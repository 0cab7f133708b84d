// Bit-plane rungs: native decode/expand (both paths, 1-3 threads) vs the TypeScript reference vs a direct mask-and-fill definition.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { huffmanCodeLengths } from './huffman.js';
import { encodeReference, f16BitsToF32Bits, histogramReference } from './reference-codec.js';
import { decodePlanesReference, expandPlanesReference, splitPlanes } from './planes-reference.js';
import { nativeDecodePlanes, nativeExpandPlanes } from './native.js';
import { bf16WithEdges, gaussianF16 } from './synthetic.js';
import type { Huff8Dtype, PlanedTensor } from './huff8-types.js';

/** Independent definition: keep the top mantissa bits the rung stores, set the midpoint bit below them unless the exponent is 0 or all ones. */
function expectedPattern(w: number, keep: number, dtype: Huff8Dtype): number {
  if (keep === 3) return w;
  const dropped = keep === 2 ? 4 : 6; // low mantissa bits dropped
  const kept = w & ~((1 << dropped) - 1) & 0xffff;
  const exp = dtype === 'BF16' ? (w >>> 7) & 0xff : (w >>> 10) & 0x1f;
  const special = exp === 0 || exp === (dtype === 'BF16' ? 0xff : 0x1f);
  return special ? kept : kept | (1 << (dropped - 1));
}

function planed(data: Uint16Array, chunkSize: number): { enc: PlanedTensor; codeLengths: Uint8Array } {
  const counts = new Float64Array(256);
  histogramReference(data, counts);
  const codeLengths = huffmanCodeLengths(counts);
  const v1 = encodeReference(data, codeLengths, chunkSize);
  return { enc: { ...v1, planes: splitPlanes(v1.raw) }, codeLengths };
}

const seed = Date.now() % 100_000;

for (const dtype of ['BF16', 'F16'] as const) {
  test(`${dtype}: every rung decodes the same natively (fast/portable, 1-3 threads) as the reference and as mask-and-fill (seed ${seed})`, () => {
    // Odd length: the last chunk is short and its plane bytes partly used.
    const n = 70_001 + (seed % 13);
    const data = dtype === 'BF16' ? bf16WithEdges(n, seed) : gaussianF16(n, 0.05, seed);
    if (dtype === 'F16') for (const [i, w] of [0, 0x8000, 0x7c00, 0xfc00, 0x7e01, 0x0001, 0x03ff].entries()) data[(i * 977) % n] = w;
    const { enc, codeLengths } = planed(data, 1024);
    for (let keep = 1; keep <= 3; keep++) {
      const want = data.map((w) => expectedPattern(w, keep, dtype));
      const ref16 = new Uint16Array(n);
      decodePlanesReference({ ...enc, planes: enc.planes.slice(0, keep) }, codeLengths, keep, dtype, ref16);
      assert.deepEqual(ref16, want, `reference keep ${keep}`);
      const refF32 = new Float32Array(n);
      decodePlanesReference(enc, codeLengths, keep, dtype, refF32);
      const wantBits = Uint32Array.from(want, (w) => (dtype === 'BF16' ? (w << 16) >>> 0 : f16BitsToF32Bits(w)));
      assert.deepEqual(new Uint32Array(refF32.buffer), wantBits, `reference f32 keep ${keep}`);
      for (const portable of [false, true]) {
        for (const threads of [1, 3]) {
          const what = `keep ${keep} portable ${portable} threads ${threads}`;
          const rungPlanes = enc.planes.slice(0, keep); // a rung holds only its planes
          const out16 = new Uint16Array(n).fill(0xdead);
          nativeDecodePlanes({ ...enc, planes: rungPlanes }, codeLengths, keep, out16, { dtype, threads, portable });
          assert.deepEqual(out16, want, what);
          const out32 = new Float32Array(n).fill(Number.NaN);
          nativeDecodePlanes({ ...enc, planes: rungPlanes }, codeLengths, keep, out32, { dtype, threads, portable });
          assert.deepEqual(new Uint32Array(out32.buffer), wantBits, `${what} f32`);
          const symbols = new Uint8Array(n).fill(0x5a);
          nativeDecodePlanes({ ...enc, planes: rungPlanes }, codeLengths, keep, symbols, { dtype, threads, portable });
          assert.deepEqual(symbols, data.map((w) => (w >>> 7) & 0xff).reduce((a, s, i) => ((a[i] = s), a), new Uint8Array(n)), `${what} symbols`);
          const expanded = new Float32Array(n).fill(Number.NaN);
          nativeExpandPlanes(symbols, rungPlanes, keep, expanded, { dtype, threads, portable });
          assert.deepEqual(new Uint32Array(expanded.buffer), wantBits, `${what} expand`);
          const refExpanded = new Uint16Array(n);
          expandPlanesReference(symbols, rungPlanes, keep, dtype, refExpanded);
          assert.deepEqual(refExpanded, want, `${what} reference expand`);
        }
      }
    }
  });
}

test('planes split the raw byte losslessly and lower rungs hold fewer plane bytes', () => {
  const raw = Uint8Array.from({ length: 4099 }, () => Math.floor(Math.random() * 256));
  const [a, b, c] = splitPlanes(raw);
  assert.equal(a.length + b.length + c.length, 1025 + 1025 + 2050);
  for (let i = 0; i < raw.length; i++) {
    const r = (((a[i >> 2] >> (2 * (i & 3))) & 3) << 6) | (((b[i >> 2] >> (2 * (i & 3))) & 3) << 4) | ((c[i >> 1] >> (4 * (i & 1))) & 15);
    assert.equal(r, raw[i], `element ${i}`);
  }
});

test('native plane calls refuse missing or short planes with typed errors', () => {
  const { enc, codeLengths } = planed(bf16WithEdges(5000, 3), 256);
  assert.throws(() => nativeDecodePlanes({ ...enc, planes: enc.planes.slice(0, 1) }, codeLengths, 2, new Uint16Array(5000), { dtype: 'BF16' }), RangeError);
  assert.throws(() => nativeDecodePlanes({ ...enc, planes: [enc.planes[0].subarray(1)] }, codeLengths, 1, new Uint16Array(5000), { dtype: 'BF16' }), RangeError);
  assert.throws(() => nativeExpandPlanes(new Uint8Array(5000), enc.planes, 4, new Float32Array(5000), { dtype: 'BF16' }), RangeError);
});

test('every 16-bit pattern decodes through the planes exactly as mask-and-fill says (both paths, u16 and f32, every rung, chunks of 4096 and of 100)', () => {
  // All 65536 patterns in a scrambled order, plus a short tail (n % 16 != 0: the SIMD blocks and the scalar tail both run).
  const n = 65536 + 13;
  const data = new Uint16Array(n);
  for (let i = 0; i < n; i++) data[i] = ((i % 65536) * 40503 + 12345) & 0xffff;
  // Chunks of 100: not a multiple of the fast path's 32- and 64-element blocks, so every chunk ends in a partial block.
  for (const [dtype, chunkSize] of [['BF16', 4096], ['F16', 4096], ['BF16', 100], ['F16', 100]] as const) {
    const { enc, codeLengths } = planed(data, chunkSize);
    const symbols = new Uint8Array(n);
    nativeDecodePlanes(enc, codeLengths, 1, symbols, { dtype });
    for (let keep = 1; keep <= 3; keep++) {
      const want = data.map((w) => expectedPattern(w, keep, dtype));
      const wantBits = Uint32Array.from(want, (w) => (dtype === 'BF16' ? (w << 16) >>> 0 : f16BitsToF32Bits(w)));
      const rungPlanes = enc.planes.slice(0, keep);
      for (const portable of [false, true]) {
        const what = `${dtype} chunk ${chunkSize} keep ${keep} portable ${portable}`;
        const out16 = new Uint16Array(n).fill(0xdead);
        nativeDecodePlanes({ ...enc, planes: rungPlanes }, codeLengths, keep, out16, { dtype, portable });
        assert.deepEqual(out16, want, `${what} u16`);
        const out32 = new Float32Array(n).fill(Number.NaN);
        nativeDecodePlanes({ ...enc, planes: rungPlanes }, codeLengths, keep, out32, { dtype, portable });
        assert.deepEqual(new Uint32Array(out32.buffer), wantBits, `${what} f32`);
        const expanded16 = new Uint16Array(n).fill(0xdead);
        nativeExpandPlanes(symbols, rungPlanes, keep, expanded16, { dtype, portable });
        assert.deepEqual(expanded16, want, `${what} expand u16`);
        const expanded32 = new Float32Array(n).fill(Number.NaN);
        nativeExpandPlanes(symbols, rungPlanes, keep, expanded32, { dtype, portable });
        assert.deepEqual(new Uint32Array(expanded32.buffer), wantBits, `${what} expand f32`);
      }
    }
  }
});
