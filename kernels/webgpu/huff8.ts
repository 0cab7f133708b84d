// Launchers of the WGSL huff8 decoder (to BF16 pairs or f32) and the fused huff8 decode + GEMV, plus their host-side tables.

import { canonicalCodes, MAX_CODE_LENGTH, NUM_SYMBOLS } from '../codec/huffman.js';
import { grid, type KernelRuntime } from './kernel-runtime.js';
import { epilogueDefines, type Epilogue } from './epilogue.js';

const LUT_BITS = 10;
const TABLE_WORDS = 1331; // see kernels/wgsl/huff8-common.wgsl
const DECODE_WG = 256; // invocations (chunks) per workgroup, as in huff8-common.wgsl

/** Decode tables of one codebook (256 code lengths) in the layout huff8-common.wgsl expects. */
export function buildDecodeTables(codeLengths: Uint8Array): Uint32Array {
  const codes = canonicalCodes(codeLengths); // validates the lengths
  const t = new Uint32Array(TABLE_WORDS);
  const lut = 0;
  const limit = 1024;
  const firstCode = 1041;
  const index = 1058;
  const syms = 1075;
  const count = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
  for (let s = 0; s < NUM_SYMBOLS; s++) if (codeLengths[s] > 0) count[codeLengths[s]]++;
  let code = 0;
  let at = 0;
  for (let l = 1; l <= MAX_CODE_LENGTH; l++) {
    t[firstCode + l] = code;
    t[index + l] = at;
    t[limit + l] = (code + count[l]) * 2 ** (MAX_CODE_LENGTH - l);
    at += count[l];
    code = (code + count[l]) * 2;
  }
  const fill = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
  for (let s = 0; s < NUM_SYMBOLS; s++) {
    const l = codeLengths[s];
    if (l === 0) continue;
    t[syms + t[index + l] + fill[l]++] = s;
    if (l <= LUT_BITS) {
      const from = codes[s] << (LUT_BITS - l);
      const to = (codes[s] + 1) << (LUT_BITS - l);
      for (let e = from; e < to; e++) t[lut + e] = (l << 8) | s;
    }
  }
  return t;
}

/** One huff8 tensor resident on the GPU: its arrays live in `seg` (a segment's bytes) at the given offsets. */
export interface Huff8Tensor {
  seg: GPUBuffer;
  /** buildDecodeTables of the segment's codebook, on the GPU. */
  tables: GPUBuffer;
  dtype: 'BF16' | 'F16';
  numElements: number;
  chunkSize: number;
  bitLength: number;
  /** Byte offsets inside `seg` (multiples of 64, as docs/format.md lays them out). */
  indexOffset: number;
  wordsOffset: number;
  /** Interleaved sign+mantissa bytes (version-1 layout); exactly one of rawOffset and planes is set. */
  rawOffset?: number;
  /** Bit-planes (version 2, docs/format.md 2.6) and the precision rung the kernels decode at. */
  planes?: Huff8Planes;
}

/** Where a tensor's bit-planes A, B, C lie in `seg` (byte offsets, 4-byte aligned) and how many a rung reads. */
export interface Huff8Planes {
  offsets: readonly [number, number, number];
  /** Planes read: 3 = lossless (bf16), 2 = e8m3, 1 = e8m1. */
  keep: 1 | 2 | 3;
}

/** Bits the rung keeping `keep` planes fills into the dropped ones (kernels/codec/planes-reference.ts fillBits). */
export function planeFill(keep: 1 | 2 | 3): number {
  return keep === 3 ? 0 : keep === 2 ? 0x08 : 0x20;
}

/** The pipeline defines that select t's raw-byte source: interleaved bytes, or its planes at its rung. */
export function huff8Defines(t: Pick<Huff8Tensor, 'planes'>): Record<string, boolean | number> {
  return t.planes ? { PLANES: true, KEEP: t.planes.keep, FILL: planeFill(t.planes.keep) } : {};
}

/** t read at the rung keeping `keep` planes (t must be planed). */
export function atKeep(t: Huff8Tensor, keep: 1 | 2 | 3): Huff8Tensor {
  if (!t.planes) throw new RangeError('huff8: only a planed tensor (format version 2) has precision rungs');
  return t.planes.keep === keep ? t : { ...t, planes: { offsets: t.planes.offsets, keep } };
}

function numChunks(t: Huff8Tensor): number {
  return Math.ceil(t.numElements / t.chunkSize);
}

/** The extra uniform fields of the fine kernels (see Huff8Params in huff8-common.wgsl). */
export interface FineParams {
  auxWordOffset: number;
  sprLog2: number;
  tiles: number;
  /** Fine decode of a row slice: sub-chunks [sub0, subEnd) only, the first landing at the output offset. */
  sub0?: number;
  subEnd?: number;
}

export function huff8Params(rt: KernelRuntime, t: Huff8Tensor, outWordOffset: number, k = 0, m = 0, slots = 0, fine: FineParams = { auxWordOffset: 0, sprLog2: 0, tiles: 1 }): GPUBuffer {
  return rt.uniform(huff8ParamWords(t, outWordOffset, k, m, slots, fine));
}

