// ModelRunner on WebGPU: the whole forward pass (embedding to logits) as WGSL dispatches, KV caches resident on the GPU.

import type { ModelConfig } from '../model/model-config.js';
import type { BatchEntry, ModelRunner, SequenceOptions, WeightProvider } from './runner-types.js';
import { EdgewiseError, InvalidRequestError } from '../errors.js';
import { RopeTables } from './rope.js';
import { checkLayerIndices, checkStepEntries, lookupSequence } from './step-validation.js';
import { StepGate } from './step-gate.js';
import { openGpu, type GpuContext } from '../../kernels/webgpu/device.js';
import { GpuError, KernelRuntime } from '../../kernels/webgpu/kernel-runtime.js';
import { matmul, type MatmulWeight } from '../../kernels/webgpu/matmul.js';
import { gather, rmsnorm } from '../../kernels/webgpu/norm-gather.js';
import { attention, kvStore, META_STRIDE, rope } from '../../kernels/webgpu/attention.js';
import { GpuKvPool } from './webgpu-kv.js';
import { uploadResidentWeights, type GpuWeightSource } from './webgpu-weights.js';
import { WebgpuScratch } from './webgpu-scratch.js';
import { EwmWeightProvider } from '../container/ewm-weights.js';
import { ewmLayerSpecs, uploadCompressedWeights, type CompressedMode, type JitUnit } from './webgpu-ewm-weights.js';
import { exactBf16 } from './webgpu-weights.js';
import { LOSSLESS, precisionRung, type PrecisionName } from '../container/precision.js';

export interface WebgpuRunnerOptions {
  /** Longest sequence (prompt + generated) a cache may hold; default min(config context, 4096). */
  maxSeqLen?: number;
  /** An already open device (shared with a weight source); the runner opens its own otherwise and closes it on dispose. */
  gpu?: GpuContext;
  /** Builds the GPU weights (e.g. compressed, decoded just in time); default uploads the provider's weights once. */
  weightSource?: (rt: KernelRuntime) => Promise<GpuWeightSource>;
  /** For .ewm weights: decode blocks just in time ('jit', default) or fuse decode into small-batch GEMVs ('fused'); env EDGEWISE_WEBGPU_DECODE. */
  compressedMode?: CompressedMode;
  /** For .ewm weights in 'jit' mode: one decode dispatch per block (default) or per matrix; env EDGEWISE_WEBGPU_JIT_UNIT. */
  jitUnit?: JitUnit;
  /** 'hardware' runs the GEMV/GEMM kernels even on a software adapter (tests); default picks by adapter. */
  kernels?: 'auto' | 'hardware';
  /**
   * Precision rung of sequences created without one (default bf16): for .ewm weights the blocks
   * are decoded on the GPU from the bit-planes that rung keeps (docs/format.md 2.6).
   */
  precision?: PrecisionName;
}

/** Sequence options the webgpu runner reads: blocks, and the precision rung (the adaptive runner passes it per request). */
export interface WebgpuSequenceOptions extends SequenceOptions {
  precision?: string;
}

/**
 * The default weight source: an .ewm container's blocks stay compressed on the GPU and are
 * decoded there; any other provider's weights are uploaded once.
 */
function defaultSource(weights: WeightProvider, mode: CompressedMode, jitUnit?: JitUnit): (rt: KernelRuntime) => Promise<GpuWeightSource> {
  if (!(weights instanceof EwmWeightProvider)) return (rt) => uploadResidentWeights(rt, weights);
  return (rt) => {
    // NOTE: the container's own segments (version 2, all three planes) go to the GPU as stored: one resident store serves
    // every rung, a lower rung's kernels read fewer of its planes. The provider's resident copies are uploaded, not re-read.
    const file = weights.ewm;
    const segments = file.metadata.segments.map((_, i) => weights.segment(i));
    const dense = (v: Float32Array): Float32Array | Uint16Array => exactBf16(v) ?? v;
    const embedding = dense(weights.embedding());
    const lmHead = weights.config.tieWordEmbeddings ? embedding : dense(weights.lmHead());
    const specs = ewmLayerSpecs(file, [...segments], weights.config);
    return uploadCompressedWeights(rt, weights.config, specs, { embedding, lmHead, finalNorm: weights.finalNorm() }, mode, { jitUnit });
  };
}

