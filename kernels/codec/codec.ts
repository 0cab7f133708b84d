// The huff8 codec entry points the rest of Edgewise uses: native addon when built, TypeScript reference otherwise.

import { huffmanCodeLengths, codedBits, NUM_SYMBOLS } from './huffman.js';
import type { EncodedTensor, Huff8Dtype } from './huff8-types.js';
import { crc32cReference } from './crc32c.js';
import { decodeReference, decodeReferenceToF32, encodeReference, histogramReference } from './reference-codec.js';
import { nativeCodecAvailable, nativeCrc32c, nativeDecode, nativeDecodePlanes, nativeEncode, nativeExpandPlanes, nativeHistogram } from './native.js';
import { decodePlanesReference, expandPlanesReference } from './planes-reference.js';
import type { PlanedTensor } from './huff8-types.js';

export type { EncodedTensor, Huff8Dtype, PlanedTensor } from './huff8-types.js';

/** Adds the symbol histogram of `data` into `counts` (a fresh one when omitted) and returns it. */
export function symbolHistogram(data: Uint16Array, counts = new Float64Array(NUM_SYMBOLS)): Float64Array {
  if (nativeCodecAvailable()) nativeHistogram(data, counts);
  else histogramReference(data, counts);
  return counts;
}

/** The length-limited codebook for a histogram. */
export function codebookFor(counts: Float64Array): Uint8Array {
  return huffmanCodeLengths(counts);
}

/** Encodes one tensor's 16-bit patterns; `counts` is its own histogram when the caller has it. */
export function encodeTensor(data: Uint16Array, codeLengths: Uint8Array, chunkSize: number, counts?: Float64Array): EncodedTensor {
  if (!nativeCodecAvailable()) return encodeReference(data, codeLengths, chunkSize);
  const hist = counts ?? symbolHistogram(data);
  return nativeEncode(data, codeLengths, chunkSize, codedBits(hist, codeLengths));
}

/** Decodes one tensor into `out` (16-bit patterns, or FP32 values); throws CodecError when malformed. */
export function decodeTensor(
  enc: EncodedTensor,
  codeLengths: Uint8Array,
  dtype: Huff8Dtype,
  out: Uint16Array | Float32Array,
  threads = 1,
): void {
  if (nativeCodecAvailable()) {
    nativeDecode(enc, codeLengths, out, { dtype, threads });
  } else if (out instanceof Uint16Array) {
    decodeReference(enc, codeLengths, out);
  } else {
    decodeReferenceToF32(enc, codeLengths, dtype, out);
  }
}

/**
 * Decodes a planed (format version 2) tensor at a rung keeping `keep` planes (3 = lossless) into
 * 16-bit patterns, FP32, or (a Uint8Array) the symbols alone; throws CodecError when malformed.
 */
export function decodePlanes(enc: PlanedTensor, codeLengths: Uint8Array, keep: number, dtype: Huff8Dtype, out: Uint16Array | Float32Array | Uint8Array, threads = 1): void {
  if (nativeCodecAvailable()) nativeDecodePlanes(enc, codeLengths, keep, out, { dtype, threads });
  else decodePlanesReference(enc, codeLengths, keep, dtype, out);
}

/** Widens symbols + the planes a rung keeps (the compact cached form) to 16-bit patterns or FP32. */
export function expandPlanes(symbols: Uint8Array, planes: readonly Uint8Array[], keep: number, dtype: Huff8Dtype, out: Uint16Array | Float32Array, threads = 1): void {
  if (nativeCodecAvailable()) nativeExpandPlanes(symbols, planes, keep, out, { dtype, threads });
  else expandPlanesReference(symbols, planes, keep, dtype, out);
}

export function crc32c(bytes: Uint8Array, previous = 0): number {
  return nativeCodecAvailable() ? nativeCrc32c(bytes, previous) : crc32cReference(bytes, previous);
}