/** The 19 u32 fields of Huff8Params (huff8-common.wgsl) for `t`. */
export function huff8ParamWords(t: Huff8Tensor, outWordOffset: number, k = 0, m = 0, slots = 0, fine: FineParams = { auxWordOffset: 0, sprLog2: 0, tiles: 1 }): number[] {
  if ((t.rawOffset === undefined) === (t.planes === undefined)) throw new RangeError('huff8: a tensor needs exactly one of rawOffset and planes');
  const bytes = t.planes ? t.planes.offsets : [t.rawOffset!, 0, 0];
  for (const off of [t.indexOffset, t.wordsOffset, ...bytes]) if (off % 4 !== 0) throw new RangeError(`huff8: offset ${off} not 4-byte aligned`);
  return [
    t.numElements,
    t.chunkSize,
    numChunks(t),
    t.bitLength,
    t.indexOffset / 4,
    t.wordsOffset / 4,
    bytes[0] / 4,
    outWordOffset,
    k,
    m,
    slots,
    t.dtype === 'F16' ? 1 : 0,
    fine.auxWordOffset,
    fine.sprLog2,
    fine.tiles,
    fine.sub0 ?? 0,
    fine.subEnd ?? 0xffffffff,
    bytes[1] / 4,
    bytes[2] / 4,
  ];
}

/**
 * Decodes `t` into `out` from u32 `outWordOffset` (a multiple of 4): 16-bit patterns packed in
 * pairs ('pairs', the GEMV kernels' BF16 input) or f32 values. The last 16 bytes are written
 * whole (zero padding past the tensor's end), so leave the output's end 16-byte aligned.
 * Malformed chunks add to `err[0]`.
 */
export function decodeHuff8(rt: KernelRuntime, enc: GPUCommandEncoder, t: Huff8Tensor, out: GPUBuffer, outWordOffset: number, mode: 'pairs' | 'f32', err: GPUBuffer): void {
  if (outWordOffset % 4 !== 0) throw new RangeError(`huff8 decode: output offset ${outWordOffset} words is not 16-byte aligned`);
  const pipe = rt.pipeline('huff8-decode', { OUT_F32: mode === 'f32', ...huff8Defines(t) });
  rt.dispatch(enc, pipe, [huff8Params(rt, t, outWordOffset), t.seg, t.tables, out, err], grid(Math.ceil(numChunks(t) / DECODE_WG)));
}

/** Partial-sum slots per chunk: the most rows of length k one chunk can touch. */
export function fusedSlots(chunkSize: number, k: number): number {
  return Math.floor((chunkSize - 1 + k - 1) / k) + 1;
}

/** Bytes of the partial-sum buffer the fused GEMV of `t` with rows of length k needs for up to `maxRows` rows of x. */
export function fusedPartialBytes(t: Pick<Huff8Tensor, 'numElements' | 'chunkSize'>, k: number, maxRows: number): number {
  return Math.ceil(t.numElements / t.chunkSize) * fusedSlots(t.chunkSize, k) * maxRows * 4;
}

/** Rows of x the fused decode + GEMV handles per dispatch. */
export const FUSED_MAX_ROWS = 8;

/**
 * y[m, n] = sum_k x[m, k] * W[n, k] (+ bias) with W = decode(t), for m <= FUSED_MAX_ROWS: every
 * chunk of W is read compressed once and decoded in registers (no decoded copy in memory).
 */
export function fusedHuff8Gemv(
  rt: KernelRuntime,
  enc: GPUCommandEncoder,
  a: { t: Huff8Tensor; x: GPUBuffer; y: GPUBuffer; bias: GPUBuffer | null; m: number; n: number; k: number; partials: GPUBuffer; err: GPUBuffer } & Epilogue,
): void {
  if (a.m > FUSED_MAX_ROWS) throw new RangeError(`fused huff8 GEMV takes at most ${FUSED_MAX_ROWS} rows, got ${a.m}`);
  if (a.n * a.k !== a.t.numElements) throw new RangeError(`fused huff8 GEMV: ${a.n}x${a.k} does not match ${a.t.numElements} elements`);
  const slots = fusedSlots(a.t.chunkSize, a.k);
  const mb = a.m;
  const gemv = rt.pipeline('huff8-gemv', { MB: mb, ...huff8Defines(a.t) });
  rt.dispatch(enc, gemv, [huff8Params(rt, a.t, 0, a.k, a.m, slots), a.t.seg, a.t.tables, a.partials, a.err, a.x], grid(Math.ceil(numChunks(a.t) / DECODE_WG)));
  const bindings = [rt.uniform([a.n, a.k, a.m, a.t.chunkSize, slots, 0, 0, 0]), a.partials, a.y];
  if (a.bias) bindings.push(a.bias);
  const reduce = rt.pipeline('huff8-reduce', { MB: mb, HAS_BIAS: a.bias !== null, ...epilogueDefines(a, bindings) });
  rt.dispatch(enc, reduce, bindings, grid(Math.ceil(a.n / 64)));
}
