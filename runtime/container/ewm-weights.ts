// WeightProvider over an .ewm container: compressed segments stay resident, each block decodes just in time.

import { availableParallelism } from 'node:os';
import type { BlockDecodeStats, LayerWeights, WeightProvider } from '../engine/runner-types.js';
import type { ModelConfig } from '../model/model-config.js';
import { checkTensors, type ExpectedTensor } from '../model/hf-weights.js';
import type { TensorInfo } from '../model/safetensors.js';
import { EwmFile } from './ewm-reader.js';

export interface EwmWeightOptions {
  /** Decode threads per tensor; default EDGEWISE_DECODE_THREADS or min(4, cores). */
  threads?: number;
  /** (segments read, segments total) while loading the compressed store. */
  onProgress?: (done: number, total: number) => void;
}

type LayerKey = keyof LayerWeights;

export function defaultDecodeThreads(): number {
  const env = Number(process.env.EDGEWISE_DECODE_THREADS);
  return Number.isInteger(env) && env > 0 ? env : Math.min(4, availableParallelism());
}

/**
 * NOTE: embedding, final norm and LM head are decoded once and kept (the runner reads them every
 * step); transformer blocks are decoded into one set of reusable buffers on every `layer()` call.
 * Decoded-block caching is a later issue.
 */
export class EwmWeightProvider implements WeightProvider {
  readonly config: ModelConfig;
  /** Bytes of compressed segments held in memory. */
  readonly residentBytes: number;
  private readonly file: EwmFile;
  private readonly segments: Uint8Array[];
  private readonly layerTensors: ExpectedTensor[][];
  private readonly buffers = new Map<LayerKey, Float32Array>();
  private readonly current: LayerWeights;
  private readonly globals = new Map<string, Float32Array>();
  private readonly threads: number;

  private constructor(file: EwmFile, config: ModelConfig, segments: Uint8Array[], expected: ExpectedTensor[], threads: number) {
    this.file = file;
    this.config = config;
    this.segments = segments;
    this.threads = threads;
    this.residentBytes = segments.reduce((a, s) => a + s.length, 0);
    this.layerTensors = Array.from({ length: config.numLayers }, () => []);
    for (const t of expected) if (t.layerIndex !== undefined) this.layerTensors[t.layerIndex].push(t);
    this.current = {
      inputNorm: empty, qProj: empty, kProj: empty, vProj: empty, qBias: null, kBias: null, vBias: null, oProj: empty,
      oBias: null, postAttentionNorm: empty, gateProj: empty, upProj: empty, downProj: empty, gateBias: null, upBias: null, downBias: null,
    };
  }

  /** Opens `path`, checks names and shapes against `config`, reads and checksums every segment. */
  static open(path: string, config: ModelConfig, options: EwmWeightOptions = {}): EwmWeightProvider {
    const file = EwmFile.open(path);
    try {
      const view = {
        has: (name: string) => file.has(name),
        info: (name: string) => ({ name, shape: file.tensor(name).shape }) as unknown as TensorInfo,
      };
      const expected = checkTensors(view, config, path);
      const segments: Uint8Array[] = [];
      const total = file.metadata.segments.length;
      for (let i = 0; i < total; i++) {
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

  /** The open container and its checked segment bytes (the webgpu backend uploads them compressed). */
  get container(): { file: EwmFile; segments: readonly Uint8Array[] } {
    return { file: this.file, segments: this.segments };
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

  async layer(layerIndex: number): Promise<LayerWeights> {
    const tensors = this.layerTensors[layerIndex];
    if (tensors === undefined) throw new RangeError(`layer ${layerIndex} out of range 0..${this.layerTensors.length - 1}`);
    const startMs = performance.now();
    const out = this.current as unknown as Record<LayerKey, Float32Array | null>;
    for (const t of tensors) out[t.layerKey!] = this.decode(t.name, this.buffer(t.layerKey!, t.shape));
    this.decodeStats.count++;
    this.decodeStats.totalMs += performance.now() - startMs;
    return this.current;
  }

  close(): void {
    this.segments.length = 0;
    this.buffers.clear();
    this.globals.clear();
    this.file.close();
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

  private decode(name: string, out: Float32Array): Float32Array {
    const t = this.file.tensor(name);
    this.file.decodeInto(t, this.segments[t.segment], out, this.threads);
    return out;
  }

  private global(name: string): Float32Array {
    let data = this.globals.get(name);
    if (data === undefined) {
      const t = this.file.tensor(name);
      data = this.decode(name, new Float32Array(t.shape.reduce((a, d) => a * d, 1)));
      this.globals.set(name, data);
    }
    return data;
  }
}

const empty = new Float32Array(0);
