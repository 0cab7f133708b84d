// Launchers of the fine-grained huff8 kernels: the load-time fine index (bit offset of every 32nd code), the decoder
// that runs one invocation per 32 weights, and the one-dispatch fused decode + GEMV built on it.

import { grid, type KernelRuntime } from './kernel-runtime.js';
import { huff8Defines, huff8ParamWords, huff8Params, type Huff8Tensor } from './huff8.js';
import { epilogueDefines, type Epilogue } from './epilogue.js';

/** Codes per sub-chunk (SUB in huff8-common.wgsl). */
export const SUB_CODES = 32;
const WG = 256; // DECODE_WG
/** Rows of x the fine fused GEMV handles per dispatch (as the chunk-level one). */
export const FINE_FUSED_MAX_ROWS = 8;

/**
 * Whether `t` can have a fine index: 16-bit offsets from the chunk start must fit (chunks of at
 * most 4096 codes of at most 16 bits) and a chunk must hold an even number of sub-chunks.
 */
export function fineIndexSupported(t: Pick<Huff8Tensor, 'chunkSize'>): boolean {
  return t.chunkSize % (2 * SUB_CODES) === 0 && t.chunkSize <= 4096;
}

/** u32 words of `t`'s fine index: 16 bits per sub-chunk (0.5 bit per weight). */
export function fineIndexWords(t: Pick<Huff8Tensor, 'chunkSize' | 'numElements'>): number {
  return Math.ceil(t.numElements / t.chunkSize) * (t.chunkSize / SUB_CODES / 2);
}

/** A tensor's fine index on the GPU: `aux` from u32 `wordOffset` (fineIndexWords long). */
export interface FineIndex {
  aux: GPUBuffer;
  wordOffset: number;
}

/**
 * Tiles of 256 sub-chunks (decode) or of row groups (GEMV) per workgroup. NOTE: more tiles amortise
 * the 5.3 KB table load of each workgroup, fewer keep enough workgroups to fill a large GPU; 2048
 * workgroups is ~2 waves of 256-invocation groups on a 132-SM H100.
 */
function tilesFor(totalTiles: number): number {
  return Math.min(8, Math.max(1, Math.floor(totalTiles / 2048)));
}

/** Records the one-time pass that writes `t`'s fine index; malformed chunks add to `err[0]`. */
export function buildFineIndex(rt: KernelRuntime, enc: GPUCommandEncoder, t: Huff8Tensor, index: FineIndex, err: GPUBuffer): void {
  if (!fineIndexSupported(t)) throw new RangeError(`huff8 fine index: chunk size ${t.chunkSize} unsupported`);
  const chunks = Math.ceil(t.numElements / t.chunkSize);
  const pipe = rt.pipeline('huff8-index');
  const p = huff8Params(rt, t, 0, 0, 0, 0, { auxWordOffset: index.wordOffset, sprLog2: 0, tiles: 1 });
  rt.dispatch(enc, pipe, [p, t.seg, t.tables, index.aux, err], grid(Math.ceil(chunks / WG)));
}

/**
 * As decodeHuff8 (same output layout and padding), one invocation per 32 weights through the fine
 * index; with `elements`, only elements [first, end) (first a multiple of 32), written from the output offset on
 * (whole sub-chunks: leave room up to the next multiple of 32 elements).
 */
export function decodeHuff8Fine(
  rt: KernelRuntime,
  enc: GPUCommandEncoder,
  t: Huff8Tensor,
  index: FineIndex,
  out: GPUBuffer,
  outWordOffset: number,
  mode: 'pairs' | 'f32',
  err: GPUBuffer,
  elements?: { first: number; end: number },
): void {
  if (outWordOffset % 4 !== 0) throw new RangeError(`huff8 decode: output offset ${outWordOffset} words is not 16-byte aligned`);
  const first = elements?.first ?? 0;
  const end = Math.min(elements?.end ?? t.numElements, t.numElements);
  if (first % SUB_CODES !== 0 || first >= end) throw new RangeError(`huff8 decode: element range ${first}..${end} must start at a multiple of ${SUB_CODES}`);
  const sub0 = first / SUB_CODES;
  const subEnd = Math.ceil(end / SUB_CODES);
  const totalTiles = Math.ceil((subEnd - sub0) / WG);
  const tiles = tilesFor(totalTiles);
  const pipe = rt.pipeline('huff8-decode-fine', { OUT_F32: mode === 'f32', ...huff8Defines(t) });
  const p = huff8Params(rt, t, outWordOffset, 0, 0, 0, { auxWordOffset: index.wordOffset, sprLog2: 0, tiles, sub0, subEnd });
  rt.dispatch(enc, pipe, [p, t.seg, t.tables, out, err, index.aux], grid(Math.ceil(totalTiles / tiles)));
}

/** u32 words per BlockMat (huff8-decode-fine.wgsl, BLOCK): the first sub-chunk, then the 19 Huff8Params fields. */
const BLOCK_MAT_WORDS = 20;

/**
 * Several tensors (one block's matrices, sharing `seg`, `tables` and `aux`) decoded by ONE dispatch of the fine
 * decoder, each into `out` from its own word offset; planned once at load (planBlockDecode), recorded per step.
 */
export interface FineBlockDecode {
  mats: GPUBuffer; // BlockMat table, uploaded once
  seg: GPUBuffer;
  tables: GPUBuffer;
  aux: GPUBuffer;
  numMats: number;
  totalSubs: number;
  mode: 'pairs' | 'f32';
  /** The raw-byte source and rung of every tensor (huff8Defines); a planed plan runs at any rung through atKeepPlan. */
  defines: Record<string, boolean | number>;
}

