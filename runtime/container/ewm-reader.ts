// Opens an .ewm container by positional reads: checked header and metadata, then segments on demand.

import { closeSync, fstatSync } from 'node:fs';
import { basename } from 'node:path';
import { Packr } from 'msgpackr';
import { ModelFormatError } from '../errors.js';
import { openReadOnly, readFully } from '../model/positional-read.js';
import { crc32c, decodePlanes } from '../../kernels/codec/codec.js';
import { planeByteLengths, type PlanedTensor } from '../../kernels/codec/huff8-types.js';
import { decodeHeader, NUM_PARTS, partStart, type EwmHeader, type EwmMetadata, type TensorEntry } from './ewm-format.js';
import { validateMetadata } from './ewm-validate.js';

/** One opened container: header and metadata in memory, segments read when asked. */
export class EwmFile {
  readonly path: string;
  readonly header: EwmHeader;
  readonly metadata: EwmMetadata;
  private fd: number | null;
  private readonly name: string;
  private readonly tensorsByName: Map<string, TensorEntry>;

  private constructor(path: string, fd: number, header: EwmHeader, metadata: EwmMetadata) {
    this.path = path;
    this.fd = fd;
    this.header = header;
    this.metadata = metadata;
    this.name = basename(path);
    this.tensorsByName = new Map(metadata.tensors.map((t) => [t.name, t]));
  }

