// WeightProvider over an .ewm container: each block decodes just in time at a precision rung, from resident or on-demand segments.

import { availableParallelism } from 'node:os';
import type { BlockDecodeStats, LayerWeights, WeightProvider } from '../engine/runner-types.js';
import type { ModelConfig } from '../model/model-config.js';
import { checkTensors, type ExpectedTensor } from '../model/hf-weights.js';
import type { TensorInfo } from '../model/safetensors.js';
import { expandPlanes } from '../../kernels/codec/codec.js';
import { EwmFile } from './ewm-reader.js';
import { NUM_PARTS, type TensorEntry } from './ewm-format.js';
import { PRECISIONS, planesFor, type PrecisionRung } from './precision.js';

export interface EwmWeightOptions {
  /** Decode threads per tensor; default EDGEWISE_DECODE_THREADS or min(4, cores). */
  threads?: number;
  /** (segments read, segments total) while loading the compressed store. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Leave the block segments in the file and read each (checked) when a block is decoded,
   * instead of reading the whole store at open. For a memory budget: the store never has to
   * fit in memory at once, not even while loading.
   */
  onDemand?: boolean;
}

type LayerKey = keyof LayerWeights;

/** Where a block's compressed bytes come from: `(segment, parts)` → at least that prefix of the segment, checked. */
export type SegmentSource = (segment: number, numParts: number) => Uint8Array;

/** One tensor of a block in the compact cached form of a lower rung. */
export interface CompactTensor {
  key: LayerKey;
  /** The decoded exponent symbols (1 byte per weight) and copies of the kept planes; null for a vector. */
  symbols: Uint8Array | null;
  planes: Uint8Array[];
  keep: number;
  dtype: 'BF16' | 'F16';
  /** Vectors (and raw F32 tensors) are held decoded as FP32. */
  values: Float32Array | null;
}

/** A block at a lower rung as the decoded-block cache holds it; `bytes` is what it really occupies. */
export interface CompactBlock {
  layerIndex: number;
  rung: PrecisionRung;
  tensors: CompactTensor[];
  bytes: number;
}

export function defaultDecodeThreads(): number {
  const env = Number(process.env.EDGEWISE_DECODE_THREADS);
  return Number.isInteger(env) && env > 0 ? env : Math.min(4, availableParallelism());
}

const LOSSLESS_RUNG = PRECISIONS[0];

/**
 * NOTE: embedding, final norm and LM head are decoded once, losslessly, and kept (the runner
 * reads them every step and bakes the head); transformer blocks are decoded into one set of
 * reusable buffers on every `layer()` call, at `layerAt`'s rung. Segments start resident (read
 * and checked at open); `useSegmentSource` hands them to a budgeted source (runtime/memory)
 * that reads from the file on demand, so the store itself can live within a memory budget.
 */
export class EwmWeightProvider implements WeightProvider {
  readonly config: ModelConfig;
  private readonly file: EwmFile;
  private resident: Uint8Array[] | null;
  private source: SegmentSource;
  private readonly layerTensors: ExpectedTensor[][];
  private readonly buffers = new Map<LayerKey, Float32Array>();
  private readonly current: LayerWeights;
  private readonly globals = new Map<string, Float32Array>();
  private readonly threads: number;

  private constructor(file: EwmFile, config: ModelConfig, segments: Uint8Array[] | null, expected: ExpectedTensor[], threads: number) {
    this.file = file;
    this.config = config;
    this.resident = segments;
    // Without resident segments each read goes to the file (checksummed) for the parts asked.
    this.source = segments !== null ? (i) => segments[i] : (i, parts) => file.readSegmentPrefix(i, parts);
    this.threads = threads;
    this.layerTensors = Array.from({ length: config.numLayers }, () => []);
    for (const t of expected) if (t.layerIndex !== undefined) this.layerTensors[t.layerIndex].push(t);
    this.current = {
      inputNorm: empty, qProj: empty, kProj: empty, vProj: empty, qBias: null, kBias: null, vBias: null, oProj: empty,
      oBias: null, postAttentionNorm: empty, gateProj: empty, upProj: empty, downProj: empty, gateBias: null, upBias: null, downBias: null,
    };
  }

