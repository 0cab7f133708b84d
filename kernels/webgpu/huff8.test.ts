// The WGSL huff8 decoder is bit-exact against the CPU decoder; the fused decode + GEMV matches the reference matmul.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../runtime/generation/prng.js';
import { codebookFor, decodeTensor, encodeTensor, symbolHistogram, type EncodedTensor } from '../codec/codec.js';
import { EDGE_PATTERNS_16, gaussianBf16, gaussianF16 } from '../codec/synthetic.js';
import { buildDecodeTables, decodeHuff8, fusedHuff8Gemv, fusedPartialBytes, type Huff8Tensor } from './huff8.js';
import { buildFineIndex, decodeBlockFine, decodeHuff8Fine, fineIndexWords, fusedHuff8GemvFine, planBlockDecode, type FineIndex } from './huff8-fine.js';
import { jitSlices } from './compressed-weight.js';
import { matmul } from './matmul.js';
import { assertClose, gpuSuite, poison, randUniform } from './gpu-test-util.js';
import type { KernelRuntime } from './kernel-runtime.js';
import { matmulRef, siluMulRef } from '../reference/forward-ops.js';

const align64 = (n: number): number => Math.ceil(n / 64) * 64;

/** Lays an encoded tensor out as a container segment does (index, words, raw; 64-byte aligned) after `pad` leading bytes. */
function segmentOf(enc: EncodedTensor, pad: number): { bytes: Uint8Array; indexOffset: number; wordsOffset: number; rawOffset: number } {
  const indexOffset = pad;
  const wordsOffset = align64(indexOffset + enc.index.byteLength);
  const rawOffset = align64(wordsOffset + enc.words.byteLength);
  const bytes = new Uint8Array(align64(rawOffset + enc.raw.byteLength));
  bytes.set(new Uint8Array(enc.index.buffer, enc.index.byteOffset, enc.index.byteLength), indexOffset);
  bytes.set(new Uint8Array(enc.words.buffer, enc.words.byteOffset, enc.words.byteLength), wordsOffset);
  bytes.set(enc.raw, rawOffset);
  return { bytes, indexOffset, wordsOffset, rawOffset };
}

/** Encodes `data` with its own codebook, lays it out as a segment after `pad` bytes and uploads segment and tables. */
function uploadHuff8(rt: KernelRuntime, data: Uint16Array, dtype: 'BF16' | 'F16', chunkSize: number, pad: number): { t: Huff8Tensor; enc: EncodedTensor; lengths: Uint8Array; seg: Uint8Array } {
  const lengths = codebookFor(symbolHistogram(data));
  const enc = encodeTensor(data, lengths, chunkSize);
  const s = segmentOf(enc, pad);
  const t: Huff8Tensor = {
    seg: rt.upload(s.bytes),
    tables: rt.upload(buildDecodeTables(lengths)),
    dtype,
    numElements: data.length,
    chunkSize,
    bitLength: enc.bitLength,
    indexOffset: s.indexOffset,
    wordsOffset: s.wordsOffset,
    rawOffset: s.rawOffset,
  };
  return { t, enc, lengths, seg: s.bytes };
}

/** 16-bit patterns whose symbols follow a geometric law, so the codebook has codes up to 16 bits (the LUT-miss path). */
function skewedPatterns(prng: Prng, n: number): Uint16Array {
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    let sym = 100;
    while (sym < 140 && prng.nextUint32() % 2 === 0) sym++;
    out[i] = ((prng.nextUint32() & 1) << 15) | (sym << 7) | (prng.nextUint32() & 0x7f);
  }
  // A random draw reaches past symbol 110 only ~97% of the time; one each of the rarest symbols makes the long codes certain.
  for (let sym = 120; sym < 140; sym++) out[(sym * 331) % n] = (sym << 7) | (sym & 0x7f);
  return out;
}