interface GpuSequence {
  slot: number;
  length: number;
  layers: number[];
  /** Bit-planes its precision rung reads (3 = lossless). */
  keep: 1 | 2 | 3;
  /** Sequences with the same key run the same blocks at the same rung and share one pass. */
  key: string;
}

export async function createWebgpuRunner(weights: WeightProvider, options: WebgpuRunnerOptions = {}): Promise<ModelRunner> {
  const config = weights.config;
  if (config.numHeads % config.numKvHeads !== 0) {
    throw new EdgewiseError('unsupported_model', `num_attention_heads ${config.numHeads} is not a multiple of num_key_value_heads ${config.numKvHeads}`);
  }
  if (config.headDim > 256 || config.hiddenSize % 2 || config.intermediateSize % 2 || config.headDim % 2) {
    throw new EdgewiseError('unsupported_model', 'the webgpu backend needs even hidden/intermediate sizes and head_dim <= 256');
  }
  const maxSeqLen = options.maxSeqLen ?? Math.min(config.maxPositionEmbeddings, 4096);
  if (!Number.isInteger(maxSeqLen) || maxSeqLen < 1) throw new InvalidRequestError(`maxSeqLen must be a positive integer, got ${maxSeqLen}`, 'maxSeqLen');
  const gpu = options.gpu ?? (await openGpu());
  if (!gpu) throw new EdgewiseError('unavailable', 'no WebGPU adapter found (see docs: SwiftShader needs chromium + libvulkan1)');
  const rt = new KernelRuntime(gpu, { kernels: options.kernels });
  try {
    const envMode = process.env.EDGEWISE_WEBGPU_DECODE;
    const mode = options.compressedMode ?? (envMode === 'fused' ? 'fused' : 'jit');
    const source = await (options.weightSource ?? defaultSource(weights, mode, options.jitUnit))(rt);
    try {
      return new WebgpuRunner(config, rt, source, maxSeqLen, options.gpu === undefined, options.precision ?? LOSSLESS);
    } catch (err) {
      source.destroy();
      throw err;
    }
  } catch (err) {
    if (options.gpu === undefined) gpu.destroy();
    throw err;
  }
}

export class WebgpuRunner implements ModelRunner {
  private readonly sequences = new Map<number, GpuSequence>();
  private readonly kv: GpuKvPool;
  private readonly cos: GPUBuffer;
  private readonly sin: GPUBuffer;
  private readonly scratch: WebgpuScratch;
  private readonly gate = new StepGate();

  constructor(
    readonly config: ModelConfig,
    readonly rt: KernelRuntime,
    private readonly source: GpuWeightSource,
    readonly maxSeqLen: number,
    private readonly ownsDevice: boolean,
    private readonly defaultPrecision: PrecisionName = LOSSLESS,
  ) {
    this.keepOf(defaultPrecision, 'precision');
    this.kv = new GpuKvPool(rt, config, maxSeqLen);
    const tables = new RopeTables(config, maxSeqLen);
    const cos = new Float32Array(maxSeqLen * config.headDim);
    const sin = new Float32Array(maxSeqLen * config.headDim);
    tables.fill(Array.from({ length: maxSeqLen }, (_, p) => p), cos, sin);
    this.cos = rt.upload(cos, 'rope-cos');
    this.sin = rt.upload(sin, 'rope-sin');
    this.scratch = new WebgpuScratch(rt, config);
  }

  /** GPU bytes held: weights, KV caches, activations (what the memory governor should count). */
  get gpuBytes(): number {
    return this.source.gpuBytes + this.kv.gpuBytes + this.scratch.gpuBytes + this.cos.size * 2;
  }

  createSequence(seqId: number, options?: WebgpuSequenceOptions): void {
    if (this.sequences.has(seqId)) throw new InvalidRequestError(`sequence ${seqId} already exists`, 'seqId');
    const layers = checkLayerIndices(options?.layerIndices, this.config.numLayers);
    const keep = this.keepOf(options?.precision ?? this.defaultPrecision, 'precision');
    this.sequences.set(seqId, { slot: this.kv.acquire(), length: 0, layers, keep, key: `${keep}:${layers.join(',')}` });
  }

