// A huff8-compressed matmul weight on the GPU and how a product reaches it: fused decode + GEMV for small batches,
// else a just-in-time decode into a scratch buffer right before the dense kernel.

import type { GpuWeight } from './gpu-weight.js';
import type { Epilogue } from './epilogue.js';
import type { KernelRuntime } from './kernel-runtime.js';
import { decodeHuff8, fusedHuff8Gemv, FUSED_MAX_ROWS, type Huff8Tensor } from './huff8.js';
import { decodeHuff8Fine, fineFusedSupported, fusedHuff8GemvFine, SUB_CODES, type FineIndex } from './huff8-fine.js';

export interface CompressedWeight {
  format: 'huff8';
  tensor: Huff8Tensor;
  /** The tensor's fine index (null when its chunk size allows none): decode and fused GEMV then run per 32 weights. */
  fine: FineIndex | null;
  /** 'fused': products of at most FUSED_MAX_ROWS rows read the compressed stream directly; 'jit': always decode first. */
  mode: 'jit' | 'fused';
  /**
   * Where a just-in-time decode lands, shared by every matrix of the model. NOTE: each matrix is
   * decoded right before its own product (not a whole block up front), so the decoded bytes are
   * read back while they may still sit in the GPU's L2 cache, and the scratch is one matrix large.
   */
  scratch: GPUBuffer;
  /** Just-in-time decode of small batches goes in row slices of at most this many decoded bytes (0: whole matrices). */
  sliceBytes: number;
  /** Partial sums of the chunk-level fused kernel (used only without a fine index). */
  partials: GPUBuffer;
  /** Error counter the decoders add to on malformed streams. */
  err: GPUBuffer;
}

/** Bytes the just-in-time decode of `t` writes (BF16 pairs, or f32 for F16), padded to 16. */
export function decodedBytes(t: Pick<Huff8Tensor, 'dtype' | 'numElements'>): number {
  const words = t.dtype === 'F16' ? t.numElements : Math.ceil(t.numElements / 2);
  return Math.ceil((words * 4) / 16) * 16;
}

/**
 * The row slices a just-in-time product of w ([n, k]) decodes one after another: the whole matrix,
 * or (GEMV with a fine index, k a multiple of 32) slices of at most w.sliceBytes decoded bytes.
 */
export function jitSlices(w: CompressedWeight, n: number, k: number, gemv: boolean): { first: number; count: number }[] {
  const rowBytes = k * (w.tensor.dtype === 'F16' ? 4 : 2);
  const perSlice = Math.max(1, Math.floor(w.sliceBytes / rowBytes));
  if (!gemv || !w.fine || w.sliceBytes <= 0 || k % SUB_CODES !== 0 || perSlice >= n) return [{ first: 0, count: n }];
  const slices = [];
  for (let first = 0; first < n; first += perSlice) slices.push({ first, count: Math.min(perSlice, n - first) });
  return slices;
}

/**
 * Records the just-in-time decode of w into its scratch and returns the dense weight the product
 * reads: the whole matrix, or rows [first, first + count) of [n, k] (a fine index is needed then).
 */
export function decodeForProduct(rt: KernelRuntime, enc: GPUCommandEncoder, w: CompressedWeight, k: number, rows?: { first: number; count: number }): GpuWeight {
  const f32 = w.tensor.dtype === 'F16'; // F16 widens to f32 exactly; BF16 stays packed pairs
  const mode = f32 ? 'f32' : 'pairs';
  const elements = rows ? { first: rows.first * k, end: (rows.first + rows.count) * k } : { first: 0, end: w.tensor.numElements };
  if (w.fine) decodeHuff8Fine(rt, enc, w.tensor, w.fine, w.scratch, 0, mode, w.err, elements);
  else if (rows) throw new RangeError('huff8: row slices need the fine index');
  else decodeHuff8(rt, enc, w.tensor, w.scratch, 0, mode, w.err);
  return { buffer: w.scratch, format: f32 ? 'f32' : 'bf16', offset: 0, size: decodedBytes({ dtype: w.tensor.dtype, numElements: elements.end - elements.first }) };
}

/**
 * y = x · Wᵀ (+ bias) straight from the compressed stream when w is fused and the batch is small
 * (BF16 only); returns false when the caller must decode first (decodeForProduct).
 */
export function tryFusedProduct(
  rt: KernelRuntime,
  enc: GPUCommandEncoder,
  w: CompressedWeight,
  a: { x: GPUBuffer; y: GPUBuffer; bias: GPUBuffer | null; m: number; n: number; k: number } & Epilogue,
): boolean {
  if (w.mode !== 'fused' || a.m > FUSED_MAX_ROWS || w.tensor.dtype !== 'BF16') return false;
  if (w.fine && fineFusedSupported(w.tensor, a.k)) fusedHuff8GemvFine(rt, enc, { ...a, t: w.tensor, index: w.fine, err: w.err });
  else fusedHuff8Gemv(rt, enc, { ...a, t: w.tensor, partials: w.partials, err: w.err });
  return true;
}
