// Opens an .ewm container by positional reads: checked header and metadata, then segments on demand.

import { closeSync, fstatSync } from 'node:fs';
import { basename } from 'node:path';
import { Packr } from 'msgpackr';
import { ModelFormatError } from '../errors.js';
import { openReadOnly, readFully } from '../model/positional-read.js';
import { crc32c, decodeTensor } from '../../kernels/codec/codec.js';
import type { EncodedTensor } from '../../kernels/codec/huff8-types.js';
import { decodeHeader, type EwmHeader, type EwmMetadata, type TensorEntry } from './ewm-format.js';
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

  /** Reads one segment (positional read) and checks its CRC-32C. */
  readSegment(index: number): Uint8Array {
    const seg = this.metadata.segments[index];
    if (seg === undefined) throw new RangeError(`segment ${index} out of range`);
    // A fresh ArrayBuffer keeps offset 0 at 64-byte alignment for the u32 views.
    const bytes = new Uint8Array(new ArrayBuffer(seg.length));
    readFully(this.handle(), bytes, seg.offset, this.segmentWhere(index));
    this.checkSegment(index, bytes);
    return bytes;
  }

  checkSegment(index: number, bytes: Uint8Array): void {
    const seg = this.metadata.segments[index];
    if (bytes.length !== seg.length || crc32c(bytes) !== seg.crc32c) {
      throw new ModelFormatError(this.segmentWhere(index), 'checksum mismatch (corrupt segment)');
    }
  }

  /** Zero-copy views of a huff8 tensor's arrays inside its segment's bytes. */
  encodedView(t: TensorEntry, segment: Uint8Array): EncodedTensor {
    const n = t.numElements!;
    const buf = segment.buffer;
    const at = segment.byteOffset;
    return {
      numElements: n,
      chunkSize: t.chunkSize!,
      bitLength: t.bitLength!,
      words: new Uint32Array(buf, at + t.wordsOffset!, t.numWords!),
      raw: new Uint8Array(buf, at + t.rawOffset!, n),
      index: new Uint32Array(buf, at + t.indexOffset!, 2 * Math.ceil(n / t.chunkSize!)),
    };
  }

  /**
   * Decodes tensor `t` from its (checked) segment bytes: FP32 values into a Float32Array, or the
   * stored 16-bit patterns into a Uint16Array. Throws ModelFormatError naming the segment and tensor.
   */
  decodeInto(t: TensorEntry, segment: Uint8Array, out: Float32Array | Uint16Array, threads = 1): void {
    const where = `${this.segmentWhere(t.segment)} tensor ${t.name}`;
    if (t.codec === 'raw') {
      const bytes = new Uint8Array(segment.buffer, segment.byteOffset + t.dataOffset!, t.byteLength!);
      if (out instanceof Float32Array && t.dtype === 'F32') new Uint8Array(out.buffer, out.byteOffset, t.byteLength!).set(bytes);
      else throw new ModelFormatError(where, `raw ${t.dtype} tensor cannot be decoded into ${out.constructor.name}`);
      return;
    }
    const codeLengths = this.metadata.segments[t.segment].codeLengths!;
    try {
      decodeTensor(this.encodedView(t, segment), codeLengths, t.dtype as 'BF16' | 'F16', out, threads);
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
