// The .ewm container's constants, header codec and metadata types (docs/format.md section 1).

import type { WeightDtype } from '../model/dtype.js';
import type { LayerImportance, QualityTable } from '../calibration/calibration-types.js';

export const EWM_MAGIC = 'EDGEWEWM';
export const EWM_VERSION = 2;
/** huff8 with the sign+mantissa byte split into bit-planes (docs/format.md 2.6). */
export const CODEC_VERSION = 2;
/** Segment parts: 0 = index, exponent stream, plane A and raw tensors; 1 = plane B; 2 = plane C. */
export const NUM_PARTS = 3;
export const HEADER_BYTES = 64;
export const ALIGN = 64;
export const DEFAULT_CHUNK_SIZE = 4096;
export const MIN_CHUNK_SIZE = 256;
export const MAX_CHUNK_SIZE = 65536;

export type TensorCodec = 'huff8' | 'raw';

/** One contiguous sub-range of a segment with its own checksum (a rung reads a prefix of parts). */
export interface SegmentPart {
  length: number;
  crc32c: number;
}

export interface SegmentEntry {
  /** `embed`, `layer.<i>`, `head` or `other`. */
  name: string;
  offset: number;
  /** Sum of the parts' lengths. */
  length: number;
  /** NUM_PARTS parts back to back from `offset`; each length a multiple of 64. */
  parts: SegmentPart[];
  /** 256 Huffman code lengths, or null when the segment holds no huff8 tensor. */
  codeLengths: Uint8Array | null;
}

export interface TensorEntry {
  name: string;
  /** Stored dtype. */
  dtype: WeightDtype;
  /** Dtype in the source checkpoint (F32 when cast to BF16). */
  sourceDtype: WeightDtype;
  shape: number[];
  /** Index into `segments`. */
  segment: number;
  codec: TensorCodec;
  // raw
  dataOffset?: number;
  byteLength?: number;
  // huff8
  numElements?: number;
  chunkSize?: number;
  indexOffset?: number;
  wordsOffset?: number;
  numWords?: number;
  bitLength?: number;
  /** Offsets of planes A, B, C (each inside part 0, 1, 2 respectively). */
  planeOffsets?: number[];
}

export interface SafetensorsFileEntry {
  file: string;
  metadata: Record<string, string> | null;
  /** Tensor names in their data order within the file. */
  tensors: string[];
  /** The source file's header JSON verbatim (so `decompress` writes the file back byte for byte), or nil/absent. */
  header?: string | null;
}

export interface EwmMetadata {
  format: 'edgewise-ewm';
  version: number;
  /** The HF config.json, parsed. */
  config: unknown;
  /** Original text of each small file of the source folder. */
  files: Record<string, string>;
  /** Each small binary file of the source folder (e.g. `tokenizer.model`), byte-exact; absent in containers written before it existed. */
  binaryFiles?: Record<string, Uint8Array>;
  chatTemplate: string | null;
  codec: { name: 'huff8'; version: number; chunkSize: number; maxCodeLength: number };
  /** The precision rungs this store serves (runtime/container/precision.ts), informative. */
  precisions: string[];
  segments: SegmentEntry[];
  tensors: TensorEntry[];
  safetensors: SafetensorsFileEntry[];
  /** Block ranking written by `edgewise calibrate` (runtime/calibration), else null. */
  layerImportance: LayerImportance | null;
  /** Held-out perplexity per (depth, precision), written by `edgewise calibrate`, else null. */
  qualityTables: QualityTable | null;
}

export interface EwmHeader {
  version: number;
  metadataOffset: number;
  metadataLength: number;
  fileLength: number;
  metadataCrc32c: number;
  headerCrc32c: number;
}

export function alignUp(n: number, to = ALIGN): number {
  return Math.ceil(n / to) * to;
}

/** Lays arrays out back to back inside a segment, each on a 64-byte boundary (gaps zero), then copies them into one buffer. */
export class SegmentLayout {
  private readonly pieces: { offset: number; data: Uint8Array }[] = [];
  private end = 0;