/** A planned block decode of planed tensors, at the rung keeping `keep` planes (same table: plane offsets do not depend on the rung). */
export function atKeepPlan(plan: FineBlockDecode, keep: 1 | 2 | 3): FineBlockDecode {
  if (!plan.defines.PLANES) throw new RangeError('huff8 block decode: only planed tensors have precision rungs');
  return { ...plan, defines: huff8Defines({ planes: { offsets: [0, 0, 0], keep } }) };
}

/**
 * Plans the one-dispatch decode of `items` (each with a fine index and a 16-byte-aligned output
 * offset). NOTE: one dispatch per block instead of one per matrix: at batch 1 a dispatch and its
 * barrier cost about as much as a small product, and a block has 7 matrices.
 */
export function planBlockDecode(rt: KernelRuntime, items: { t: Huff8Tensor; index: FineIndex; outWordOffset: number }[], mode: 'pairs' | 'f32', label?: string): FineBlockDecode {
  if (items.length === 0) throw new RangeError('huff8 block decode: no tensors');
  const { seg, tables } = items[0].t;
  const aux = items[0].index.aux;
  const table = new Uint32Array(items.length * BLOCK_MAT_WORDS);
  const defines = huff8Defines(items[0].t);
  let subs = 0;
  items.forEach(({ t, index, outWordOffset }, i) => {
    if (t.seg !== seg || t.tables !== tables || index.aux !== aux) throw new RangeError('huff8 block decode: tensors must share segment, tables and fine index');
    if (!fineIndexSupported(t)) throw new RangeError(`huff8 block decode: chunk size ${t.chunkSize} unsupported`);
    if (outWordOffset % 4 !== 0) throw new RangeError(`huff8 block decode: output offset ${outWordOffset} words is not 16-byte aligned`);
    if (JSON.stringify(huff8Defines(t)) !== JSON.stringify(defines)) throw new RangeError('huff8 block decode: tensors must share one layout and rung');
    table[i * BLOCK_MAT_WORDS] = subs;
    table.set(huff8ParamWords(t, outWordOffset, 0, 0, 0, { auxWordOffset: index.wordOffset, sprLog2: 0, tiles: 1 }), i * BLOCK_MAT_WORDS + 1);
    subs += Math.ceil(t.numElements / SUB_CODES);
  });
  return { mats: rt.upload(table, label), seg, tables, aux, numMats: items.length, totalSubs: subs, mode, defines };
}

/** Records the planned block decode: one dispatch for all its tensors; malformed sub-chunks add to `err[0]`. */
export function decodeBlockFine(rt: KernelRuntime, enc: GPUCommandEncoder, plan: FineBlockDecode, out: GPUBuffer, err: GPUBuffer): void {
  const totalTiles = Math.ceil(plan.totalSubs / WG);
  const tiles = tilesFor(totalTiles);
  const pipe = rt.pipeline('huff8-decode-fine', { OUT_F32: plan.mode === 'f32', BLOCK: true, ...plan.defines });
  const p = rt.uniform([plan.numMats, tiles, plan.totalSubs, 0]);
  rt.dispatch(enc, pipe, [p, plan.seg, plan.tables, out, err, plan.aux, plan.mats], grid(Math.ceil(totalTiles / tiles)));
}

/** Whether the fine fused GEMV takes W = t as [n, k]: BF16, k a power-of-two multiple of 32. */
export function fineFusedSupported(t: Pick<Huff8Tensor, 'dtype' | 'chunkSize'>, k: number): boolean {
  const spr = k / SUB_CODES;
  return t.dtype === 'BF16' && fineIndexSupported(t) && Number.isInteger(spr) && (spr & (spr - 1)) === 0;
}

/** y[m, n] = (or an epilogue of) sum_k x[m, k] * W[n, k] (+ bias), W = decode(t) in registers, in one dispatch (m <= FINE_FUSED_MAX_ROWS). */
export function fusedHuff8GemvFine(
  rt: KernelRuntime,
  enc: GPUCommandEncoder,
  a: { t: Huff8Tensor; index: FineIndex; x: GPUBuffer; y: GPUBuffer; bias: GPUBuffer | null; m: number; n: number; k: number; err: GPUBuffer } & Epilogue,
): void {
  if (a.m > FINE_FUSED_MAX_ROWS) throw new RangeError(`fused huff8 GEMV takes at most ${FINE_FUSED_MAX_ROWS} rows, got ${a.m}`);
  if (a.n * a.k !== a.t.numElements) throw new RangeError(`fused huff8 GEMV: ${a.n}x${a.k} does not match ${a.t.numElements} elements`);
  if (!fineFusedSupported(a.t, a.k)) throw new RangeError(`fine fused huff8 GEMV: k=${a.k} / chunk ${a.t.chunkSize} / ${a.t.dtype} unsupported`);
  const spr = a.k / SUB_CODES;
  const rowsPerTile = WG / Math.min(spr, WG);
  const totalTiles = Math.ceil(a.n / rowsPerTile);
  const tiles = tilesFor(totalTiles);
  const p = huff8Params(rt, a.t, 0, a.k, a.m, 0, { auxWordOffset: a.index.wordOffset, sprLog2: Math.log2(spr), tiles });
  const bindings = [p, a.t.seg, a.t.tables, a.y, a.err, a.index.aux, a.x];
  if (a.bias) bindings.push(a.bias);
  const pipe = rt.pipeline('huff8-gemv-fine', { MB: a.m, HAS_BIAS: a.bias !== null, ...epilogueDefines(a, bindings), ...huff8Defines(a.t) });
  rt.dispatch(enc, pipe, bindings, grid(Math.ceil(totalTiles / tiles)));
}