  /** Opens `path`, checks names and shapes against `config`, reads and checksums every segment (unless `onDemand`). */
  static open(path: string, config: ModelConfig, options: EwmWeightOptions = {}): EwmWeightProvider {
    const file = EwmFile.open(path);
    try {
      const view = {
        has: (name: string) => file.has(name),
        info: (name: string) => ({ name, shape: file.tensor(name).shape }) as unknown as TensorInfo,
      };
      const expected = checkTensors(view, config, path);
      const segments: Uint8Array[] | null = options.onDemand ? null : [];
      const total = file.metadata.segments.length;
      for (let i = 0; segments !== null && i < total; i++) {
        segments.push(file.readSegment(i));
        options.onProgress?.(i + 1, total);
      }
      const provider = new EwmWeightProvider(file, config, segments, expected, options.threads ?? defaultDecodeThreads());
      provider.global('model.embed_tokens.weight');
      provider.global('model.norm.weight');
      if (!config.tieWordEmbeddings) provider.global('lm_head.weight');
      return provider;
    } catch (err) {
      file.close();
      throw err;
    }
  }

  /** The open container (its metadata, positional reads). */
  get ewm(): EwmFile {
    return this.file;
  }

  /** Segment `index` whole (all parts, checked): the resident copy, or a read through the current source. */
  segment(index: number): Uint8Array {
    return this.source(index, NUM_PARTS);
  }

  /** Bytes of compressed segments held by this provider itself (0 once a budgeted source serves them). */
  get residentBytes(): number {
    return this.resident?.reduce((a, s) => a + s.length, 0) ?? 0;
  }

  /**
   * Serves segments from `source` from now on and drops the resident copies (the globals are
   * already decoded). The source must return checked bytes (EwmFile.readSegmentPrefix).
   */
  useSegmentSource(source: SegmentSource): void {
    this.source = source;
    this.resident = null;
  }

  embedding(): Float32Array {
    return this.global('model.embed_tokens.weight');
  }

  finalNorm(): Float32Array {
    return this.global('model.norm.weight');
  }

  lmHead(): Float32Array {
    return this.config.tieWordEmbeddings ? this.embedding() : this.global('lm_head.weight');
  }

  readonly decodeStats: BlockDecodeStats = { count: 0, totalMs: 0 };

  /** Lossless block `layerIndex`. */
  layer(layerIndex: number): Promise<LayerWeights> {
    return this.layerAt(layerIndex, LOSSLESS_RUNG);
  }

  /** Block `layerIndex` decoded at `rung` into the reusable FP32 buffers (reads only the rung's planes). */
  async layerAt(layerIndex: number, rung: PrecisionRung): Promise<LayerWeights> {
    const tensors = this.tensorsOf(layerIndex);
    const startMs = performance.now();
    const out = this.current as unknown as Record<LayerKey, Float32Array | null>;
    const read = this.reader(rung);
    for (const t of tensors) {
      const e = this.file.tensor(t.name);
      out[t.layerKey!] = this.decode(e, this.buffer(t.layerKey!, t.shape), planesFor(e, rung), read);
    }
    this.decodeStats.count++;
    this.decodeStats.totalMs += performance.now() - startMs;
    return this.current;
  }

  /**
   * This store served at one rung: blocks decode at `rung`; embedding, norm and head stay
   * lossless (calibration measures each rung through the real runner with this view).
   */
  atRung(rung: PrecisionRung): WeightProvider {
    return {
      config: this.config,
      embedding: () => this.embedding(),
      finalNorm: () => this.finalNorm(),
      lmHead: () => this.lmHead(),
      layer: (i: number) => this.layerAt(i, rung),
      close: () => this.close(),
    };
  }

  /** Bytes `compactAt(layerIndex, rung)` would occupy, without decoding. */
  compactBytes(layerIndex: number, rung: PrecisionRung): number {
    let bytes = 0;
    for (const t of this.tensorsOf(layerIndex)) {
      const e = this.file.tensor(t.name);
      const n = t.shape.reduce((a, d) => a * d, 1);
      bytes += e.codec === 'raw' || planesFor(e, rung) === NUM_PARTS ? 4 * n : n + planesFor(e, rung) * Math.ceil(n / 4);
    }
    return bytes;
  }

