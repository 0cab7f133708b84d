// Loads the native huff8 addon through node-gyp-build and checks every argument before it crosses over.

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CodecError } from './codec-error.js';
import { NUM_SYMBOLS } from './huffman.js';
import { numChunksFor, planeByteLengths, wordsForBits, type EncodedTensor, type Huff8Dtype, type PlanedTensor } from './huff8-types.js';

/** What the compiled addon (kernels/codec/src/addon.cc) exports. */
interface NativeAddon {
  decode(
    words: Uint32Array, index: Uint32Array, codeLengths: Uint8Array, numElements: number, chunkSize: number, bitLength: number,
    out: Uint16Array | Float32Array, mode: number, raw: Uint8Array, threads: number, allowFast: boolean,
  ): void;
  decodePlanes(
    words: Uint32Array, index: Uint32Array, codeLengths: Uint8Array, numElements: number, chunkSize: number, bitLength: number,
    out: Uint16Array | Float32Array | Uint8Array, mode: number, planeA: Uint8Array, planeB: Uint8Array, planeC: Uint8Array,
    keepPlanes: number, isF16: boolean, threads: number, allowFast: boolean,
  ): void;
  expandPlanes(
    symbols: Uint8Array, numElements: number, out: Uint16Array | Float32Array, mode: number, planeA: Uint8Array, planeB: Uint8Array,
    planeC: Uint8Array, keepPlanes: number, isF16: boolean, threads: number, allowFast: boolean,
  ): void;
  encode(data: Uint16Array, codeLengths: Uint8Array, chunkSize: number, words: Uint32Array, raw: Uint8Array, index: Uint32Array): number;
  histogram(data: Uint16Array, counts: Float64Array): void;
  crc32c(bytes: Uint8Array, previous: number): number;
  features(): NativeFeatures;
}

export interface NativeFeatures {
  avx2: boolean;
  bmi2: boolean;
  sse42: boolean;
  /** The AVX2/BMI2 decode path is used (unless a call asks for the portable one). */
  fastPath: boolean;
  hardwareThreads: number;
}

