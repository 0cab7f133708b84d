// Plain TypeScript huff8 encoder and decoder: the reference the native addon is tested against.

import { CodecError } from './codec-error.js';
import { canonicalCodes, codeLengthsProblem, codedBits, MAX_CODE_LENGTH, NUM_SYMBOLS } from './huffman.js';
import { numChunksFor, wordsForBits, type EncodedTensor, type Huff8Dtype } from './huff8-types.js';

export function symbolOf(w: number): number {
  return (w >>> 7) & 0xff;
}

export function rawOf(w: number): number {
  return ((w >>> 8) & 0x80) | (w & 0x7f);
}

export function joinSymbol(symbol: number, raw: number): number {
  return ((raw & 0x80) << 8) | (symbol << 7) | (raw & 0x7f);
}

/** Adds the huff8 symbol histogram of `data` into `counts` (256 entries). */
export function histogramReference(data: Uint16Array, counts: Float64Array): void {
  for (let i = 0; i < data.length; i++) counts[symbolOf(data[i])]++;
}

export function encodeReference(data: Uint16Array, codeLengths: Uint8Array, chunkSize: number): EncodedTensor {
  const codes = canonicalCodes(codeLengths);
  const counts = new Float64Array(NUM_SYMBOLS);
  histogramReference(data, counts);
  const bitLength = codedBits(counts, codeLengths);
  const words = new Uint32Array(wordsForBits(bitLength));
  const raw = new Uint8Array(data.length);
  const index = new Uint32Array(2 * numChunksFor(data.length, chunkSize));
  let pos = 0;
  for (let i = 0; i < data.length; i++) {
    if (i % chunkSize === 0) {
      index[2 * (i / chunkSize)] = pos;
      index[2 * (i / chunkSize) + 1] = i;
    }
    const s = symbolOf(data[i]);
    raw[i] = rawOf(data[i]);
    const len = codeLengths[s];
    for (let b = len - 1; b >= 0; b--) {
      if ((codes[s] >>> b) & 1) words[pos >>> 5] |= 1 << (31 - (pos & 31));
      pos++;
    }
  }
  return { numElements: data.length, chunkSize, bitLength, words, raw, index };
}

/** Decodes to 16-bit patterns, bit by bit with the canonical first-code rule; throws CodecError. */
export function decodeReference(enc: EncodedTensor, codeLengths: Uint8Array, out: Uint16Array): void {
  const problem = codeLengthsProblem(codeLengths);
  if (problem !== null) throw new CodecError(problem);
  const count = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
  for (let s = 0; s < NUM_SYMBOLS; s++) count[codeLengths[s]]++;
  count[0] = 0;
  const sorted: number[] = [];
  for (let l = 1; l <= MAX_CODE_LENGTH; l++) for (let s = 0; s < NUM_SYMBOLS; s++) if (codeLengths[s] === l) sorted.push(s);
  const { numElements: n, chunkSize, bitLength, words, raw, index } = enc;
  const numChunks = numChunksFor(n, chunkSize);
  if (words.length < 2 || bitLength > 32 * (words.length - 2)) throw new CodecError('bit length exceeds the stream\'s words');
  if (index.length < 2 * numChunks || raw.length < n || out.length < n) throw new CodecError('index, raw or output too short');
  const bitAt = (p: number): number => (words[p >>> 5] >>> (31 - (p & 31))) & 1;
  for (let c = 0; c < numChunks; c++) {
    let pos = index[2 * c];
    const end = c + 1 < numChunks ? index[2 * c + 2] : bitLength;
    if (index[2 * c + 1] !== c * chunkSize) throw new CodecError(`chunk ${c}: index names the wrong first element`);
    if (pos > end || end > bitLength) throw new CodecError(`chunk ${c}: bit offsets out of order or out of range`);
    const last = Math.min(n, (c + 1) * chunkSize);
    for (let i = c * chunkSize; i < last; i++) {
      let code = 0;
      let first = 0;
      let offset = 0;
      let symbol = -1;
      for (let l = 1; l <= MAX_CODE_LENGTH; l++) {
        if (pos >= end) throw new CodecError(`chunk ${c}: invalid code or stream overruns its chunk`);
        code = code * 2 + bitAt(pos++);
        if (code - first < count[l]) {
          symbol = sorted[offset + code - first];
          break;
        }
        offset += count[l];
        first = (first + count[l]) * 2;
      }
      if (symbol < 0) throw new CodecError(`chunk ${c}: invalid code or stream overruns its chunk`);
      out[i] = joinSymbol(symbol, raw[i]);
    }
    if (pos !== end) throw new CodecError(`chunk ${c}: stream does not end at the next chunk's offset`);
  }
}

/** FP16 bit pattern to FP32 bit pattern, by explicit normalization (docs/format.md 2.5). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  let e = 113;
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

/** Decodes straight to FP32 (as bits into `out`'s buffer): BF16 shifts, FP16 converts. */
export function decodeReferenceToF32(enc: EncodedTensor, codeLengths: Uint8Array, dtype: Huff8Dtype, out: Float32Array): void {
  const halves = new Uint16Array(enc.numElements);
  decodeReference(enc, codeLengths, halves);
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < enc.numElements; i++) bits[i] = dtype === 'BF16' ? (halves[i] << 16) >>> 0 : f16BitsToF32Bits(halves[i]);
}
