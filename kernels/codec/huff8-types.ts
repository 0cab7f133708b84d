// Shapes shared by the huff8 encoders and decoders (TypeScript reference and native addon).

/** One tensor coded with huff8: see docs/format.md 1.4 and 2. */
export interface EncodedTensor {
  numElements: number;
  /** Elements per chunk (power of two). */
  chunkSize: number;
  /** Meaningful bits in `words`. */
  bitLength: number;
  /** The bitstream: MSB-first u32 words, ceil(bitLength / 32) + 2 of them. */
  words: Uint32Array;
  /** Sign + low 7 bits of each element. */
  raw: Uint8Array;
  /** Per chunk: bit offset of its first code, index of its first element. */
  index: Uint32Array;
}

/** The 16-bit float formats huff8 codes; they share the split (docs/format.md 2.1). */
export type Huff8Dtype = 'BF16' | 'F16';

/** Number of u32 words a stream of `bitLength` bits occupies, padding included. */
export function wordsForBits(bitLength: number): number {
  return Math.ceil(bitLength / 32) + 2;
}

export function numChunksFor(numElements: number, chunkSize: number): number {
  return Math.ceil(numElements / chunkSize);
}

/**
 * A huff8 tensor of format version 2: the same exponent stream and index, with the sign+mantissa
 * byte split into bit-planes A (sign, m6), B (m5 m4), C (m3..m0) (docs/format.md 2.6). A reader
 * may hold only the first `planes.length` of them (a lower precision rung).
 */
export interface PlanedTensor {
  numElements: number;
  chunkSize: number;
  bitLength: number;
  words: Uint32Array;
  index: Uint32Array;
  /** Planes A, B, C in that order; a rung that keeps k planes needs only the first k. */
  planes: Uint8Array[];
}

export const NUM_PLANES = 3;

/** Bytes of planes A, B, C for `n` elements. */
export function planeByteLengths(n: number): [number, number, number] {
  return [Math.ceil(n / 4), Math.ceil(n / 4), Math.ceil(n / 2)];
}
