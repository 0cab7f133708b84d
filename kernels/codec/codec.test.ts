// Holds the native huff8 addon (both paths, 1-3 threads) to the TypeScript reference, bit for bit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalCodes, codeLengthsProblem, huffmanCodeLengths, MAX_CODE_LENGTH } from './huffman.js';
import { crc32cReference } from './crc32c.js';
import { decodeReference, decodeReferenceToF32, encodeReference, f16BitsToF32Bits, histogramReference } from './reference-codec.js';
import { nativeCrc32c, nativeDecode, nativeEncode, nativeFeatures, nativeHistogram } from './native.js';
import { bf16WithEdges, EDGE_PATTERNS_16, gaussianF16, seededRandom } from './synthetic.js';
import { CodecError } from './codec-error.js';
import { codedBits } from './huffman.js';
import { f32BitsToBf16Bits } from './bf16.js';
import { Worker } from 'node:worker_threads';

function histogram(data: Uint16Array): Float64Array {
  const counts = new Float64Array(256);
  histogramReference(data, counts);
  return counts;
}

test('Huffman lengths stay within 16 bits, form a complete prefix code, and beat 8 bits on skewed data', () => {
  // Fibonacci counts force an unlimited Huffman depth of ~40 bits.
  const fib = new Float64Array(256);
  let a = 1;
  let b = 1;
  for (let s = 0; s < 45; s++) {
    fib[s] = a;
    [a, b] = [b, a + b];
  }
  for (const counts of [fib, histogram(bf16WithEdges(50_000, 7))]) {
    const lengths = huffmanCodeLengths(counts);
    assert.equal(codeLengthsProblem(lengths), null);
    let kraft = 0;
    for (let s = 0; s < 256; s++) {
      assert.equal(lengths[s] > 0, counts[s] > 0, `symbol ${s} presence`);
      if (lengths[s] > 0) kraft += 2 ** -lengths[s];
    }
    assert.ok(Math.max(...lengths) <= MAX_CODE_LENGTH);
    assert.ok(Math.abs(kraft - 1) < 1e-12, `Kraft sum ${kraft}`);
    const codes = canonicalCodes(lengths);
    const seen = new Set<string>();
    for (let s = 0; s < 256; s++) if (lengths[s]) seen.add(codes[s].toString(2).padStart(lengths[s], '0'));
    for (const x of seen) for (const y of seen) if (x !== y) assert.ok(!y.startsWith(x), `${x} is a prefix of ${y}`);
  }
  const gaussianCounts = histogram(bf16WithEdges(50_000, 7));
  const bitsPerSymbol = codedBits(gaussianCounts, huffmanCodeLengths(gaussianCounts)) / 50_000;
  assert.ok(bitsPerSymbol < 4, `exponent codes average ${bitsPerSymbol} bits`);
  const single = new Float64Array(256);
  single[3] = 10;
  assert.equal(huffmanCodeLengths(single)[3], 1);
});

test('CRC-32C: check value, and native equals reference with chaining', () => {
  assert.equal(crc32cReference(new TextEncoder().encode('123456789')), 0xe3069283);
  assert.equal(nativeCrc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  const random = seededRandom(11);
  for (const n of [0, 1, 7, 8, 9, 1000, 4099]) {
    const bytes = new Uint8Array(n).map(() => Math.floor(random() * 256));
    assert.equal(nativeCrc32c(bytes), crc32cReference(bytes));
    const cut = Math.floor(n / 3);
    assert.equal(nativeCrc32c(bytes.subarray(cut), nativeCrc32c(bytes.subarray(0, cut))), crc32cReference(bytes));
  }
});

test('reference encode/decode round-trips every edge pattern and random data, and F16 widening is exact', () => {
  const data = bf16WithEdges(20_000, 3);
  const lengths = huffmanCodeLengths(histogram(data));
  for (const chunkSize of [256, 4096]) {
    const enc = encodeReference(data, lengths, chunkSize);
    assert.equal(enc.bitLength, codedBits(histogram(data), lengths));
    const out = new Uint16Array(data.length).fill(0xdead);
    decodeReference(enc, lengths, out);
    assert.deepEqual(out, data);
  }
  for (const p of EDGE_PATTERNS_16) assert.ok(data.includes(p), `edge pattern ${p.toString(16)} present`);
  // F16 widening against the platform's own float conversion for every non-NaN pattern.
  const f = new Float32Array(1);
  const bits = new Uint32Array(f.buffer);
  for (let h = 0; h < 65536; h++) {
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0x1f && mant !== 0) continue;
    const sign = h & 0x8000 ? -1 : 1;
    f[0] = exp === 0 ? sign * mant * 2 ** -24 : exp === 0x1f ? sign * Infinity : sign * (1 + mant / 1024) * 2 ** (exp - 15);
    assert.equal(f16BitsToF32Bits(h), bits[0], `half ${h.toString(16)}`);
  }
  assert.equal(f32BitsToBf16Bits(0x3f808000), 0x3f80); // tie to even
  assert.equal(f32BitsToBf16Bits(0x3f818000), 0x3f82);
  assert.equal(f32BitsToBf16Bits(0x7f800001), 0x7fc0); // low-payload NaN stays NaN
});

