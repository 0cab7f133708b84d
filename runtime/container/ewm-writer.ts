// Converts a Hugging Face folder into an .ewm container: one codebook per segment, segments streamed to disk.

import { closeSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { InvalidRequestError, ModelFormatError } from '../errors.js';
import { SafetensorsCheckpoint } from '../model/safetensors-checkpoint.js';
import type { TensorInfo } from '../model/safetensors.js';
import { parseHfConfig } from '../model/hf-config.js';
import { chatTemplateSource } from '../model/chat-template.js';
import { codebookFor, crc32c, encodeTensor, symbolHistogram } from '../../kernels/codec/codec.js';
import { castF32ToBf16 } from '../../kernels/codec/bf16.js';
import { codedBits, entropyBits, MAX_CODE_LENGTH } from '../../kernels/codec/huffman.js';
import {
  CODEC_VERSION, DEFAULT_CHUNK_SIZE, encodeHeader, EWM_VERSION, HEADER_BYTES, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, NUM_PARTS,
  SegmentLayout, segmentNameFor, segmentOrder, type EwmMetadata, type SegmentEntry, type SegmentPart, type TensorEntry,
} from './ewm-format.js';
import { splitPlanes } from '../../kernels/codec/planes-reference.js';
import { alwaysLossless, PRECISIONS } from './precision.js';

export interface ConvertOptions {
  /** Cast F32 tensors to BF16 (lossy) so they can be compressed. */
  castFp32?: boolean;
  /** Store F32 tensors uncompressed (lossless). */
  keepFp32?: boolean;
  chunkSize?: number;
  /** (segments done, segments total) */
  onProgress?: (done: number, total: number) => void;
  onWarning?: (message: string) => void;
}

/** Size figures of one segment. */
export interface SegmentStats {
  name: string;
  /** Elements coded with huff8. */
  numWeights: number;
  /** Bytes those weights take in the source checkpoint. */
  sourceBytes: number;
  /** Bytes of the segment in the container (index, bitstream, raw bytes, padding). */
  storedBytes: number;
  /** 8 + exponent entropy of the segment's histogram: the bound of this coding scheme. */
  entropyBoundBits: number;
  /** storedBytes × 8 / numWeights. */
  bitsPerWeight: number;
  /** Bytes of each segment part (a rung keeping k planes reads the first k). */
  partBytes: number[];
}

export interface ConvertReport {
  sourceBytes: number;
  containerBytes: number;
  segments: SegmentStats[];
  /** Over all huff8 weights: stored segment bits per weight, and the weighted entropy bound. */
  bitsPerWeight: number;
  /** Bits per huff8 weight each rung reads (segments with huff8 weights, parts 0..planes-1), by rung name. */
  rungBitsPerWeight: Record<string, number>;
  entropyBoundBits: number;
}

const PACKR = new Packr({ useRecords: false });
const MAX_SMALL_FILE_BYTES = 64 * 1024 * 1024;
const MAX_BINARY_FILE_BYTES = 16 * 1024 * 1024;
/** Weights in another format (PyTorch, TF, Flax, ONNX, GGUF): never carried, the container holds the weights. */
const OTHER_WEIGHTS = /(^pytorch_model.*\.bin|\.(pt|pth|ckpt|h5|msgpack|onnx|gguf))$/;

/**
 * Small non-weight files of the folder, kept byte-exact: text as text, small binary files (a
 * SentencePiece `tokenizer.model`, ...) as bytes, so `decompress` gives the whole folder back.
 * Weights in other formats and large binaries are skipped with a warning.
 */
function readSmallFiles(dir: string, warn: (m: string) => void): { files: Record<string, string>; binaryFiles: Record<string, Uint8Array> } {
  const files: Record<string, string> = {};
  const binaryFiles: Record<string, Uint8Array> = {};
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (name.endsWith('.safetensors') || !statSync(path).isFile()) continue;
    if (OTHER_WEIGHTS.test(name)) {
      warn(`skipping ${name}: weights in another format`);
      continue;
    }
    const bytes = readFileSync(path);
    const text = bytes.toString('utf8');
    if (bytes.length <= MAX_SMALL_FILE_BYTES && Buffer.from(text, 'utf8').equals(bytes)) files[name] = text;
    else if (bytes.length <= MAX_BINARY_FILE_BYTES) binaryFiles[name] = new Uint8Array(bytes);
    else warn(`skipping ${name}: a binary file over ${MAX_BINARY_FILE_BYTES >> 20} MiB`);
  }
  return { files, binaryFiles };
}

interface PreparedTensor {
  info: TensorInfo;
  entry: TensorEntry;
  halves: Uint16Array | null;
  bytes: Uint8Array | null;
  counts: Float64Array | null;
}