describe('huff8 WGSL decoder', () => {
  const suite = gpuSuite();
  const { seed, prng, ready } = suite;

  const upload = (data: Uint16Array, dtype: 'BF16' | 'F16', chunkSize: number) => uploadHuff8(suite.rt, data, dtype, chunkSize, 128);

  async function gpuDecode(t: Huff8Tensor, mode: 'pairs' | 'f32'): Promise<{ words: Uint32Array; errors: number }> {
    const outWords = mode === 'f32' ? t.numElements : Math.ceil(t.numElements / 2);
    const outOffset = 16; // decode into the middle of a buffer, as the runner's block buffer does
    const out = suite.rt.buffer((outWords + outOffset) * 4);
    poison(suite.rt, out);
    const err = suite.rt.upload(new Uint32Array(4));
    suite.rt.run((e) => decodeHuff8(suite.rt, e, t, out, outOffset, mode, err));
    const words = new Uint32Array(await suite.rt.read(out, outWords * 4, outOffset * 4));
    return { words, errors: new Uint32Array(await suite.rt.read(err, 4))[0] };
  }

  /** Builds t's fine index at a nonzero offset of a poisoned buffer; returns it and the error count of the pass. */
  async function fineIndex(t: Huff8Tensor): Promise<{ index: FineIndex; errors: number }> {
    const wordOffset = 8;
    const aux = suite.rt.buffer((fineIndexWords(t) + wordOffset) * 4);
    poison(suite.rt, aux);
    const err = suite.rt.upload(new Uint32Array(4));
    const index = { aux, wordOffset };
    suite.rt.run((e) => buildFineIndex(suite.rt, e, t, index, err));
    return { index, errors: new Uint32Array(await suite.rt.read(err, 4))[0] };
  }

  async function gpuDecodeFine(t: Huff8Tensor, index: FineIndex, mode: 'pairs' | 'f32'): Promise<{ words: Uint32Array; errors: number }> {
    const outWords = mode === 'f32' ? t.numElements : Math.ceil(t.numElements / 2);
    const outOffset = 16;
    const out = suite.rt.buffer((outWords + outOffset) * 4);
    poison(suite.rt, out);
    const err = suite.rt.upload(new Uint32Array(4));
    suite.rt.run((e) => decodeHuff8Fine(suite.rt, e, t, index, out, outOffset, mode, err));
    const words = new Uint32Array(await suite.rt.read(out, outWords * 4, outOffset * 4));
    return { words, errors: new Uint32Array(await suite.rt.read(err, 4))[0] };
  }

  const cases: { name: string; make: () => Uint16Array; dtype: 'BF16' | 'F16'; chunk: number }[] = [
    { name: 'Gaussian BF16, chunk 256, 313 chunks (2 workgroups)', make: () => gaussianBf16(80000, 0.02, seed), dtype: 'BF16', chunk: 256 },
    { name: 'Gaussian BF16, odd length, chunk 4096', make: () => gaussianBf16(9001, 1, seed + 1), dtype: 'BF16', chunk: 4096 },
    { name: 'long codes (LUT misses), chunk 512', make: () => skewedPatterns(prng, 7000), dtype: 'BF16', chunk: 512 },
    {
      name: 'F16 with every IEEE edge value, chunk 256',
      make: () => {
        const d = gaussianF16(3000, 0.5, seed + 2);
        EDGE_PATTERNS_16.forEach((p, i) => (d[i * 97] = p));
        return d;
      },
      dtype: 'F16',
      chunk: 256,
    },
  ];
  for (const c of cases) {
    it(`bit-exact vs the CPU decoder: ${c.name}`, async (t) => {
      if (!ready(t)) return;
      const data = c.make();
      const { t: tensor, enc, lengths } = upload(data, c.dtype, c.chunk);
      const cpu16 = new Uint16Array(data.length);
      decodeTensor(enc, lengths, c.dtype, cpu16);
      assert.deepEqual(cpu16, data, 'CPU decoder round trip');
      if (c.name.startsWith('long codes')) assert.ok(Math.max(...lengths) > 10, 'codebook has no code longer than the LUT');
      const cpu32 = new Float32Array(data.length);
      decodeTensor(enc, lengths, c.dtype, cpu32);
      const pairs = await gpuDecode(tensor, 'pairs');
      assert.equal(pairs.errors, 0, 'error flag (pairs)');
      assert.deepEqual(new Uint16Array(pairs.words.buffer).subarray(0, data.length), cpu16, `pairs output, seed=${seed}`);
      const f32 = await gpuDecode(tensor, 'f32');
      assert.equal(f32.errors, 0, 'error flag (f32)');
      assert.deepEqual(f32.words, new Uint32Array(cpu32.buffer), `f32 output, seed=${seed}`);
      const fine = await fineIndex(tensor);
      assert.equal(fine.errors, 0, 'error flag (fine index)');
      const finePairs = await gpuDecodeFine(tensor, fine.index, 'pairs');
      assert.equal(finePairs.errors, 0, 'error flag (fine pairs)');
      assert.deepEqual(new Uint16Array(finePairs.words.buffer).subarray(0, data.length), cpu16, `fine pairs output, seed=${seed}`);
      // A range (a row slice of the just-in-time path): elements [first, end) land at the output offset.
      const first = 32 * Math.floor(data.length / 96);
      const end = Math.min(data.length, first + 32 * 41 + 7);
      const out = suite.rt.buffer(Math.ceil((end - first) / 8) * 16 + 64);
      poison(suite.rt, out);
      const rangeErr = suite.rt.upload(new Uint32Array(4));
      suite.rt.run((e) => decodeHuff8Fine(suite.rt, e, tensor, fine.index, out, 4, 'pairs', rangeErr, { first, end }));
      const range = new Uint16Array(await suite.rt.read(out, (end - first) * 2, 16));
      assert.equal(new Uint32Array(await suite.rt.read(rangeErr, 4))[0], 0, 'error flag (fine range)');
      assert.deepEqual(range, cpu16.subarray(first, end), `fine range ${first}..${end}, seed=${seed}`);
      const fineF32 = await gpuDecodeFine(tensor, fine.index, 'f32');
      assert.equal(fineF32.errors, 0, 'error flag (fine f32)');
      assert.deepEqual(fineF32.words, new Uint32Array(cpu32.buffer), `fine f32 output, seed=${seed}`);
    });
  }

  for (const dtype of ['BF16', 'F16'] as const) {
    it(`one-dispatch block decode of several tensors (one segment, codebook and fine index) is bit-exact: ${dtype}`, async (t) => {
      if (!ready(t)) return;
      const mode = dtype === 'F16' ? 'f32' : 'pairs';
      const make = dtype === 'F16' ? (n: number, i: number) => gaussianF16(n, 0.5, seed + 10 + i) : (n: number, i: number) => gaussianBf16(n, 0.02, seed + 10 + i);
      // Lengths: several workgroups, an odd tail, a short tensor; chunk sizes differ per tensor as the format allows.
      const datas = [80000, 9001, 3000, 40960].map(make);
      const chunks = [256, 4096, 512, 256];
      const all = new Uint16Array(datas.reduce((n, d) => n + d.length, 0));
      datas.reduce((at, d) => (all.set(d, at), at + d.length), 0);
      const lengths = codebookFor(symbolHistogram(all));
      const parts = datas.map((d, i) => segmentOf(encodeTensor(d, lengths, chunks[i]), 64));
      const bytes = new Uint8Array(parts.reduce((n, p) => n + p.bytes.length, 0));
      parts.reduce((at, p) => (bytes.set(p.bytes, at), at + p.bytes.length), 0);
      const seg = suite.rt.upload(bytes);
      const tables = suite.rt.upload(buildDecodeTables(lengths));
      const auxWords = datas.map((d, i) => fineIndexWords({ chunkSize: chunks[i], numElements: d.length }));
      const aux = suite.rt.buffer((auxWords.reduce((a, b) => a + b, 0) + 8) * 4);
      poison(suite.rt, aux);
      const err = suite.rt.upload(new Uint32Array(4));
      const outWords = (n: number) => Math.ceil((mode === 'f32' ? n : n / 2) / 64) * 64 + 64;
      let segAt = 0;
      let auxAt = 8;
      let outAt = 64;
      const items = datas.map((d, i) => {
        const p = parts[i];
        const tensor: Huff8Tensor = { seg, tables, dtype, numElements: d.length, chunkSize: chunks[i], bitLength: 0, indexOffset: segAt + p.indexOffset, wordsOffset: segAt + p.wordsOffset, rawOffset: segAt + p.rawOffset };
        tensor.bitLength = encodeTensor(d, lengths, chunks[i]).bitLength;
        const item = { t: tensor, index: { aux, wordOffset: auxAt }, outWordOffset: outAt };
        segAt += p.bytes.length;
        auxAt += auxWords[i];
        outAt += outWords(d.length);
        return item;
      });
      const out = suite.rt.buffer(outAt * 4);
      poison(suite.rt, out);
      suite.rt.run((e) => items.forEach((it) => buildFineIndex(suite.rt, e, it.t, it.index, err)));
      const plan = planBlockDecode(suite.rt, items, mode);
      suite.rt.run((e) => decodeBlockFine(suite.rt, e, plan, out, err));
      assert.equal(new Uint32Array(await suite.rt.read(err, 4))[0], 0, 'error flag (block decode)');
      for (const [i, it] of items.entries()) {
        const n = datas[i].length;
        if (mode === 'pairs') {
          const got = new Uint16Array(await suite.rt.read(out, Math.ceil(n / 2) * 4, it.outWordOffset * 4)).subarray(0, n);
          assert.deepEqual(got, datas[i], `tensor ${i} (${n} elements, chunk ${chunks[i]}), seed=${seed}`);
        } else {
          const want = new Float32Array(n);
          decodeTensor(encodeTensor(datas[i], lengths, chunks[i]), lengths, 'F16', want);
          const got = new Uint32Array(await suite.rt.read(out, n * 4, it.outWordOffset * 4));
          assert.deepEqual(got, new Uint32Array(want.buffer), `tensor ${i} (${n} elements, chunk ${chunks[i]}), seed=${seed}`);
        }
      }
    });
  }

  it('flags a corrupt chunk index and a truncated bit length', async (t) => {
    if (!ready(t)) return;
    const data = gaussianBf16(4096, 0.02, seed + 3);
    const { t: tensor, seg } = upload(data, 'BF16', 256);
    const bad = seg.slice();
    new Uint32Array(bad.buffer, tensor.indexOffset, 32)[2 * 5] += 3; // chunk 5 starts 3 bits late
    const badIndex = await gpuDecode({ ...tensor, seg: suite.rt.upload(bad) }, 'pairs');
    assert.ok(badIndex.errors > 0, 'shifted chunk start not flagged');
    const short = await gpuDecode({ ...tensor, bitLength: tensor.bitLength - 1 }, 'pairs');
    assert.ok(short.errors > 0, 'short bit length not flagged');
    assert.ok((await fineIndex({ ...tensor, seg: suite.rt.upload(bad) })).errors > 0, 'fine index: shifted chunk start not flagged');
    // A fine index entry 1 bit off: the sub-chunk before it and the one at it no longer end where they should.
    const { index } = await fineIndex(tensor);
    const words = new Uint32Array(await suite.rt.read(index.aux, fineIndexWords(tensor) * 4, index.wordOffset * 4));
    words[3 * 4 + 1] += 1; // chunk 3, sub-chunk 2 starts 1 bit late
    const badAux = { aux: suite.rt.upload(new Uint32Array([...new Uint32Array(index.wordOffset), ...words])), wordOffset: index.wordOffset };
    assert.ok((await gpuDecodeFine(tensor, badAux, 'pairs')).errors > 0, 'fine decode: shifted sub-chunk start not flagged');
  });

  for (const [n, k, m, chunk, withBias, accumulate] of [
    [40, 96, 1, 256, false, false], // chunks span several rows
    [6, 600, 3, 256, true, true], // rows span several chunks, k not a multiple of the chunk; y += (residual)
    [24, 512, 8, 512, false, false],
    [10, 300, 2, 256, true, 'glu'], // y = silu(gate) * product
  ] as const) {
    it(`fused decode + GEMV n=${n} k=${k} m=${m} chunk=${chunk}${accumulate === true ? ' y+=' : accumulate ? ' glu' : ''}`, async (t) => {
      if (!ready(t)) return;
      const bits = gaussianBf16(n * k, 0.05, seed + n);
      const { t: tensor, enc, lengths } = upload(bits, 'BF16', chunk);
      const w = new Float32Array(n * k);
      decodeTensor(enc, lengths, 'BF16', w);
      const x = randUniform(prng, m * k);
      const bias = withBias ? randUniform(prng, n) : null;
      const y0 = accumulate === true ? randUniform(prng, m * n) : null;
      const gate = accumulate === 'glu' ? randUniform(prng, m * n, 4) : null;
      const y = y0 ? suite.rt.upload(y0) : suite.rt.buffer(m * n * 4);
      if (!y0) poison(suite.rt, y);
      const partials = suite.rt.buffer(fusedPartialBytes(tensor, k, m));
      poison(suite.rt, partials);
      const err = suite.rt.upload(new Uint32Array(4));
      const epi = { accumulate: accumulate === true, gate: gate && suite.rt.upload(gate) };
      suite.rt.run((e) => fusedHuff8Gemv(suite.rt, e, { t: tensor, x: suite.rt.upload(x), y, bias: bias && suite.rt.upload(bias), m, n, k, partials, err, ...epi }));
      let want = matmulRef(x, w, m, n, k, bias);
      if (y0) want.forEach((v, i) => (want[i] = y0[i] + v));
      if (gate) want = siluMulRef(gate, want);
      assertClose(await suite.rt.readF32(y, m * n), want, `fused seed=${seed}`, 1e-5, 1e-4);
      assert.equal(new Uint32Array(await suite.rt.read(err, 4))[0], 0);
    });
  }
});

