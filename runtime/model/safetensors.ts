// Reads one .safetensors file by positional reads: validated header, then tensors on demand.

import { closeSync, fstatSync } from 'node:fs';
import { basename } from 'node:path';
import { ModelFormatError, UnsupportedModelError } from '../errors.js';
import { DTYPE_BYTES, bf16ToF32, f16ToF32, isWeightDtype, type WeightDtype } from './dtype.js';
import { isObject } from './json-fields.js';
import { openReadOnly, readFully } from './positional-read.js';

export interface TensorInfo {
  name: string;
  dtype: WeightDtype;
  shape: number[];
  /** Offset of the tensor's first byte from the start of the file. */
  byteOffset: number;
  byteLength: number;
}

/** Headers of real checkpoints are a few hundred KiB; anything past this is a corrupt length. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const KNOWN_OTHER_DTYPES = new Set(['F64', 'I64', 'I32', 'I16', 'I8', 'U8', 'U16', 'U32', 'U64', 'BOOL', 'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'C64']);

function parseEntry(name: string, entry: unknown, where: string): { dtype: WeightDtype; shape: number[]; begin: number; end: number } {
  if (!isObject(entry)) throw new ModelFormatError(where, `tensor "${name}": header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = entry;
  if (!isWeightDtype(dtype)) {
    if (typeof dtype === 'string' && KNOWN_OTHER_DTYPES.has(dtype)) {
      throw new UnsupportedModelError(`${where}: tensor "${name}" has dtype ${dtype}; only BF16, F16 and F32 are supported`);
    }
    throw new ModelFormatError(where, `tensor "${name}" has unknown dtype ${JSON.stringify(dtype)}`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new ModelFormatError(where, `tensor "${name}": shape must be a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
    throw new ModelFormatError(where, `tensor "${name}": data_offsets must be [begin, end] with 0 <= begin <= end`);
  }
  const [begin, end] = offsets as [number, number];
  const expected = (shape as number[]).reduce((a, d) => a * d, 1) * DTYPE_BYTES[dtype];
  if (end - begin !== expected) {
    throw new ModelFormatError(where, `tensor "${name}": ${end - begin} bytes but shape [${shape.join(', ')}] × ${dtype} needs ${expected}`);
  }
  return { dtype, shape: shape as number[], begin, end };
}

interface ParsedHeader {
  metadata: Record<string, string>;
  infos: TensorInfo[];
  headerText: string | null;
  trailingBytes: number;
}

export class SafetensorsFile {
  readonly path: string;
  /** `__metadata__` string map of the header (may be empty). */
  readonly metadata: Record<string, string>;
  readonly fileSize: number;
  /** The header JSON exactly as stored (padding included), so a copy can be written back byte for byte; null if not valid UTF-8. */
  readonly headerText: string | null;
  /** Bytes after the last tensor's data (0 in a file written by the usual tools). */
  readonly trailingBytes: number;
  private fd: number | null;
  private readonly byName: Map<string, TensorInfo>;
  private readonly where: string;

  private constructor(path: string, fd: number, fileSize: number, header: ParsedHeader) {
    this.path = path;
    this.fd = fd;
    this.fileSize = fileSize;
    this.metadata = header.metadata;
    this.headerText = header.headerText;
    this.trailingBytes = header.trailingBytes;
    this.where = basename(path);
    this.byName = new Map(header.infos.map((t) => [t.name, t]));
  }

  /** Opens and validates the header; tensor data is read later, one tensor at a time. */
  static open(path: string): SafetensorsFile {
    const where = basename(path);
    const fd = openReadOnly(path);
    try {
      const fileSize = fstatSync(fd).size;
      return new SafetensorsFile(path, fd, fileSize, SafetensorsFile.readHeader(fd, fileSize, where));
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  private static readHeader(fd: number, fileSize: number, where: string): ParsedHeader {
    if (fileSize < 8) throw new ModelFormatError(where, `file is ${fileSize} bytes, too short for a safetensors header`);
    const lenBytes = Buffer.alloc(8);
    readFully(fd, lenBytes, 0, where);
    const headerLen = Number(lenBytes.readBigUInt64LE(0));
    if (headerLen < 2 || headerLen > MAX_HEADER_BYTES) throw new ModelFormatError(where, `header length ${headerLen} is not plausible (file truncated or not safetensors)`);
    if (8 + headerLen > fileSize) throw new ModelFormatError(where, `header of ${headerLen} bytes runs past the end of the ${fileSize}-byte file (truncated)`);
    const headerBytes = Buffer.alloc(headerLen);
    readFully(fd, headerBytes, 8, where);
    let header: unknown;
    try {
      header = JSON.parse(headerBytes.toString('utf8'));
    } catch (err) {
      throw new ModelFormatError(where, `header is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
    if (!isObject(header)) throw new ModelFormatError(where, 'header is not a JSON object');

    const metadata: Record<string, string> = {};
    const entries: { name: string; dtype: WeightDtype; shape: number[]; begin: number; end: number }[] = [];
    for (const [name, entry] of Object.entries(header)) {
      if (name === '__metadata__') {
        if (!isObject(entry)) throw new ModelFormatError(where, '__metadata__ must be an object');
        for (const [k, v] of Object.entries(entry)) if (typeof v === 'string') metadata[k] = v;
        continue;
      }
      entries.push({ name, ...parseEntry(name, entry, where) });
    }
    entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
    const dataStart = 8 + headerLen;
    const dataSize = fileSize - dataStart;
    let cursor = 0;
    for (const e of entries) {
      // The format packs tensors back to back; a gap or overlap means a corrupt header.
      if (e.begin !== cursor) throw new ModelFormatError(where, `tensor "${e.name}": data_offsets begin at ${e.begin}, expected ${cursor} (tensors overlap or leave a gap)`);
      if (e.end > dataSize) {
        throw new ModelFormatError(where, `file is truncated: tensor "${e.name}" needs bytes up to ${dataStart + e.end} but the file has ${fileSize}`);
      }
      cursor = e.end;
    }
    const infos = entries.map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, byteOffset: dataStart + e.begin, byteLength: e.end - e.begin }));
    const headerText = headerBytes.toString('utf8');
    const exact = Buffer.from(headerText, 'utf8').equals(headerBytes);
    return { metadata, infos, headerText: exact ? headerText : null, trailingBytes: dataSize - cursor };
  }

  /** Every tensor, in file order. */
  tensors(): TensorInfo[] {
    return [...this.byName.values()];
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.byName.get(name);
    if (info === undefined) throw new ModelFormatError(this.where, `no tensor named "${name}"`);
    return info;
  }

  /** The tensor's bytes as stored (little-endian), in a fresh buffer. */
  readRaw(name: string): Uint8Array {
    const info = this.info(name);
    const out = new Uint8Array(info.byteLength);
    readFully(this.handle(), out, info.byteOffset, this.where);
    return out;
  }

  /** The tensor converted exactly to fp32. */
  readF32(name: string): Float32Array {
    const info = this.info(name);
    const count = info.byteLength / DTYPE_BYTES[info.dtype];
    const out = new Float32Array(count);
    if (info.dtype === 'F32') {
      // NOTE: assumes a little-endian host (x86-64, arm64), as safetensors data is little-endian.
      readFully(this.handle(), new Uint8Array(out.buffer), info.byteOffset, this.where);
      return out;
    }
    const half = new Uint16Array(count);
    readFully(this.handle(), new Uint8Array(half.buffer), info.byteOffset, this.where);
    return info.dtype === 'BF16' ? bf16ToF32(half, out) : f16ToF32(half, out);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private handle(): number {
    if (this.fd === null) throw new ModelFormatError(this.where, 'file already closed');
    return this.fd;
  }
}