let addon: NativeAddon | null = null;
let loadError: unknown = null;

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'binding.gyp'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('binding.gyp not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

function load(): NativeAddon | null {
  if (addon !== null || loadError !== null) return addon;
  try {
    const require = createRequire(import.meta.url);
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeAddon;
    addon = nodeGypBuild(repoRoot());
  } catch (err) {
    loadError = err;
  }
  return addon;
}

export function nativeCodecAvailable(): boolean {
  return load() !== null;
}

/** The addon, or an Error explaining why it did not load (run `npm install` to build it). */
export function nativeAddon(): NativeAddon {
  const a = load();
  if (a === null) throw new Error(`native codec addon not built (npm install builds it): ${String(loadError)}`, { cause: loadError });
  return a;
}

export function nativeFeatures(): NativeFeatures {
  return nativeAddon().features();
}

function checkArray(value: unknown, ctor: Function, name: string): void {
  if (!(value instanceof ctor)) throw new TypeError(`${name} must be a ${ctor.name}`);
}

function checkCount(value: number, name: string, min = 0): void {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
}

function checkEncoded(enc: EncodedTensor): void {
  checkArray(enc.words, Uint32Array, 'words');
  checkArray(enc.raw, Uint8Array, 'raw');
  checkArray(enc.index, Uint32Array, 'index');
  checkCount(enc.numElements, 'numElements');
  checkCount(enc.chunkSize, 'chunkSize', 1);
  checkCount(enc.bitLength, 'bitLength');
  if (enc.raw.length < enc.numElements) throw new RangeError(`raw holds ${enc.raw.length} bytes, needs ${enc.numElements}`);
  const chunks = numChunksFor(enc.numElements, enc.chunkSize);
  if (enc.index.length < 2 * chunks) throw new RangeError(`index holds ${enc.index.length} entries, needs ${2 * chunks}`);
}

function checkCodeLengths(codeLengths: Uint8Array): void {
  checkArray(codeLengths, Uint8Array, 'codeLengths');
  if (codeLengths.length !== NUM_SYMBOLS) throw new RangeError(`codeLengths must hold ${NUM_SYMBOLS} entries`);
}

export interface NativeDecodeOptions {
  /** Needed when `out` is a Float32Array: how to widen. */
  dtype: Huff8Dtype;
  /** Worker threads for this call (default 1). */
  threads?: number;
  /** Force the portable path even where AVX2/BMI2 exist (tests hold both paths to the reference). */
  portable?: boolean;
}

/** Decodes into 16-bit patterns (Uint16Array) or straight to FP32; throws CodecError on a malformed stream. */
export function nativeDecode(enc: EncodedTensor, codeLengths: Uint8Array, out: Uint16Array | Float32Array, options: NativeDecodeOptions): void {
  checkEncoded(enc);
  checkCodeLengths(codeLengths);
  if (!(out instanceof Uint16Array) && !(out instanceof Float32Array)) throw new TypeError('out must be a Uint16Array or a Float32Array');
  if (out.length < enc.numElements) throw new RangeError(`out holds ${out.length} elements, needs ${enc.numElements}`);
  if (options.dtype !== 'BF16' && options.dtype !== 'F16') throw new TypeError(`dtype must be 'BF16' or 'F16'`);
  const threads = options.threads ?? 1;
  checkCount(threads, 'threads', 1);
  const mode = out instanceof Uint16Array ? 0 : options.dtype === 'BF16' ? 1 : 2;
  try {
    nativeAddon().decode(enc.words, enc.index, codeLengths, enc.numElements, enc.chunkSize, enc.bitLength, out, mode, enc.raw, threads, options.portable !== true);
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) throw err;
    throw new CodecError((err as Error).message.replace(/^huff8 decode: /, ''), { cause: err });
  }
}

const NO_PLANE = new Uint8Array(0);

/** Checks the first `keep` planes for `n` elements; returns all three (absent ones empty). */
function checkPlanes(planes: readonly Uint8Array[], keep: number, n: number): [Uint8Array, Uint8Array, Uint8Array] {
  if (!Number.isInteger(keep) || keep < 1 || keep > 3) throw new RangeError(`keepPlanes must be 1, 2 or 3, got ${keep}`);
  if (planes.length < keep) throw new RangeError(`a rung keeping ${keep} planes needs ${keep} planes, got ${planes.length}`);
  const need = planeByteLengths(n);
  for (let k = 0; k < keep; k++) {
    checkArray(planes[k], Uint8Array, `plane ${k}`);
    if (planes[k].length < need[k]) throw new RangeError(`plane ${k} holds ${planes[k].length} bytes, needs ${need[k]}`);
  }
  return [planes[0], keep >= 2 ? planes[1] : NO_PLANE, keep >= 3 ? planes[2] : NO_PLANE];
}

function outMode(out: unknown, dtype: Huff8Dtype, allowSymbols: boolean): number {
  if (out instanceof Uint16Array) return 0;
  if (out instanceof Float32Array) return dtype === 'BF16' ? 1 : 2;
  if (allowSymbols && out instanceof Uint8Array) return 3;
  throw new TypeError(`out must be a Uint16Array or a Float32Array${allowSymbols ? ' or a Uint8Array (symbols)' : ''}`);
}

/**
 * Decodes a planed (version 2) tensor at a rung keeping `keep` planes into 16-bit patterns, FP32,
 * or (a Uint8Array) the symbols alone; throws CodecError on a malformed stream.
 */
