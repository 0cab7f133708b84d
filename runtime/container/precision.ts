// The precision rungs one .ewm store serves: which bit-planes each reads and what it costs per weight.

import { InvalidRequestError } from '../errors.js';

export type PrecisionName = 'bf16' | 'e8m3' | 'e8m1';

export interface PrecisionRung {
  name: PrecisionName;
  /** Segment parts / bit-planes read: 3 = all (lossless), 2 = A+B, 1 = A. */
  planes: number;
  /** Mantissa bits kept of a BF16 weight (of an F16 weight: 3 more). */
  mantissaBits: number;
  lossless: boolean;
}

/**
 * NOTE: rungs, highest first. Every rung reads the Huffman-coded exponents and sign; they differ
 * in how many mantissa planes they read (A = sign + m6, B = m5 m4, C = m3..m0): 7, 3 or 1
 * mantissa bits. One store, no second copy: a lower rung reads a prefix of each segment.
 */
export const PRECISIONS: readonly PrecisionRung[] = [
  { name: 'bf16', planes: 3, mantissaBits: 7, lossless: true },
  { name: 'e8m3', planes: 2, mantissaBits: 3, lossless: false },
  { name: 'e8m1', planes: 1, mantissaBits: 1, lossless: false },
];

export const LOSSLESS: PrecisionName = 'bf16';

export function isPrecisionName(name: unknown): name is PrecisionName {
  return PRECISIONS.some((r) => r.name === name);
}

/** The rung called `name`; throws InvalidRequestError naming the rungs that exist. */
export function precisionRung(name: string, param = 'precision'): PrecisionRung {
  const r = PRECISIONS.find((p) => p.name === name);
  if (r === undefined) throw new InvalidRequestError(`unknown precision "${name}"; rungs: ${PRECISIONS.map((p) => p.name).join(', ')}`, param);
  return r;
}

/**
 * NOTE: vectors (rank-1 tensors: norms, biases) are under 0.1% of the weights and scale whole
 * channels, so they are stored with all three planes in part 0 and read losslessly at every rung.
 */
export function alwaysLossless(t: { shape: readonly number[] }): boolean {
  return t.shape.length <= 1;
}

/** Planes a rung decodes of tensor `t`. */
export function planesFor(t: { shape: readonly number[] }, rung: PrecisionRung): number {
  return alwaysLossless(t) ? 3 : rung.planes;
}

/** Rung order index: 0 = lossless, higher = coarser. */
export function precisionLevel(name: PrecisionName): number {
  return PRECISIONS.findIndex((p) => p.name === name);
}

/**
 * Bytes of one decoded block as the cache holds it at a rung: lossless as FP32 (the runner's
 * form, so hits cost nothing), lower rungs compactly as 1 symbol byte + the kept planes
 * (2 bits each for A and B) per weight, widened to FP32 right before the block runs.
 */
export function cachedBytesPerWeight(rung: PrecisionRung): number {
  return rung.lossless ? 4 : 1 + rung.planes / 4;
}
