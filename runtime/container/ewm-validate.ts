// Structural checks of decoded .ewm metadata, so that segment and tensor ranges can be trusted afterwards.

import { isWeightDtype, DTYPE_BYTES } from '../model/dtype.js';
import { CODEC_VERSION, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, NUM_PARTS } from './ewm-format.js';
import { planeByteLengths } from '../../kernels/codec/huff8-types.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Why `meta` is not valid version-2 metadata, or null. Replaces each segment's `codeLengths`
 * binary with its own Uint8Array copy.
 */
export function validateMetadata(meta: unknown, metadataOffset: number): string | null {
  if (!isObj(meta)) return 'metadata is not a map';
  if (meta.format !== 'edgewise-ewm') return 'format field is not "edgewise-ewm"';
  if (!isObj(meta.config)) return 'config is missing';
  if (!isObj(meta.files) || !Object.values(meta.files).every((v) => typeof v === 'string')) return 'files must map names to text';
  if (meta.binaryFiles !== undefined && (!isObj(meta.binaryFiles) || !Object.values(meta.binaryFiles).every((v) => v instanceof Uint8Array))) return 'binaryFiles must map names to bytes';
  if (meta.chatTemplate !== null && typeof meta.chatTemplate !== 'string') return 'chatTemplate must be text or nil';
  const codec = meta.codec;
  if (!isObj(codec) || codec.name !== 'huff8' || codec.version !== CODEC_VERSION) return `codec must be huff8 version ${CODEC_VERSION}`;
  if (!Array.isArray(meta.segments) || !Array.isArray(meta.tensors) || !Array.isArray(meta.safetensors)) return 'segments, tensors and safetensors must be arrays';
  let cursor = 64;
  for (const [i, seg] of meta.segments.entries()) {
    if (!isObj(seg) || typeof seg.name !== 'string') return `segment ${i} is malformed`;
    const { offset, length, parts } = seg;
    if (!isCount(offset) || !isCount(length) || offset % 64 !== 0 || length % 64 !== 0) return `segment ${seg.name}: offset and length must be multiples of 64`;
    if (offset < cursor || offset + length > metadataOffset) return `segment ${seg.name}: byte range overlaps another or runs past the segments area`;
    cursor = offset + length;
    if (!Array.isArray(parts) || parts.length !== NUM_PARTS) return `segment ${seg.name}: must have ${NUM_PARTS} parts`;
    let sum = 0;
    for (const p of parts) {
      if (!isObj(p) || !isCount(p.length) || p.length % 64 !== 0 || !isCount(p.crc32c) || p.crc32c > 0xffffffff) return `segment ${seg.name}: bad part (length a multiple of 64, u32 checksum)`;
      sum += p.length;
    }
    if (sum !== length) return `segment ${seg.name}: parts do not add up to its length`;
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
    if (f.header !== undefined && f.header !== null && typeof f.header !== 'string') return `safetensors file ${f.file}: header must be text or nil`;
  }
  return null;
}

function tensorProblem(t: Obj, segments: Obj[]): string | null {
  if (!isWeightDtype(t.dtype) || !isWeightDtype(t.sourceDtype)) return 'unknown dtype';
  if (!Array.isArray(t.shape) || !t.shape.every(isCount)) return 'bad shape';
  const elements = (t.shape as number[]).reduce((a, d) => a * d, 1);
  if (!isCount(t.segment) || t.segment >= segments.length) return 'segment index out of range';
  const parts = segments[t.segment].parts as { length: number }[];
  const partEnd = (k: number): number => parts.slice(0, k + 1).reduce((a, p) => a + p.length, 0);
  // Index, stream, plane A and raw data must lie in part 0 (every rung reads them); plane k in part k.
  const insidePart = (k: number, offset: unknown, bytes: number): boolean =>
    isCount(offset) && offset % 64 === 0 && offset >= (k === 0 ? 0 : partEnd(k - 1)) && offset + bytes <= partEnd(k);
  const inside = (offset: unknown, bytes: number): boolean => insidePart(0, offset, bytes);
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
  const planes = t.planeOffsets;
  if (!Array.isArray(planes) || planes.length !== NUM_PARTS) return `needs ${NUM_PARTS} plane offsets`;
  const lengths = planeByteLengths(n);
  // Vectors keep all planes in part 0 (read losslessly by every rung; runtime/container/precision.ts).
  const vector = (t.shape as number[]).length <= 1;
  for (let k = 0; k < NUM_PARTS; k++) if (!insidePart(vector ? 0 : k, planes[k], lengths[k])) return `sign/mantissa plane ${k} outside part ${vector ? 0 : k} of its segment`;
  return null;
}
