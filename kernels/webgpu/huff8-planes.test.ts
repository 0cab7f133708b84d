// The WGSL huff8 decoders on bit-planes (format version 2) are bit-exact against the TypeScript rung decoder at every rung.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../runtime/generation/prng.js';
import { codebookFor, encodeTensor, symbolHistogram } from '../codec/codec.js';
import { decodePlanesReference, splitPlanes } from '../codec/planes-reference.js';
import { EDGE_PATTERNS_16, bf16WithEdges, gaussianBf16, gaussianF16 } from '../codec/synthetic.js';
import type { PlanedTensor } from '../codec/huff8-types.js';
import { atKeep, buildDecodeTables, decodeHuff8, fusedHuff8Gemv, fusedPartialBytes, type Huff8Tensor } from './huff8.js';
import { atKeepPlan, buildFineIndex, decodeBlockFine, decodeHuff8Fine, fineIndexWords, fusedHuff8GemvFine, planBlockDecode, type FineIndex } from './huff8-fine.js';
import { assertClose, gpuSuite, poison, randUniform } from './gpu-test-util.js';
import { matmulRef } from '../reference/forward-ops.js';

const align64 = (n: number): number => Math.ceil(n / 64) * 64;
const KEEPS = [1, 2, 3] as const;

/** A tensor encoded as a version-2 segment holds it: index, stream, planes A, B, C (64-byte aligned) after `pad` bytes. */
interface PlanedSegment {
  bytes: Uint8Array;
  ref: PlanedTensor;
  lengths: Uint8Array;
  indexOffset: number;
  wordsOffset: number;
  planeOffsets: [number, number, number];
}

function planedSegment(data: Uint16Array, chunkSize: number, pad: number, lengths = codebookFor(symbolHistogram(data))): PlanedSegment {
  const enc = encodeTensor(data, lengths, chunkSize);
  const planes = splitPlanes(enc.raw, data.length);
  const indexOffset = pad;
  const wordsOffset = align64(indexOffset + enc.index.byteLength);
  const a = align64(wordsOffset + enc.words.byteLength);
  const b = align64(a + planes[0].length);
  const c = align64(b + planes[1].length);
  const bytes = new Uint8Array(align64(c + planes[2].length));
  bytes.set(new Uint8Array(enc.index.buffer, enc.index.byteOffset, enc.index.byteLength), indexOffset);
  bytes.set(new Uint8Array(enc.words.buffer, enc.words.byteOffset, enc.words.byteLength), wordsOffset);
  [a, b, c].forEach((o, k) => bytes.set(planes[k], o));
  const ref = { numElements: data.length, chunkSize, bitLength: enc.bitLength, words: enc.words, index: enc.index, planes };
  return { bytes, ref, lengths, indexOffset, wordsOffset, planeOffsets: [a, b, c] };
}

/**
 * The segment as a rung keeping `keep` planes may see it: the planes it must not read overwritten
 * with random bytes, so a kernel that reads them anyway fails the comparison.
 */
function scrambled(s: PlanedSegment, keep: number, prng: Prng): Uint8Array {
  const out = s.bytes.slice();
  const lens = s.ref.planes.map((p) => p.length);
  for (let k = keep; k < 3; k++) for (let i = 0; i < lens[k]; i++) out[s.planeOffsets[k] + i] = prng.nextUint32() & 0xff;
  return out;
}

/** What the TypeScript reference decodes at `keep`: 16-bit patterns and f32 bits. */
function reference(s: PlanedSegment, keep: number, dtype: 'BF16' | 'F16'): { h16: Uint16Array; f32: Uint32Array } {
  const h16 = new Uint16Array(s.ref.numElements);
  decodePlanesReference(s.ref, s.lengths, keep, dtype, h16);
  const f32 = new Float32Array(s.ref.numElements);
  decodePlanesReference(s.ref, s.lengths, keep, dtype, f32);
  return { h16, f32: new Uint32Array(f32.buffer) };
}

/** BF16 and F16 weights with every special value sprinkled in: ±0, subnormals, ±inf, NaNs, extremes. */
function withSpecials(dtype: 'BF16' | 'F16', n: number, seed: number): Uint16Array {
  const d = dtype === 'BF16' ? bf16WithEdges(n, seed) : gaussianF16(n, 0.5, seed);
  EDGE_PATTERNS_16.forEach((p, i) => (d[(i * 97 + 5) % n] = p));
  return d;
}