export function nativeDecodePlanes(enc: PlanedTensor, codeLengths: Uint8Array, keep: number, out: Uint16Array | Float32Array | Uint8Array, options: NativeDecodeOptions): void {
  checkEncoded({ ...enc, raw: new Uint8Array(0), numElements: 0 });
  checkCount(enc.numElements, 'numElements');
  if (enc.chunkSize % 4 !== 0) throw new RangeError(`chunkSize must be a multiple of 4, got ${enc.chunkSize}`);
  if (enc.index.length < 2 * numChunksFor(enc.numElements, enc.chunkSize)) throw new RangeError('index is shorter than numElements requires');
  checkCodeLengths(codeLengths);
  if (options.dtype !== 'BF16' && options.dtype !== 'F16') throw new TypeError(`dtype must be 'BF16' or 'F16'`);
  const mode = outMode(out, options.dtype, true);
  if (out.length < enc.numElements) throw new RangeError(`out holds ${out.length} elements, needs ${enc.numElements}`);
  const [a, b, c] = checkPlanes(enc.planes, keep, enc.numElements);
  const threads = options.threads ?? 1;
  checkCount(threads, 'threads', 1);
  try {
    nativeAddon().decodePlanes(enc.words, enc.index, codeLengths, enc.numElements, enc.chunkSize, enc.bitLength, out, mode, a, b, c, keep, options.dtype === 'F16', threads, options.portable !== true);
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) throw err;
    throw new CodecError((err as Error).message.replace(/^huff8 decode: /, ''), { cause: err });
  }
}

/** Widens the compact cached form (symbols + the rung's planes) to 16-bit patterns or FP32. */
export function nativeExpandPlanes(symbols: Uint8Array, planes: readonly Uint8Array[], keep: number, out: Uint16Array | Float32Array, options: NativeDecodeOptions): void {
  checkArray(symbols, Uint8Array, 'symbols');
  if (options.dtype !== 'BF16' && options.dtype !== 'F16') throw new TypeError(`dtype must be 'BF16' or 'F16'`);
  const mode = outMode(out, options.dtype, false);
  const n = symbols.length;
  if (out.length < n) throw new RangeError(`out holds ${out.length} elements, needs ${n}`);
  const [a, b, c] = checkPlanes(planes, keep, n);
  const threads = options.threads ?? 1;
  checkCount(threads, 'threads', 1);
  nativeAddon().expandPlanes(symbols, n, out, mode, a, b, c, keep, options.dtype === 'F16', threads, options.portable !== true);
}

/** Encodes `data` with the given codebook; `bitLength` from the caller's histogram saves a pass. */
export function nativeEncode(data: Uint16Array, codeLengths: Uint8Array, chunkSize: number, bitLength: number): EncodedTensor {
  checkArray(data, Uint16Array, 'data');
  checkCodeLengths(codeLengths);
  checkCount(chunkSize, 'chunkSize', 1);
  checkCount(bitLength, 'bitLength');
  const words = new Uint32Array(wordsForBits(bitLength));
  const raw = new Uint8Array(data.length);
  const index = new Uint32Array(2 * numChunksFor(data.length, chunkSize));
  let written: number;
  try {
    written = nativeAddon().encode(data, codeLengths, chunkSize, words, raw, index);
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) throw err;
    throw new CodecError((err as Error).message.replace(/^huff8 encode: /, ''), { cause: err });
  }
  if (written !== bitLength) throw new CodecError(`encoder wrote ${written} bits, histogram predicted ${bitLength}`);
  return { numElements: data.length, chunkSize, bitLength, words, raw, index };
}

export function nativeHistogram(data: Uint16Array, counts: Float64Array): void {
  checkArray(data, Uint16Array, 'data');
  checkArray(counts, Float64Array, 'counts');
  if (counts.length !== NUM_SYMBOLS) throw new RangeError(`counts must hold ${NUM_SYMBOLS} entries`);
  nativeAddon().histogram(data, counts);
}

export function nativeCrc32c(bytes: Uint8Array, previous = 0): number {
  checkArray(bytes, Uint8Array, 'bytes');
  if (!Number.isInteger(previous) || previous < 0 || previous > 0xffffffff) throw new RangeError('previous must be a u32');
  return nativeAddon().crc32c(bytes, previous);
}
