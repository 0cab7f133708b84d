// Structural checks of decoded .ewm metadata, so that segment and tensor ranges can be trusted afterwards.

import { isWeightDtype, DTYPE_BYTES } from '../model/dtype.js';
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from './ewm-format.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Why `meta` is not valid version-1 metadata, or null. Replaces each segment's `codeLengths`
 * binary with its own Uint8Array copy.
 */
export function validateMetadata(meta: unknown, metadataOffset: number): string | null {
  if (!isObj(meta)) return 'metadata is not a map';
  if (meta.format !== 'edgewise-ewm') return 'format field is not "edgewise-ewm"';
  if (!isObj(meta.config)) return 'config is missing';
  if (!isObj(meta.files) || !Object.values(meta.files).every((v) => typeof v === 'string')) return 'files must map names to text';
  if (meta.chatTemplate !== null && typeof meta.chatTemplate !== 'string') return 'chatTemplate must be text or nil';
  const codec = meta.codec;
  if (!isObj(codec) || codec.name !== 'huff8' || codec.version !== 1) return 'codec must be huff8 version 1';
  if (!Array.isArray(meta.segments) || !Array.isArray(meta.tensors) || !Array.isArray(meta.safetensors)) return 'segments, tensors and safetensors must be arrays';
  let cursor = 64;
  for (const [i, seg] of meta.segments.entries()) {
    if (!isObj(seg) || typeof seg.name !== 'string') return `segment ${i} is malformed`;
    const { offset, length, crc32c } = seg;
    if (!isCount(offset) || !isCount(length) || offset % 64 !== 0 || length % 64 !== 0) return `segment ${seg.name}: offset and length must be multiples of 64`;
    if (offset < cursor || offset + length > metadataOffset) return `segment ${seg.name}: byte range overlaps another or runs past the segments area`;
    cursor = offset + length;
    if (!isCount(crc32c) || crc32c > 0xffffffff) return `segment ${seg.name}: bad checksum field`;
    if (seg.codeLengths !== null) {
      if (!(seg.codeLengths instanceof Uint8Array) || seg.codeLengths.length !== 256) return `segment ${seg.name}: codeLengths must be 256 bytes`;
      seg.codeLengths = new Uint8Array(seg.codeLengths);
    }
  }
  const names = new Set<string>();
  for (const [i, t] of meta.tensors.entries()) {
    if (!isObj(t) || typeof t.name !== 'string') return `tensor ${i} is malformed`;
    const problem = tensorProblem(t, meta.segments as Obj[]);
    if (problem !== null) return `tensor ${t.name}: ${problem}`;
    if (names.has(t.name)) return `tensor ${t.name} listed twice`;
    names.add(t.name);
  }
  for (const f of meta.safetensors) {
    if (!isObj(f) || typeof f.file !== 'string' || !Array.isArray(f.tensors) || !f.tensors.every((n) => typeof n === 'string' && names.has(n))) {
      return 'safetensors file list names unknown tensors';
    }
    if (f.metadata !== null && !(isObj(f.metadata) && Object.values(f.metadata).every((v) => typeof v === 'string'))) {
      return `safetensors file ${f.file}: metadata must map names to text`;
    }
  }
  return null;
}

function tensorProblem(t: Obj, segments: Obj[]): string | null {
  if (!isWeightDtype(t.dtype) || !isWeightDtype(t.sourceDtype)) return 'unknown dtype';
  if (!Array.isArray(t.shape) || !t.shape.every(isCount)) return 'bad shape';
  const elements = (t.shape as number[]).reduce((a, d) => a * d, 1);
  if (!isCount(t.segment) || t.segment >= segments.length) return 'segment index out of range';
  const segLength = segments[t.segment].length as number;
  const inside = (offset: unknown, bytes: number): boolean => isCount(offset) && offset % 64 === 0 && offset + bytes <= segLength;
  if (t.codec === 'raw') {
    if (!isCount(t.byteLength) || t.byteLength !== elements * DTYPE_BYTES[t.dtype]) return 'raw byte length does not match shape';
    return inside(t.dataOffset, t.byteLength) ? null : 'raw data outside its segment';
  }
  if (t.codec !== 'huff8') return 'unknown codec';
  if (t.dtype !== 'BF16' && t.dtype !== 'F16') return 'huff8 needs a 16-bit dtype';
  if (segments[t.segment].codeLengths === null) return 'segment has no codebook';
  const { numElements: n, chunkSize: c, numWords: w, bitLength: bits } = t;
  if (!isCount(n) || n !== elements) return 'numElements does not match shape';
  if (!isCount(c) || c < MIN_CHUNK_SIZE || c > MAX_CHUNK_SIZE || (c & (c - 1)) !== 0) return 'chunk size must be a power of two in 256..65536';
  if (!isCount(w) || w < 2 || !isCount(bits) || bits > 32 * (w - 2)) return 'bit length does not fit the words';
  if (!inside(t.indexOffset, 8 * Math.ceil(n / c))) return 'chunk index outside its segment';
  if (!inside(t.wordsOffset, 4 * w)) return 'bitstream outside its segment';
  if (!inside(t.rawOffset, n)) return 'sign/mantissa bytes outside their segment';
  return null;
}