  /** Bit-planes of rung `name`; throws InvalidRequestError for an unknown rung or one the weights do not serve. */
  private keepOf(name: string, param: string): 1 | 2 | 3 {
    const rung = precisionRung(name, param);
    const served = this.source.precisions ?? [LOSSLESS];
    if (!served.includes(rung.name)) throw new InvalidRequestError(`precision "${name}" is not served by these webgpu weights; they serve: ${served.join(', ')}`, param);
    return rung.planes as 1 | 2 | 3;
  }

  freeSequence(seqId: number): void {
    const seq = this.sequences.get(seqId);
    if (!seq) return;
    this.kv.release(seq.slot);
    this.sequences.delete(seqId);
  }

  sequenceLength(seqId: number): number {
    return this.getSequence(seqId).length;
  }

  private getSequence(seqId: number): GpuSequence {
    return lookupSequence(this.sequences, seqId);
  }

  async step(entries: BatchEntry[]): Promise<Float32Array[]> {
    return this.gate.run(async () => {
      if (entries.length === 0) return [];
      try {
        const seqs = checkStepEntries(entries, (id) => this.getSequence(id), { maxSeqLen: this.maxSeqLen, vocabSize: this.config.vocabSize });
        // NOTE: sequences running different block subsets (depth switching) or rungs go in separate passes; usually there is one.
        const groups = new Map<string, number[]>();
        seqs.forEach((s, b) => groups.set(s.key, [...(groups.get(s.key) ?? []), b]));
        const results: Float32Array[] = new Array(entries.length);
        for (const members of groups.values()) {
          const logits = await this.runPass(members.map((b) => entries[b]), members.map((b) => seqs[b]));
          members.forEach((b, i) => (results[b] = logits[i]));
        }
        return results;
      } catch (err) {
        if (err instanceof GpuError) throw new EdgewiseError('engine_fatal', err.message, { cause: err });
        throw err;
      }
    });
  }

  /** One forward pass of sequences that run the same blocks: records every dispatch into one command buffer. */
  private async runPass(entries: BatchEntry[], seqs: GpuSequence[]): Promise<Float32Array[]> {
    const V = this.config.vocabSize;
    const enc = this.rt.device.createCommandEncoder();
    const { logits, rows } = this.encodePass(enc, entries, seqs);
    this.rt.submit(enc);
    const all = await this.rt.readF32(logits, rows * V);
    seqs.forEach((seq, b) => (seq.length += entries[b].tokenIds.length));
    let row = 0;
    return entries.map((e) => {
      const n = e.allLogits ? e.tokenIds.length : 1;
      const out = all.slice(row * V, (row + n) * V);
      row += n;
      return out;
    });
  }

  /**
   * GPU seconds per step of `entries` (sequences not advanced, nothing read back): the step is
   * recorded `repeats` times into one command buffer, so JS encoding and the logits readback
   * are excluded. For benchmarks; the KV rows of the step are rewritten with the same values.
   */
  async timeGpuStep(entries: BatchEntry[], repeats: number): Promise<number> {
    if (this.gate.busy || this.gate.disposed) throw new EdgewiseError('engine_fatal', 'timeGpuStep while a step runs or after dispose');
    const seqs = checkStepEntries(entries, (id) => this.getSequence(id), { maxSeqLen: this.maxSeqLen, vocabSize: this.config.vocabSize });
    if (new Set(seqs.map((s) => s.key)).size !== 1) throw new InvalidRequestError('timeGpuStep needs sequences with the same blocks and rung', 'seqId');
    const record = (n: number): GPUCommandBuffer => {
      const enc = this.rt.device.createCommandEncoder();
      for (let i = 0; i < n; i++) this.encodePass(enc, entries, seqs);
      return this.rt.finish(enc);
    };
    this.rt.device.queue.submit([record(1)]);
    await this.rt.device.queue.onSubmittedWorkDone();
    // NOTE: the clock starts after the JavaScript recording, at the submit, so the figure is the GPU's (plus Dawn's submit).
    const commands = record(repeats);
    const t0 = performance.now();
    this.rt.device.queue.submit([commands]);
    await this.rt.device.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / 1000 / repeats;
  }