describe('huff8 WGSL decoders on bit-planes (precision rungs)', () => {
  const suite = gpuSuite();
  const { seed, prng, ready } = suite;

  function tensorOf(s: PlanedSegment, seg: GPUBuffer, dtype: 'BF16' | 'F16', keep: 1 | 2 | 3, at = 0): Huff8Tensor {
    return {
      seg,
      tables: suite.rt.upload(buildDecodeTables(s.lengths)),
      dtype,
      numElements: s.ref.numElements,
      chunkSize: s.ref.chunkSize,
      bitLength: s.ref.bitLength,
      indexOffset: at + s.indexOffset,
      wordsOffset: at + s.wordsOffset,
      planes: { offsets: [at + s.planeOffsets[0], at + s.planeOffsets[1], at + s.planeOffsets[2]], keep },
    };
  }

  async function errors(err: GPUBuffer): Promise<number> {
    return new Uint32Array(await suite.rt.read(err, 4))[0];
  }

  /** Runs `record` into a poisoned output of `words` u32 from word 16 on; returns the output words and the error count. */
  async function decodeWith(words: number, record: (e: GPUCommandEncoder, out: GPUBuffer, err: GPUBuffer) => void): Promise<{ words: Uint32Array; errors: number }> {
    const out = suite.rt.buffer((words + 16 + 4) * 4);
    poison(suite.rt, out);
    const err = suite.rt.upload(new Uint32Array(4));
    suite.rt.run((e) => record(e, out, err));
    return { words: new Uint32Array(await suite.rt.read(out, words * 4, 16 * 4)), errors: await errors(err) };
  }

  const cases = [
    { name: 'BF16 with zeros, subnormals, inf, NaN, chunk 256', dtype: 'BF16', n: 40000, chunk: 256 },
    { name: 'BF16 with specials, odd length, chunk 512', dtype: 'BF16', n: 9001, chunk: 512 },
    { name: 'F16 with every IEEE edge value, chunk 256', dtype: 'F16', n: 3001, chunk: 256 },
  ] as const;
  for (const c of cases) {
    it(`chunk-level and fine decoders, pairs and f32, each rung bit-exact: ${c.name}`, async (t) => {
      if (!ready(t)) return;
      const data = withSpecials(c.dtype, c.n, seed + c.n);
      const s = planedSegment(data, c.chunk, 128);
      const n = data.length;
      for (const keep of KEEPS) {
        const want = reference(s, keep, c.dtype);
        if (keep === 3) assert.deepEqual(want.h16, data, 'the lossless rung is the source');
        else assert.notDeepEqual(want.h16, data, `rung ${keep} drops bits`);
        const tensor = tensorOf(s, suite.rt.upload(scrambled(s, keep, prng)), c.dtype, keep);
        const label = `keep ${keep}, seed=${seed}`;
        const pairs = await decodeWith(Math.ceil(n / 2), (e, out, err) => decodeHuff8(suite.rt, e, tensor, out, 16, 'pairs', err));
        assert.equal(pairs.errors, 0, `chunk-level pairs errors, ${label}`);
        assert.deepEqual(new Uint16Array(pairs.words.buffer).subarray(0, n), want.h16, `chunk-level pairs, ${label}`);
        const f32 = await decodeWith(n, (e, out, err) => decodeHuff8(suite.rt, e, tensor, out, 16, 'f32', err));
        assert.equal(f32.errors, 0, `chunk-level f32 errors, ${label}`);
        assert.deepEqual(f32.words, want.f32, `chunk-level f32, ${label}`);
        const aux = suite.rt.buffer((fineIndexWords(tensor) + 8) * 4);
        poison(suite.rt, aux);
        const index: FineIndex = { aux, wordOffset: 8 };
        const ierr = suite.rt.upload(new Uint32Array(4));
        suite.rt.run((e) => buildFineIndex(suite.rt, e, tensor, index, ierr));
        assert.equal(await errors(ierr), 0, `fine index errors, ${label}`);
        const fine = await decodeWith(Math.ceil(n / 2), (e, out, err) => decodeHuff8Fine(suite.rt, e, tensor, index, out, 16, 'pairs', err));
        assert.equal(fine.errors, 0, `fine pairs errors, ${label}`);
        assert.deepEqual(new Uint16Array(fine.words.buffer).subarray(0, n), want.h16, `fine pairs, ${label}`);
        const fineF32 = await decodeWith(n, (e, out, err) => decodeHuff8Fine(suite.rt, e, tensor, index, out, 16, 'f32', err));
        assert.equal(fineF32.errors, 0, `fine f32 errors, ${label}`);
        assert.deepEqual(fineF32.words, want.f32, `fine f32, ${label}`);
      }
    });
  }

  it('one-dispatch block decode of several planed tensors, each rung from one plan, bit-exact', async (t) => {
    if (!ready(t)) return;
    const datas = [33000, 9001, 4096].map((n, i) => withSpecials('BF16', n, seed + 7 + i));
    const chunks = [256, 512, 256];
    const all = new Uint16Array(datas.reduce((n, d) => n + d.length, 0));
    datas.reduce((at, d) => (all.set(d, at), at + d.length), 0);
    const lengths = codebookFor(symbolHistogram(all));
    const segs = datas.map((d, i) => planedSegment(d, chunks[i], 64, lengths));
    const starts: number[] = [];
    const total = segs.reduce((at, s) => (starts.push(at), at + s.bytes.length), 0);
    const bytes = new Uint8Array(total);
    segs.forEach((s, i) => bytes.set(s.bytes, starts[i]));
    const seg = suite.rt.upload(bytes);
    const tables = suite.rt.upload(buildDecodeTables(lengths));
    const auxWords = segs.map((s) => fineIndexWords({ chunkSize: s.ref.chunkSize, numElements: s.ref.numElements }));
    const aux = suite.rt.buffer((auxWords.reduce((a, b) => a + b, 0) + 8) * 4);
    poison(suite.rt, aux);
    const err = suite.rt.upload(new Uint32Array(4));
    let auxAt = 8;
    let outAt = 64;
    const items = segs.map((s, i) => {
      const item = { t: { ...tensorOf(s, seg, 'BF16', 3, starts[i]), tables }, index: { aux, wordOffset: auxAt }, outWordOffset: outAt };
      auxAt += auxWords[i];
      outAt += Math.ceil(s.ref.numElements / 2 / 64) * 64 + 64;
      return item;
    });
    suite.rt.run((e) => items.forEach((it) => buildFineIndex(suite.rt, e, it.t, it.index, err)));
    const plan = planBlockDecode(suite.rt, items, 'pairs');
    for (const keep of KEEPS) {
      const out = suite.rt.buffer(outAt * 4);
      poison(suite.rt, out);
      suite.rt.run((e) => decodeBlockFine(suite.rt, e, keep === 3 ? plan : atKeepPlan(plan, keep), out, err));
      assert.equal(await errors(err), 0, `block decode errors, keep ${keep}`);
      for (const [i, it] of items.entries()) {
        const n = segs[i].ref.numElements;
        const got = new Uint16Array(await suite.rt.read(out, Math.ceil(n / 2) * 4, it.outWordOffset * 4)).subarray(0, n);
        assert.deepEqual(got, reference(segs[i], keep, 'BF16').h16, `tensor ${i}, keep ${keep}, seed=${seed}`);
      }
    }
  });

  for (const [n, k, m, chunk] of [
    [70, 1024, 3, 256], // fine fused kernel (k a power-of-two multiple of 32)
    [6, 600, 2, 256], // chunk-level fused kernel and its reduction (k not a multiple of 32)
  ] as const) {
    it(`fused decode + GEMV at each rung matches the reference matmul of the rung's weights: n=${n} k=${k} m=${m}`, async (t) => {
      if (!ready(t)) return;
      // Finite weights (zeros and subnormals included, so the zero fill shows) keep the products comparable.
      const bits = gaussianBf16(n * k, 0.05, seed + n);
      for (let i = 0; i < bits.length; i += 37) bits[i] = [0x0000, 0x8000, 0x0001, 0x807f][(i / 37) % 4];
      const s = planedSegment(bits, chunk, 64);
      const x = randUniform(prng, m * k);
      for (const keep of KEEPS) {
        const tensor = tensorOf(s, suite.rt.upload(scrambled(s, keep, prng)), 'BF16', keep);
        const w = new Float32Array(n * k);
        decodePlanesReference(s.ref, s.lengths, keep, 'BF16', w);
        const want = matmulRef(x, w, m, n, k, null);
        const y = suite.rt.buffer(m * n * 4);
        poison(suite.rt, y);
        const err = suite.rt.upload(new Uint32Array(4));
        if (k % 32 === 0) {
          const aux = suite.rt.buffer((fineIndexWords(tensor) + 8) * 4);
          const index = { aux, wordOffset: 8 };
          suite.rt.run((e) => buildFineIndex(suite.rt, e, tensor, index, err));
          suite.rt.run((e) => fusedHuff8GemvFine(suite.rt, e, { t: tensor, index, x: suite.rt.upload(x), y, bias: null, m, n, k, err }));
        } else {
          const partials = suite.rt.buffer(fusedPartialBytes(tensor, k, m));
          poison(suite.rt, partials);
          suite.rt.run((e) => fusedHuff8Gemv(suite.rt, e, { t: tensor, x: suite.rt.upload(x), y, bias: null, m, n, k, partials, err }));
        }
        assertClose(await suite.rt.readF32(y, m * n), want, `fused keep ${keep} seed=${seed}`, 1e-5, 1e-4);
        assert.equal(await errors(err), 0, `fused errors, keep ${keep}`);
      }
    });
  }

  it('atKeep and atKeepPlan refuse tensors stored without planes', () => {
    const raw = { seg: null, tables: null, dtype: 'BF16', numElements: 1, chunkSize: 256, bitLength: 0, indexOffset: 0, wordsOffset: 0, rawOffset: 0 } as unknown as Huff8Tensor;
    assert.throws(() => atKeep(raw, 2), /planed/);
    assert.throws(() => atKeepPlan({ defines: {} } as never, 1), /planed/);
  });
});