function prepare(checkpoint: SafetensorsCheckpoint, info: TensorInfo, options: ConvertOptions): PreparedTensor {
  const bytes = checkpoint.readRaw(info.name);
  const base = { name: info.name, sourceDtype: info.dtype, shape: info.shape, segment: 0 };
  if (info.dtype === 'F32' && !options.castFp32) {
    return { info, entry: { ...base, dtype: 'F32', codec: 'raw' }, halves: null, bytes, counts: null };
  }
  const halves = info.dtype === 'F32' ? castF32ToBf16(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)) : new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
  const dtype = info.dtype === 'F32' ? 'BF16' : info.dtype;
  return { info, entry: { ...base, dtype, codec: 'huff8' }, halves, bytes: null, counts: symbolHistogram(halves) };
}

/**
 * Encodes one segment's tensors with a shared codebook and lays them out in NUM_PARTS parts:
 * part 0 = each huff8 tensor's index, exponent stream and plane A, and the raw tensors; part 1 =
 * every plane B; part 2 = every plane C. A rung reading k planes reads parts 0..k-1, a prefix.
 */
function buildSegment(name: string, tensors: PreparedTensor[], chunkSize: number): { bytes: Uint8Array; parts: SegmentPart[]; codeLengths: Uint8Array | null; stats: SegmentStats } {
  const coded = tensors.filter((t) => t.halves !== null);
  const total = new Float64Array(256);
  for (const t of coded) for (let s = 0; s < 256; s++) total[s] += t.counts![s];
  const codeLengths = coded.length > 0 ? codebookFor(total) : null;
  const layout = new SegmentLayout();
  const place = (data: Uint8Array): number => layout.place(data);
  let numWeights = 0;
  let sourceBytes = 0;
  const laterPlanes: { entry: TensorEntry; planes: Uint8Array[] }[] = [];
  for (const t of tensors) {
    if (t.halves === null) {
      t.entry.dataOffset = place(t.bytes!);
      t.entry.byteLength = t.bytes!.byteLength;
      continue;
    }
    const enc = encodeTensor(t.halves, codeLengths!, chunkSize, t.counts!);
    if (enc.bitLength > 0xffffffff) throw new InvalidRequestError(`tensor ${t.info.name} needs more than 2^32 bits in one stream`);
    const planes = splitPlanes(enc.raw);
    Object.assign(t.entry, {
      numElements: enc.numElements, chunkSize, bitLength: enc.bitLength, numWords: enc.words.length,
      indexOffset: place(new Uint8Array(enc.index.buffer)),
      wordsOffset: place(new Uint8Array(enc.words.buffer)),
      planeOffsets: [place(planes[0])],
    });
    // Vectors (norms, biases) keep every plane in part 0: every rung reads them losslessly.
    if (alwaysLossless(t.entry)) t.entry.planeOffsets!.push(place(planes[1]), place(planes[2]));
    else laterPlanes.push({ entry: t.entry, planes });
    numWeights += enc.numElements;
    sourceBytes += t.info.byteLength;
  }
  layout.padTo(64);
  const partEnds = [layout.cursor];
  for (let k = 1; k < NUM_PARTS; k++) {
    for (const p of laterPlanes) p.entry.planeOffsets!.push(place(p.planes[k]));
    partEnds.push(layout.cursor);
  }
  const bytes = layout.bytes();
  const segmentParts = partEnds.map((end, k) => {
    const start = k === 0 ? 0 : partEnds[k - 1];
    return { length: end - start, crc32c: crc32c(bytes.subarray(start, end)) };
  });
  const h = entropyBits(total);
  const stats: SegmentStats = {
    name, numWeights, sourceBytes, storedBytes: bytes.length, entropyBoundBits: numWeights > 0 ? 8 + h : 0,
    bitsPerWeight: numWeights > 0 ? (bytes.length * 8) / numWeights : 0,
    partBytes: segmentParts.map((p) => p.length),
  };
  if (codeLengths !== null) codedBits(total, codeLengths); // throws if a symbol lacks a code
  return { bytes, parts: segmentParts, codeLengths, stats };
}