  /** Bytes laid out so far (always a multiple of 64). */
  get cursor(): number {
    return this.end;
  }

  /** Places `data` at the cursor; returns its offset. */
  place(data: Uint8Array): number {
    const offset = this.end;
    this.pieces.push({ offset, data });
    this.end = alignUp(offset + data.byteLength);
    return offset;
  }

  /** Moves the cursor to at least `bytes` (segments are never empty: at least 64 bytes). */
  padTo(bytes: number): void {
    this.end = alignUp(Math.max(this.end, bytes));
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.end);
    for (const p of this.pieces) out.set(p.data, p.offset);
    return out;
  }
}

/** Which segment a tensor belongs to (one codebook per segment). */
export function segmentNameFor(tensorName: string): string {
  if (tensorName === 'model.embed_tokens.weight') return 'embed';
  const m = /^model\.layers\.(\d+)\./.exec(tensorName);
  if (m) return `layer.${Number(m[1])}`;
  if (tensorName === 'lm_head.weight' || tensorName === 'model.norm.weight') return 'head';
  return 'other';
}

/** Byte offset (from the segment start) where part `k` begins; part NUM_PARTS = the segment end. */
export function partStart(seg: SegmentEntry, k: number): number {
  let at = 0;
  for (let i = 0; i < k; i++) at += seg.parts[i].length;
  return at;
}

/** File order of segments: embed, layers by index, head, other. */
export function segmentOrder(name: string): number {
  if (name === 'embed') return -1;
  if (name.startsWith('layer.')) return Number(name.slice(6));
  return name === 'head' ? 1e9 : 1e9 + 1;
}

/** The 64 header bytes with `headerCrc32c` zeroed (the CRC is computed over this). */
export function encodeHeader(h: Omit<EwmHeader, 'headerCrc32c' | 'version'>, crc: (b: Uint8Array) => number): Uint8Array {
  const b = Buffer.alloc(HEADER_BYTES);
  b.write(EWM_MAGIC, 0, 'ascii');
  b.writeUInt32LE(EWM_VERSION, 8);
  b.writeUInt32LE(HEADER_BYTES, 12);
  b.writeBigUInt64LE(BigInt(h.metadataOffset), 16);
  b.writeBigUInt64LE(BigInt(h.metadataLength), 24);
  b.writeBigUInt64LE(BigInt(h.fileLength), 32);
  b.writeUInt32LE(h.metadataCrc32c >>> 0, 40);
  b.writeUInt32LE(crc(b) >>> 0, 44);
  return new Uint8Array(b.buffer, b.byteOffset, HEADER_BYTES);
}

/** Parses the header; returns a problem string instead of throwing so the reader can name the file. */
export function decodeHeader(bytes: Uint8Array, crc: (b: Uint8Array) => number): EwmHeader | string {
  if (bytes.length < HEADER_BYTES) return `file is ${bytes.length} bytes, shorter than the ${HEADER_BYTES}-byte header`;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  if (b.toString('ascii', 0, 8) !== EWM_MAGIC) return 'not an .ewm container (bad magic)';
  const stored = b.readUInt32LE(44);
  const copy = Buffer.from(b);
  copy.writeUInt32LE(0, 44);
  if (crc(copy) >>> 0 !== stored) return 'header checksum mismatch (corrupt header)';
  const version = b.readUInt32LE(8);
  if (version === 1) return `container version 1 predates precision rungs (bit-plane layout, version ${EWM_VERSION}); reconvert it: edgewise convert <hf-dir> -o <model.ewm> (or decompress it with an older build first)`;
  if (version !== EWM_VERSION) return `container version ${version} is not supported (this build reads ${EWM_VERSION})`;
  if (b.readUInt32LE(12) !== HEADER_BYTES) return 'unexpected header length';
  const big = (o: number): number => {
    const v = b.readBigUInt64LE(o);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.NaN : Number(v);
  };
  return {
    version,
    metadataOffset: big(16),
    metadataLength: big(24),
    fileLength: big(32),
    metadataCrc32c: b.readUInt32LE(40),
    headerCrc32c: stored,
  };
}