  static open(path: string): EwmFile {
    const where = basename(path);
    const fd = openReadOnly(path);
    try {
      const size = fstatSync(fd).size;
      const headerBytes = new Uint8Array(Math.min(64, size));
      readFully(fd, headerBytes, 0, `${where} header`);
      const header = decodeHeader(headerBytes, (b) => crc32c(b));
      if (typeof header === 'string') throw new ModelFormatError(`${where} header`, header);
      if (header.fileLength !== size) {
        throw new ModelFormatError(`${where} header`, size < header.fileLength ? `file is truncated: ${size} bytes, header says ${header.fileLength}` : `file has ${size - header.fileLength} unexpected trailing bytes`);
      }
      const { metadataOffset: mo, metadataLength: ml } = header;
      if (!Number.isSafeInteger(mo) || !Number.isSafeInteger(ml) || mo < 64 || mo % 64 !== 0 || mo + ml !== size) {
        throw new ModelFormatError(`${where} header`, 'metadata range is not at the end of the file');
      }
      const metaBytes = new Uint8Array(ml);
      readFully(fd, metaBytes, mo, `${where} metadata`);
      if (crc32c(metaBytes) !== header.metadataCrc32c) throw new ModelFormatError(`${where} metadata`, 'checksum mismatch (corrupt metadata)');
      let raw: unknown;
      try {
        raw = new Packr({ useRecords: false }).unpack(metaBytes);
      } catch (err) {
        throw new ModelFormatError(`${where} metadata`, `not valid msgpack: ${(err as Error).message}`, { cause: err });
      }
      const problem = validateMetadata(raw, mo);
      if (problem !== null) throw new ModelFormatError(`${where} metadata`, problem);
      return new EwmFile(path, fd, header, raw as EwmMetadata);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** `<file> segment <name>`: how errors name a segment. */
  segmentWhere(index: number): string {
    return `${this.name} segment ${this.metadata.segments[index]?.name ?? index}`;
  }

  segmentIndex(name: string): number {
    const i = this.metadata.segments.findIndex((s) => s.name === name);
    if (i < 0) throw new ModelFormatError(this.name, `no segment named "${name}"`);
    return i;
  }

  tensor(name: string): TensorEntry {
    const t = this.tensorsByName.get(name);
    if (t === undefined) throw new ModelFormatError(this.name, `no tensor named "${name}"`);
    return t;
  }

  has(name: string): boolean {
    return this.tensorsByName.has(name);
  }

  /** Reads one whole segment (positional read) and checks every part's CRC-32C. */
  readSegment(index: number): Uint8Array {
    return this.readSegmentPrefix(index, NUM_PARTS);
  }

  /** Bytes of the first `numParts` parts of segment `index` (what a rung keeping that many planes reads). */
  prefixBytes(index: number, numParts: number): number {
    const seg = this.metadata.segments[index];
    if (seg === undefined) throw new RangeError(`segment ${index} out of range`);
    return partStart(seg, Math.min(numParts, NUM_PARTS));
  }

  /**
   * Reads parts 0..numParts-1 of segment `index` (one positional read of a prefix) and checks
   * their CRC-32C. A lower rung reads only the planes it keeps.
   */
  readSegmentPrefix(index: number, numParts: number, scratch?: ArrayBuffer): Uint8Array {
    const seg = this.metadata.segments[index];
    if (seg === undefined) throw new RangeError(`segment ${index} out of range`);
    const length = this.prefixBytes(index, numParts);
    // A fresh ArrayBuffer (or the caller's scratch, from offset 0) keeps 64-byte alignment for the u32 views.
    const bytes = scratch !== undefined && scratch.byteLength >= length ? new Uint8Array(scratch, 0, length) : new Uint8Array(new ArrayBuffer(length));
    readFully(this.handle(), bytes, seg.offset, this.segmentWhere(index));
    this.checkSegment(index, bytes);
    return bytes;
  }

  /** Checks the CRC-32C of every part that `bytes` (a prefix of the segment, whole parts) holds. */
  checkSegment(index: number, bytes: Uint8Array): void {
    const seg = this.metadata.segments[index];
    let at = 0;
    let k = 0;
    for (; k < NUM_PARTS && at < bytes.length; k++) {
      const part = seg.parts[k];
      if (at + part.length > bytes.length || crc32c(bytes.subarray(at, at + part.length)) !== part.crc32c) {
        throw new ModelFormatError(this.segmentWhere(index), `checksum mismatch in part ${k} (corrupt segment)`);
      }
      at += part.length;
    }
    if (at !== bytes.length || (bytes.length === 0 && seg.length !== 0)) throw new ModelFormatError(this.segmentWhere(index), 'segment bytes do not end on a part boundary');
  }

  /** Zero-copy views of a huff8 tensor's stream, index and the first `keep` planes inside its segment's bytes. */
  planedView(t: TensorEntry, segment: Uint8Array, keep = NUM_PARTS): PlanedTensor {
    const n = t.numElements!;
    const buf = segment.buffer;
    const at = segment.byteOffset;
    const lengths = planeByteLengths(n);
    const offsets = t.planeOffsets!.slice(0, keep);
    if (offsets.some((o, k) => o + lengths[k] > segment.length)) throw new RangeError(`${t.name}: segment bytes do not hold the ${keep} planes asked for`);
    return {
      numElements: n,
      chunkSize: t.chunkSize!,
      bitLength: t.bitLength!,
      words: new Uint32Array(buf, at + t.wordsOffset!, t.numWords!),
      index: new Uint32Array(buf, at + t.indexOffset!, 2 * Math.ceil(n / t.chunkSize!)),
      planes: offsets.map((o, k) => new Uint8Array(buf, at + o, lengths[k])),
    };
  }

  /**
   * Decodes tensor `t` from its (checked) segment bytes at a rung keeping `keep` planes (3 =
   * lossless): FP32 values, the 16-bit patterns (Uint16Array), or the symbols alone (Uint8Array,
   * the compact cache form). Throws ModelFormatError naming the segment and tensor.
   */
  decodeInto(t: TensorEntry, segment: Uint8Array, out: Float32Array | Uint16Array | Uint8Array, threads = 1, keep = NUM_PARTS): void {
    const where = `${this.segmentWhere(t.segment)} tensor ${t.name}`;
    if (t.codec === 'raw') {
      const bytes = new Uint8Array(segment.buffer, segment.byteOffset + t.dataOffset!, t.byteLength!);
      if (out instanceof Float32Array && t.dtype === 'F32') new Uint8Array(out.buffer, out.byteOffset, t.byteLength!).set(bytes);
      else throw new ModelFormatError(where, `raw ${t.dtype} tensor cannot be decoded into ${out.constructor.name}`);
      return;
    }
    const codeLengths = this.metadata.segments[t.segment].codeLengths!;
    try {
      decodePlanes(this.planedView(t, segment, keep), codeLengths, keep, t.dtype as 'BF16' | 'F16', out, threads);
    } catch (err) {
      if (err instanceof TypeError || err instanceof RangeError) throw err;
      throw new ModelFormatError(where, (err as Error).message, { cause: err });
    }
  }

  /** The tensor's bytes exactly as safetensors stores them (for `decompress`). */
  tensorBytes(t: TensorEntry, segment: Uint8Array): Uint8Array {
    if (t.codec === 'raw') return segment.slice(t.dataOffset!, t.dataOffset! + t.byteLength!);
    const out = new Uint16Array(t.numElements!);
    this.decodeInto(t, segment, out);
    return new Uint8Array(out.buffer);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private handle(): number {
    if (this.fd === null) throw new ModelFormatError(this.name, 'container already closed');
    return this.fd;
  }
}