/** Converts `hfDir` to `outPath`. Throws InvalidRequestError for F32 checkpoints without a cast/keep choice. */
export function convertToEwm(hfDir: string, outPath: string, options: ConvertOptions = {}): ConvertReport {
  const warn = options.onWarning ?? (() => {});
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE || (chunkSize & (chunkSize - 1)) !== 0) {
    throw new InvalidRequestError(`chunk size must be a power of two in ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}`, 'chunkSize');
  }
  const { files, binaryFiles } = readSmallFiles(hfDir, warn);
  if (files['config.json'] === undefined) throw new ModelFormatError(hfDir, 'no config.json in the folder');
  const configJson = JSON.parse(files['config.json']) as unknown;
  parseHfConfig(configJson, join(hfDir, 'config.json')); // refuse unsupported architectures before any work
  const checkpoint = SafetensorsCheckpoint.openFolder(hfDir);
  const infos = checkpoint.tensors();
  const f32 = infos.filter((t) => t.dtype === 'F32');
  if (f32.length > 0 && !options.castFp32 && !options.keepFp32) {
    checkpoint.close();
    throw new InvalidRequestError(`${f32.length} tensors are F32 (e.g. ${f32[0].name}); pass --cast-fp32 to cast them to BF16 (lossy) or --keep-fp32 to store them uncompressed`, 'castFp32');
  }
  if (f32.length > 0 && options.castFp32) warn(`casting ${f32.length} F32 tensors to BF16 (round to nearest even): the container is NOT lossless for them`);
  const fd = openSync(outPath, 'w');
  let complete = false;
  try {
    const groups = new Map<string, TensorInfo[]>();
    for (const info of infos) {
      const name = segmentNameFor(info.name);
      groups.set(name, [...(groups.get(name) ?? []), info]);
    }
    const segmentNames = [...groups.keys()].sort((a, b) => segmentOrder(a) - segmentOrder(b));
    const segments: SegmentEntry[] = [];
    const entries = new Map<string, TensorEntry>();
    const stats: SegmentStats[] = [];
    let offset = HEADER_BYTES;
    writeAll(fd, new Uint8Array(HEADER_BYTES), 0);
    for (const [i, name] of segmentNames.entries()) {
      const prepared = groups.get(name)!.map((info) => prepare(checkpoint, info, options));
      const built = buildSegment(name, prepared, chunkSize);
      for (const p of prepared) entries.set(p.info.name, { ...p.entry, segment: i });
      writeAll(fd, built.bytes, offset);
      segments.push({ name, offset, length: built.bytes.length, parts: built.parts, codeLengths: built.codeLengths });
      stats.push(built.stats);
      offset += built.bytes.length;
      options.onProgress?.(i + 1, segmentNames.length);
    }
    const tokenizerConfig = files['tokenizer_config.json'] === undefined ? null : (JSON.parse(files['tokenizer_config.json']) as unknown);
    const metadata: EwmMetadata = {
      format: 'edgewise-ewm', version: EWM_VERSION, config: configJson, files, binaryFiles,
      chatTemplate: chatTemplateSource(tokenizerConfig, files['chat_template.jinja'] ?? null, join(hfDir, 'tokenizer_config.json')),
      codec: { name: 'huff8', version: CODEC_VERSION, chunkSize, maxCodeLength: MAX_CODE_LENGTH },
      precisions: PRECISIONS.map((r) => r.name),
      segments,
      tensors: infos.map((t) => entries.get(t.name)!),
      safetensors: checkpoint.files.map((f) => ({
        file: f.path.slice(f.path.lastIndexOf('/') + 1), metadata: Object.keys(f.metadata).length > 0 ? f.metadata : null, tensors: f.tensors().map((t) => t.name),
        header: f.trailingBytes === 0 ? f.headerText : null,
      })),
      layerImportance: null, qualityTables: null,
    };
    const meta = PACKR.pack(metadata);
    writeAll(fd, meta, offset);
    const fileLength = offset + meta.length;
    writeAll(fd, encodeHeader({ metadataOffset: offset, metadataLength: meta.length, fileLength, metadataCrc32c: crc32c(meta) }, (b) => crc32c(b)), 0);
    const weights = stats.reduce((a, s) => a + s.numWeights, 0);
    complete = true;
    return {
      sourceBytes: checkpoint.diskBytes(),
      containerBytes: fileLength,
      segments: stats,
      bitsPerWeight: weights > 0 ? stats.reduce((a, s) => a + (s.numWeights > 0 ? s.storedBytes * 8 : 0), 0) / weights : 0,
      rungBitsPerWeight: Object.fromEntries(PRECISIONS.map((r) => [r.name, weights > 0 ? stats.reduce((a, s) => a + (s.numWeights > 0 ? s.partBytes.slice(0, r.planes).reduce((x, y) => x + y, 0) * 8 : 0), 0) / weights : 0])),
      entropyBoundBits: weights > 0 ? stats.reduce((a, s) => a + s.entropyBoundBits * s.numWeights, 0) / weights : 0,
    };
  } finally {
    closeSync(fd);
    checkpoint.close();
    // A half-written container must not be mistaken for a good one.
    if (!complete) rmSync(outPath, { force: true });
  }
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, Math.min(bytes.byteLength - done, 1 << 30), position + done);
}