  /** Block `layerIndex` at a lower rung in its compact form: symbols + copies of the kept planes (vectors as FP32). */
  compactAt(layerIndex: number, rung: PrecisionRung): CompactBlock {
    const startMs = performance.now();
    const tensors: CompactTensor[] = [];
    const read = this.reader(rung);
    for (const t of this.tensorsOf(layerIndex)) {
      const e = this.file.tensor(t.name);
      const keep = planesFor(e, rung);
      const n = t.shape.reduce((a, d) => a * d, 1);
      if (e.codec === 'raw' || keep === NUM_PARTS) {
        tensors.push({ key: t.layerKey!, symbols: null, planes: [], keep, dtype: 'BF16', values: this.decode(e, new Float32Array(n), keep, read) });
        continue;
      }
      const segment = read(e.segment);
      const symbols = new Uint8Array(n);
      this.file.decodeInto(e, segment, symbols, this.threads, keep);
      const planes = this.file.planedView(e, segment, keep).planes.map((p) => p.slice());
      tensors.push({ key: t.layerKey!, symbols, planes, keep, dtype: e.dtype as 'BF16' | 'F16', values: null });
    }
    this.decodeStats.count++;
    this.decodeStats.totalMs += performance.now() - startMs;
    return { layerIndex, rung, tensors, bytes: this.compactBytes(layerIndex, rung) };
  }

  /** Widens a compact block into the reusable FP32 buffers (native, multithreaded), right before it runs. */
  expandCompact(block: CompactBlock): LayerWeights {
    const out = this.current as unknown as Record<LayerKey, Float32Array | null>;
    for (const t of block.tensors) {
      if (t.values !== null) {
        out[t.key] = t.values;
        continue;
      }
      const buf = this.buffer(t.key, [t.symbols!.length]);
      expandPlanes(t.symbols!, t.planes, t.keep, t.dtype, buf, this.threads);
      out[t.key] = buf;
    }
    return this.current;
  }

  close(): void {
    this.resident = null;
    this.buffers.clear();
    this.globals.clear();
    this.file.close();
  }

  private tensorsOf(layerIndex: number): ExpectedTensor[] {
    const tensors = this.layerTensors[layerIndex];
    if (tensors === undefined) throw new RangeError(`layer ${layerIndex} out of range 0..${this.layerTensors.length - 1}`);
    return tensors;
  }

  private buffer(key: LayerKey, shape: number[]): Float32Array {
    const n = shape.reduce((a, d) => a * d, 1);
    let buf = this.buffers.get(key);
    if (buf === undefined || buf.length !== n) {
      buf = new Float32Array(n);
      this.buffers.set(key, buf);
    }
    return buf;
  }

  /** Reads each segment a block touches once, with the parts `rung` needs (a block's tensors share one segment). */
  private reader(rung: PrecisionRung): (segment: number) => Uint8Array {
    let memo: { segment: number; bytes: Uint8Array } | null = null;
    return (segment) => {
      if (memo?.segment !== segment) memo = { segment, bytes: this.source(segment, rung.planes) };
      return memo.bytes;
    };
  }

  /** Index of the segment holding block `layerIndex`. */
  segmentOfLayer(layerIndex: number): number {
    return this.file.tensor(this.tensorsOf(layerIndex)[0].name).segment;
  }

  private decode(t: TensorEntry, out: Float32Array, keep: number, read: (segment: number) => Uint8Array): Float32Array {
    this.file.decodeInto(t, read(t.segment), out, this.threads, keep);
    return out;
  }

  private global(name: string): Float32Array {
    let data = this.globals.get(name);
    if (data === undefined) {
      const t = this.file.tensor(name);
      data = this.decode(t, new Float32Array(t.shape.reduce((a, d) => a * d, 1)), NUM_PARTS, this.reader(LOSSLESS_RUNG));
      this.globals.set(name, data);
    }
    return data;
  }
}

const empty = new Float32Array(0);
