// Bit-plane split and join of the sign+mantissa byte (format version 2): the reference the native addon is held to.

import { CodecError } from './codec-error.js';
import { decodeReference, f16BitsToF32Bits, joinSymbol, symbolOf } from './reference-codec.js';
import { planeByteLengths, type Huff8Dtype, type PlanedTensor } from './huff8-types.js';

/** Splits raw bytes (sign in bit 7, mantissa bits 6..0) into planes A (bits 7..6), B (5..4), C (3..0). */
export function splitPlanes(raw: Uint8Array, n = raw.length): [Uint8Array, Uint8Array, Uint8Array] {
  const [la, lb, lc] = planeByteLengths(n);
  const a = new Uint8Array(la);
  const b = new Uint8Array(lb);
  const c = new Uint8Array(lc);
  for (let i = 0; i < n; i++) {
    const r = raw[i];
    a[i >>> 2] |= (r >>> 6) << (2 * (i & 3));
    b[i >>> 2] |= ((r >>> 4) & 3) << (2 * (i & 3));
    c[i >>> 1] |= (r & 15) << (4 * (i & 1));
  }
  return [a, b, c];
}

/** Bits filled in for the planes a rung drops (midpoint of the dropped interval; docs/format.md 2.6). */
export function fillBits(keep: number): number {
  return keep >= 3 ? 0 : keep === 2 ? 0x08 : 0x20;
}

/** Whether the exponent inside `symbol` is 0 or all ones (zero/subnormal, inf/NaN): those get zero fill. */
export function isSpecialExponent(symbol: number, dtype: Huff8Dtype): boolean {
  const e = dtype === 'BF16' ? symbol : symbol >>> 3;
  const top = dtype === 'BF16' ? 255 : 31;
  return e === 0 || e === top;
}

/** Raw byte of element `i` as a rung keeping `keep` planes reconstructs it. */
export function rawFromPlanes(planes: readonly Uint8Array[], keep: number, i: number, symbol: number, dtype: Huff8Dtype): number {
  let r = ((planes[0][i >>> 2] >>> (2 * (i & 3))) & 3) << 6;
  if (keep >= 2) r |= ((planes[1][i >>> 2] >>> (2 * (i & 3))) & 3) << 4;
  if (keep >= 3) return r | ((planes[2][i >>> 1] >>> (4 * (i & 1))) & 15);
  return isSpecialExponent(symbol, dtype) ? r : r | fillBits(keep);
}

/**
 * Decodes a planed tensor at a rung keeping `keep` planes: into 16-bit patterns, FP32 values, or
 * (a Uint8Array) the symbols alone. Throws CodecError on a malformed stream.
 */
export function decodePlanesReference(enc: PlanedTensor, codeLengths: Uint8Array, keep: number, dtype: Huff8Dtype, out: Uint16Array | Float32Array | Uint8Array): void {
  const n = enc.numElements;
  if (keep < 1 || keep > 3 || enc.planes.length < keep) throw new CodecError(`rung keeps ${keep} planes, ${enc.planes.length} given`);
  const lens = planeByteLengths(n);
  for (let k = 0; k < keep; k++) if (enc.planes[k].length < lens[k]) throw new CodecError(`plane ${k} holds ${enc.planes[k].length} bytes, needs ${lens[k]}`);
  // The symbol stream is version 1's with every raw byte zero: symbol = (w >> 7) & 0xff.
  const halves = new Uint16Array(n);
  decodeReference({ ...enc, raw: new Uint8Array(n) }, codeLengths, halves);
  const symbols = new Uint8Array(n);
  for (let i = 0; i < n; i++) symbols[i] = symbolOf(halves[i]);
  expandPlanesReference(symbols, enc.planes, keep, dtype, out);
}

/** The compact cached form (symbols + kept planes) widened to 16-bit patterns or FP32, or the symbols copied. */
export function expandPlanesReference(symbols: Uint8Array, planes: readonly Uint8Array[], keep: number, dtype: Huff8Dtype, out: Uint16Array | Float32Array | Uint8Array): void {
  const n = symbols.length;
  if (out instanceof Uint8Array) {
    out.set(symbols);
    return;
  }
  const bits = out instanceof Float32Array ? new Uint32Array(out.buffer, out.byteOffset, out.length) : null;
  for (let i = 0; i < n; i++) {
    const w = joinSymbol(symbols[i], rawFromPlanes(planes, keep, i, symbols[i], dtype));
    if (bits === null) (out as Uint16Array)[i] = w;
    else bits[i] = dtype === 'BF16' ? (w << 16) >>> 0 : f16BitsToF32Bits(w);
  }
}