describe('huff8 fine fused decode + GEMV', () => {
  for (const subgroups of [true, false]) {
    const suite = gpuSuite({ open: { disableSubgroups: !subgroups } });
    const { seed, prng, ready } = suite;
    for (const [n, k, m, chunk, withBias, accumulate] of [
      [40, 64, 1, 256, false, false], // 2 sub-chunks per row: 128 rows per tile, no subgroup reduction
      [70, 1024, 3, 256, true, true], // 32 per row; rows of a tile past n; y += (residual)
      [30, 256, 2, 256, true, 'glu'], // 8 per row; y = silu(gate) * product
      [9, 4096, 8, 512, false, false], // 128 per row
      [3, 16384, 2, 4096, true, false], // 512 per row: each invocation decodes two sub-chunks
    ] as const) {
      it(`n=${n} k=${k} m=${m} chunk=${chunk}${withBias ? ' +bias' : ''}${accumulate === true ? ' y+=' : accumulate ? ' glu' : ''} (subgroups ${subgroups ? 'when offered' : 'off'})`, async (t) => {
        if (!ready(t)) return;
        const { t: tensor, enc, lengths } = uploadHuff8(suite.rt, gaussianBf16(n * k, 0.05, seed + n), 'BF16', chunk, 64);
        const w = new Float32Array(n * k);
        decodeTensor(enc, lengths, 'BF16', w);
        const x = randUniform(prng, m * k);
        const bias = withBias ? randUniform(prng, n) : null;
        const err = suite.rt.upload(new Uint32Array(4));
        const index = { aux: suite.rt.buffer(fineIndexWords(tensor) * 4), wordOffset: 0 };
        poison(suite.rt, index.aux);
        const y0 = accumulate === true ? randUniform(prng, m * n) : null;
        const gate = accumulate === 'glu' ? randUniform(prng, m * n, 4) : null;
        const y = y0 ? suite.rt.upload(y0) : suite.rt.buffer(m * n * 4);
        if (!y0) poison(suite.rt, y);
        const epi = { accumulate: accumulate === true, gate: gate && suite.rt.upload(gate) };
        suite.rt.run((e) => {
          buildFineIndex(suite.rt, e, tensor, index, err);
          fusedHuff8GemvFine(suite.rt, e, { t: tensor, index, x: suite.rt.upload(x), y, bias: bias && suite.rt.upload(bias), m, n, k, err, ...epi });
        });
        let want = matmulRef(x, w, m, n, k, bias);
        if (y0) want.forEach((v, i) => (want[i] = y0[i] + v));
        if (gate) want = siluMulRef(gate, want);
        assertClose(await suite.rt.readF32(y, m * n), want, `fine fused seed=${seed}`, 1e-5, 1e-4);
        assert.equal(new Uint32Array(await suite.rt.read(err, 4))[0], 0);
      });
    }
  }
});