  /** Records one forward pass into `enc`; returns the logits buffer and its row count. */
  private encodePass(enc: GPUCommandEncoder, entries: BatchEntry[], seqs: GpuSequence[]): { logits: GPUBuffer; rows: number } {
    const { hiddenSize: H, numHeads: nH, numKvHeads: nKv, headDim: hd, intermediateSize: I, vocabSize: V, rmsNormEps: eps } = this.config;
    const rt = this.rt;
    const T = entries.reduce((n, e) => n + e.tokenIds.length, 0);
    const meta = new Uint32Array(T * META_STRIDE);
    const pickRows: number[] = [];
    let at = 0;
    entries.forEach((e, b) => {
      e.tokenIds.forEach((id, i) => meta.set([id, seqs[b].length + i, seqs[b].slot, 0], (at + i) * META_STRIDE));
      if (e.allLogits) for (let i = 0; i < e.tokenIds.length; i++) pickRows.push(at + i);
      else pickRows.push(at + e.tokenIds.length - 1);
      at += e.tokenIds.length;
    });
    const R = pickRows.length;
    const s = this.scratch.ensure(T, R);
    rt.write(s.meta, meta);
    rt.write(s.pick, Uint32Array.from(pickRows));
    const mm = (enc: GPUCommandEncoder, x: GPUBuffer, w: MatmulWeight, y: GPUBuffer, bias: GPUBuffer | null, m: number, n: number, k: number) =>
      matmul(rt, enc, { x, w, y, bias, m, n, k });
    gather(rt, enc, { ids: s.meta, idStride: META_STRIDE, table: this.source.embedding, out: s.hidden, hidden: H, count: T });
    for (const layer of seqs[0].layers) {
      const L = this.source.layer(layer, enc, T, seqs[0].keep);
      rmsnorm(rt, enc, { x: s.hidden, weight: L.inputNorm, y: s.xn, hidden: H, rows: T, eps });
      mm(enc, s.xn, L.qProj, s.q, L.qBias, T, nH * hd, H);
      mm(enc, s.xn, L.kProj, s.k, L.kBias, T, nKv * hd, H);
      mm(enc, s.xn, L.vProj, s.v, L.vBias, T, nKv * hd, H);
      rope(rt, enc, { meta: s.meta, cos: this.cos, sin: this.sin, x: s.q, tokens: T, heads: nH, headDim: hd, second: { x: s.k, heads: nKv } });
      const kCache = this.kv.keys[layer];
      const vCache = this.kv.values[layer];
      kvStore(rt, enc, { meta: s.meta, k: s.k, v: s.v, kCache, vCache, tokens: T, kvHeads: nKv, headDim: hd, maxLen: this.maxSeqLen });
      attention(rt, enc, { meta: s.meta, q: s.q, kCache, vCache, out: s.attn, tokens: T, heads: nH, kvHeads: nKv, headDim: hd, maxLen: this.maxSeqLen });
      // NOTE: the residual adds ride in the o/down products (y += ...): two dispatches and barriers fewer per block.
      matmul(rt, enc, { x: s.attn, w: L.oProj, y: s.hidden, bias: L.oBias, m: T, n: H, k: nH * hd, accumulate: true });
      rmsnorm(rt, enc, { x: s.hidden, weight: L.postAttentionNorm, y: s.xn, hidden: H, rows: T, eps });
      mm(enc, s.xn, L.gateProj, s.gate, L.gateBias, T, I, H);
      // The SiLU gate rides in the up product's epilogue: act = silu(gate) * (x · Wupᵀ + b).
      matmul(rt, enc, { x: s.xn, w: L.upProj, y: s.act, bias: L.upBias, m: T, n: I, k: H, gate: s.gate });
      matmul(rt, enc, { x: s.act, w: L.downProj, y: s.hidden, bias: L.downBias, m: T, n: H, k: I, accumulate: true });
    }
    gather(rt, enc, { ids: s.pick, idStride: 1, table: { buffer: s.hidden, format: 'f32' }, out: s.rows, hidden: H, count: R });
    rmsnorm(rt, enc, { x: s.rows, weight: this.source.finalNorm, y: s.rowsNorm, hidden: H, rows: R, eps });
    mm(enc, s.rowsNorm, this.source.lmHead, s.logits, null, R, V, H);
    return { logits: s.logits, rows: R };
  }

  async dispose(): Promise<void> {
    if (!this.gate.close()) return;
    this.sequences.clear();
    this.kv.destroy();
    this.scratch.destroy();
    this.source.destroy();
    this.cos.destroy();
    this.sin.destroy();
    if (this.ownsDevice) this.rt.gpu.destroy();
  }
}