test('native encoder output is identical to the reference encoder', () => {
  const data = bf16WithEdges(70_001, 5);
  const counts = new Float64Array(256);
  nativeHistogram(data, counts);
  assert.deepEqual(counts, histogram(data));
  const lengths = huffmanCodeLengths(counts);
  const ref = encodeReference(data, lengths, 1024);
  const nat = nativeEncode(data, lengths, 1024, codedBits(counts, lengths));
  assert.equal(nat.bitLength, ref.bitLength);
  assert.deepEqual(nat.words, ref.words);
  assert.deepEqual(nat.raw, ref.raw);
  assert.deepEqual(nat.index, ref.index);
});

test('native decoder equals the reference: both paths, 1-3 threads, u16 and f32 outputs, BF16 and F16', () => {
  console.log('native features', nativeFeatures());
  const cases: { data: Uint16Array; dtype: 'BF16' | 'F16' }[] = [
    { data: bf16WithEdges(300_001, 9), dtype: 'BF16' },
    { data: bf16WithEdges(5_003, 10), dtype: 'BF16' },
    { data: gaussianF16(270_000, 0.05, 12), dtype: 'F16' },
    { data: bf16WithEdges(300_000, 13), dtype: 'F16' },
  ];
  for (const { data, dtype } of cases) {
    const lengths = huffmanCodeLengths(histogram(data));
    for (const chunkSize of [256, 4096]) {
      const enc = encodeReference(data, lengths, chunkSize);
      const refF32 = new Float32Array(data.length);
      decodeReferenceToF32(enc, lengths, dtype, refF32);
      const refBits = new Uint32Array(refF32.buffer);
      for (const portable of [false, true]) {
        for (const threads of [1, 2, 3]) {
          const out16 = new Uint16Array(data.length).fill(0xbeef);
          nativeDecode(enc, lengths, out16, { dtype, threads, portable });
          assert.deepEqual(out16, data, `${dtype} u16 portable=${portable} threads=${threads} chunk=${chunkSize}`);
          const out32 = new Float32Array(data.length).fill(Number.NaN);
          nativeDecode(enc, lengths, out32, { dtype, threads, portable });
          assert.deepEqual(new Uint32Array(out32.buffer), refBits, `${dtype} f32 portable=${portable} threads=${threads}`);
        }
      }
    }
  }
});

test('malformed streams end in CodecError from both decoders, and bad arguments in TypeError/RangeError', () => {
  const data = bf16WithEdges(10_000, 21);
  const lengths = huffmanCodeLengths(histogram(data));
  const good = encodeReference(data, lengths, 256);
  const out = new Uint16Array(data.length);
  const variants = [
    { ...good, index: good.index.slice().fill(5, 8, 9) }, // wrong bit offset of chunk 4
    { ...good, index: good.index.slice().fill(77, 9, 10) }, // wrong first element
    { ...good, bitLength: good.bitLength - 1 },
    { ...good, words: good.words.slice(0, 3) }, // truncated stream
  ];
  const incomplete = lengths.slice();
  incomplete[incomplete.findIndex((l) => l > 0)] += 1; // leaves a hole in the code space
  for (const v of variants) {
    assert.throws(() => decodeReference(v, lengths, out), CodecError);
    for (const portable of [false, true]) assert.throws(() => nativeDecode(v, lengths, out, { dtype: 'BF16', portable }), CodecError);
  }
  assert.throws(() => nativeDecode(good, incomplete, out, { dtype: 'BF16' }), CodecError);
  assert.throws(() => decodeReference(good, incomplete, out), CodecError);
  const tooLong = lengths.slice().fill(17, 0, 1);
  assert.throws(() => nativeDecode(good, tooLong, out, { dtype: 'BF16' }), CodecError);
  assert.throws(() => nativeDecode(good, lengths, new Int16Array(10_000) as never, { dtype: 'BF16' }), TypeError);
  assert.throws(() => nativeDecode(good, lengths, new Uint16Array(10), { dtype: 'BF16' }), RangeError);
  assert.throws(() => nativeDecode(good, lengths.subarray(1), out, { dtype: 'BF16' }), RangeError);
  assert.throws(() => nativeDecode(good, lengths, out, { dtype: 'BF16', threads: 0 }), RangeError);
  // Random garbage words: never a crash; either an error or (rarely) some output.
  const random = seededRandom(99);
  for (let k = 0; k < 50; k++) {
    const words = good.words.map(() => Math.floor(random() * 2 ** 32));
    try {
      nativeDecode({ ...good, words }, lengths, out, { dtype: 'BF16' });
    } catch (err) {
      assert.ok(err instanceof CodecError);
    }
  }
});

test('concurrent decodes from several worker threads share the thread pool safely', async () => {
  const data = bf16WithEdges(400_000, 31);
  const lengths = huffmanCodeLengths(histogram(data));
  const enc = encodeReference(data, lengths, 4096);
  const results = await Promise.all(
    [0, 1, 2].map(
      () =>
        new Promise<{ mismatches: number }>((resolve, reject) => {
          const w = new Worker(new URL('./decode-stress-worker.js', import.meta.url), { workerData: { enc, lengths, expected: data, rounds: 30 } });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  // The main thread decodes at the same time as the workers.
  const out = new Uint16Array(data.length);
  for (let r = 0; r < 10; r++) nativeDecode(enc, lengths, out, { dtype: 'BF16', threads: 2 });
  assert.deepEqual(out, data);
  assert.deepEqual(results, [{ mismatches: 0 }, { mismatches: 0 }, { mismatches: 0 }]);
});