describe('huff8 just-in-time product in row slices', () => {
  // Hardware kernels even on SwiftShader: row slices are a GEMV-path feature.
  const suite = gpuSuite({ kernels: 'hardware' });
  const { seed, prng, ready } = suite;
  for (const [n, k, m, sliceRows, epilogue] of [
    [50, 96, 1, 7, 'none'], // 8 slices, the last short
    [40, 256, 3, 16, 'acc'],
    [33, 64, 2, 10, 'glu'],
  ] as const) {
    it(`n=${n} k=${k} m=${m}, ${sliceRows} rows per slice, ${epilogue}`, async (t) => {
      if (!ready(t)) return;
      const { t: tensor, enc, lengths } = uploadHuff8(suite.rt, gaussianBf16(n * k, 0.05, seed + n), 'BF16', 256, 64);
      const w = new Float32Array(n * k);
      decodeTensor(enc, lengths, 'BF16', w);
      const err = suite.rt.upload(new Uint32Array(4));
      const index = { aux: suite.rt.buffer(fineIndexWords(tensor) * 4), wordOffset: 0 };
      suite.rt.run((e) => buildFineIndex(suite.rt, e, tensor, index, err));
      const scratch = suite.rt.buffer(n * k * 2);
      poison(suite.rt, scratch);
      const weight = { format: 'huff8', tensor, fine: index, mode: 'jit', scratch, sliceBytes: sliceRows * k * 2, partials: suite.rt.buffer(16), err } as const;
      assert.equal(jitSlices(weight, n, k, true).length, Math.ceil(n / sliceRows));
      const x = randUniform(prng, m * k);
      const bias = randUniform(prng, n);
      const y0 = epilogue === 'acc' ? randUniform(prng, m * n) : null;
      const gate = epilogue === 'glu' ? randUniform(prng, m * n, 4) : null;
      const y = y0 ? suite.rt.upload(y0) : suite.rt.buffer(m * n * 4);
      if (!y0) poison(suite.rt, y);
      suite.rt.run((e) => matmul(suite.rt, e, { x: suite.rt.upload(x), w: weight, y, bias: suite.rt.upload(bias), m, n, k, accumulate: epilogue === 'acc', gate: gate && suite.rt.upload(gate) }));
      let want = matmulRef(x, w, m, n, k, bias);
      if (y0) want.forEach((v, i) => (want[i] = y0[i] + v));
      if (gate) want = siluMulRef(gate, want);
      assertClose(await suite.rt.readF32(y, m * n), want, `sliced jit seed=${seed}`, 1e-5, 1e-4);
      assert.equal(new Uint32Array(await suite.rt.read(err, 4))[0], 0);
    });
  }
});
