// Loads the native huff8 addon through node-gyp-build and checks every argument before it crosses over.

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CodecError } from './codec-error.js';
import { NUM_SYMBOLS } from './huffman.js';
import { numChunksFor, wordsForBits, type EncodedTensor, type Huff8Dtype } from './huff8-types.js';

/** What the compiled addon (kernels/codec/src/addon.cc) exports. */
interface NativeAddon {
  decode(
    words: Uint32Array, raw: Uint8Array, index: Uint32Array, codeLengths: Uint8Array, numElements: number,
    chunkSize: number, bitLength: number, out: Uint16Array | Float32Array, mode: number, threads: number, allowFast: boolean,
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
    nativeAddon().decode(enc.words, enc.raw, enc.index, codeLengths, enc.numElements, enc.chunkSize, enc.bitLength, out, mode, threads, options.portable !== true);
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) throw err;
    throw new CodecError((err as Error).message.replace(/^huff8 decode: /, ''), { cause: err });
  }
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
