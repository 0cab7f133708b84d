// ModelRunner on onnxruntime-node: one session.run per transformer block per step, weights fed as inputs.

import type { ModelConfig } from '../model/model-config.js';
import type { BatchEntry, LayerWeights, ModelRunner, SequenceOptions, WeightProvider } from './runner-types.js';
import { EdgewiseError, InvalidRequestError } from '../errors.js';
import { blockInputName, blockOutputName, blockWeightShapes, buildBlockGraph, buildHeadGraph, headInputName, headOutputName, ROPE_INPUT } from './block-graph.js';
import { SequenceKvCache } from './kv-cache.js';
import { checkLayerIndices, checkStepEntries, lookupSequence } from './step-validation.js';
import { RopeTables } from './rope.js';
import { createSession, floatTensor, ort, type GraphSession } from './ort-session.js';
import { NativeDecodeStep, nativeDecodeWanted } from './native-decode.js';
import { StepGate } from './step-gate.js';

export interface OrtRunnerOptions {
  /** Longest sequence (prompt + generated) a cache may hold; default min(config context, 4096). */
  maxSeqLen?: number;
  /** onnxruntime intra-op threads; default lets onnxruntime choose. */
  threads?: number;
  /**
   * Most new tokens of one sequence per block run (default 256); longer prefills run in chunks
   * so attention scores stay at numHeads × chunk × context floats instead of growing quadratically.
   */
  chunkTokens?: number;
  /**
   * Run decode-only blocks (every sequence adds one token) in the native addon instead of
   * onnxruntime; default true when the addon is built (EDGEWISE_NATIVE_DECODE=0 turns it off).
   */
  nativeDecode?: boolean;
}

/** An LM head up to this size is baked into the head session as a prepacked initializer. */
const BAKED_LM_HEAD_MAX_BYTES = 64 * 2 ** 20;

/** A batch entry as one block run sees it: which logits rows it must return. */
type RunEntry = BatchEntry & { logits: 'last' | 'all' | 'none' };

/*
 * NOTE: batching design. All new tokens of all sequences in a step are laid back to back as
 * one [T, hidden] matrix, so every projection and the MLP is one Gemm per weight for the
 * whole batch (weights are read once per step, which is what decode speed depends on), with
 * no padding. Attention is per sequence inside the same graph: the graph for B sequences
 * splits Q/K/V by the per-sequence token counts and attends each slice to that sequence's own
 * cache (past K/V fed as zero-copy views of token-major buffers, causal mask derived from the
 * shapes), so prefill and decode mix freely. One session per B (built lazily) serves every
 * layer. Batch-1 decode thus runs exactly one session.run per block with no mask/padding
 * overhead beyond the monolithic graph's. com.microsoft.GroupQueryAttention over a batch
 * needs every sequence to add the same number of tokens; used per slot instead (batch 1,
 * past and present bound to one head-major buffer, updated in place) it was exact but not
 * faster here (decode at 64 and 400 cached tokens, default model) and it rejects head_dim
 * not a multiple of 8, so the plain-op attention stayed.
 *
 * NOTE: decode speed vs one monolithic graph (bench/engine-bench.ts, default model, 1 thread).
 * On onnxruntime alone the block-wise engine reached only about 0.7 of the monolithic graph's
 * batch-1 decode speed, for two measured reasons of about equal weight: (1) onnxruntime
 * prepacks only constant weights, so fed weights go through MLAS's unpacked M=1 kernels
 * (the monolithic graph with prepacking off loses 15-19%); (2) each session.run costs ~36 µs
 * of onnxruntime-node overhead (N-API conversions, malloc), paid once per block per step.
 * Tried without gain: fused q/k/v and gate/up inputs, [in, out] layout, 16-column panels,
 * forcing M>1, per-slot GroupQueryAttention, kept tensors, enableMemPattern off.
 * So a step in which every sequence adds exactly one token runs each block in the native
 * decode step (native-decode.ts, kernels/codec/src/cpu-forward.cc): one synchronous call per
 * block, AVX2 GEMVs that read each weight once for the whole batch. Prefill, mixed and
 * chunked steps stay on onnxruntime, where batched GEMMs are what it does well.
 */
export async function createOrtRunner(weights: WeightProvider, options: OrtRunnerOptions = {}): Promise<ModelRunner> {
  const config = weights.config;
  if (config.numHeads % config.numKvHeads !== 0) {
    throw new EdgewiseError('unsupported_model', `num_attention_heads ${config.numHeads} is not a multiple of num_key_value_heads ${config.numKvHeads}`);
  }
  const maxSeqLen = options.maxSeqLen ?? Math.min(config.maxPositionEmbeddings, 4096);
  if (!Number.isInteger(maxSeqLen) || maxSeqLen < 1) throw new InvalidRequestError(`maxSeqLen must be a positive integer, got ${maxSeqLen}`, 'maxSeqLen');
  // NOTE: the LM head is resident (not decoded per step), so when small it is baked into the
  // head session, where onnxruntime prepacks it: its GEMV is the largest of a decode step.
  // That costs one more copy of it (at most 64 MiB) and assumes lmHead() never changes.
  const bakeHead = config.vocabSize * config.hiddenSize * 4 <= BAKED_LM_HEAD_MAX_BYTES;
  const baked = bakeHead ? { norm: weights.finalNorm(), lmHead: weights.lmHead() } : null;
  const chunkTokens = options.chunkTokens ?? 256;
  if (!Number.isInteger(chunkTokens) || chunkTokens < 1) throw new InvalidRequestError(`chunkTokens must be a positive integer, got ${chunkTokens}`, 'chunkTokens');
  const head = await createSession(buildHeadGraph(config, baked), options.threads, 'LM head');
  const native = (options.nativeDecode ?? true) && nativeDecodeWanted() ? new NativeDecodeStep(config, options.threads) : null;
  return new OrtRunner(weights, config, maxSeqLen, options.threads, head, bakeHead, chunkTokens, native);
}

class OrtRunner implements ModelRunner {
  private readonly sequences = new Map<number, SequenceKvCache>();
  private readonly blockSessions = new Map<number, Promise<GraphSession>>();
  private readonly rope: RopeTables;
  private readonly rowSize: number; // kvHeads * headDim
  private readonly weightKeys: { key: keyof LayerWeights; dims: number[] }[];
  private readonly gate = new StepGate();

  constructor(
    private readonly weights: WeightProvider,
    readonly config: ModelConfig,
    readonly maxSeqLen: number,
    private readonly threads: number | undefined,
    private readonly headSession: GraphSession,
    private readonly headIsBaked: boolean,
    private readonly chunkTokens: number,
    private readonly native: NativeDecodeStep | null,
  ) {
    this.rope = new RopeTables(config, maxSeqLen);
    this.rowSize = config.numKvHeads * config.headDim;
    this.weightKeys = blockWeightShapes(config);
  }

  createSequence(seqId: number, options?: SequenceOptions): void {
    if (this.sequences.has(seqId)) throw new InvalidRequestError(`sequence ${seqId} already exists`, 'seqId');
    const layers = checkLayerIndices(options?.layerIndices, this.config.numLayers);
    this.sequences.set(seqId, new SequenceKvCache(layers, this.rowSize, this.maxSeqLen));
  }

  freeSequence(seqId: number): void {
    this.sequences.delete(seqId);
  }

  sequenceLength(seqId: number): number {
    return this.getSequence(seqId).length;
  }

  private getSequence(seqId: number): SequenceKvCache {
    return lookupSequence(this.sequences, seqId);
  }

  private blockSession(numSlots: number): Promise<GraphSession> {
    let session = this.blockSessions.get(numSlots);
    if (session === undefined) {
      session = createSession(buildBlockGraph(this.config, numSlots), this.threads, `${numSlots}-sequence block`);
      this.blockSessions.set(numSlots, session);
      session.catch(() => this.blockSessions.delete(numSlots));
    }
    return session;
  }

  async step(entries: BatchEntry[]): Promise<Float32Array[]> {
    return this.gate.run(async () => {
      if (entries.length === 0) return [];
      // Before any work, so a bad entry leaves every cache as it was.
      checkStepEntries(entries, (id) => this.getSequence(id), { maxSeqLen: this.maxSeqLen, vocabSize: this.config.vocabSize });
      if (entries.every((e) => e.tokenIds.length <= this.chunkTokens)) {
        return await this.runStep(entries.map((e) => ({ ...e, logits: e.allLogits ? 'all' : 'last' })));
      }
      return await this.runChunked(entries);
    });
  }

  /** Long entries advance `chunkTokens` at a time; each entry's logits are gathered across chunks. */
  private async runChunked(entries: BatchEntry[]): Promise<Float32Array[]> {
    const parts: Float32Array[][] = entries.map(() => []);
    for (let from = 0; ; from += this.chunkTokens) {
      const live = entries.map((_, i) => i).filter((i) => entries[i].tokenIds.length > from);
      if (live.length === 0) break;
      const sub: RunEntry[] = live.map((i) => {
        const e = entries[i];
        const isLast = from + this.chunkTokens >= e.tokenIds.length;
        const logits = e.allLogits ? 'all' : isLast ? 'last' : 'none';
        return { seqId: e.seqId, tokenIds: e.tokenIds.slice(from, from + this.chunkTokens), logits };
      });
      const out = await this.runStep(sub);
      sub.forEach((e, j) => {
        if (e.logits !== 'none') parts[live[j]].push(out[j]);
      });
    }
    return parts.map((p) => {
      if (p.length === 1) return p[0];
      const joined = new Float32Array(p.reduce((n, a) => n + a.length, 0));
      let at = 0;
      for (const a of p) {
        joined.set(a, at);
        at += a.length;
      }
      return joined;
    });
  }

  private async runStep(entries: RunEntry[]): Promise<Float32Array[]> {
    const seqs = entries.map((e) => this.getSequence(e.seqId));
    const H = this.config.hiddenSize;
    const hd = this.config.headDim;
    const counts = entries.map((e) => e.tokenIds.length);
    const starts: number[] = [];
    let total = 0;
    for (const c of counts) {
      starts.push(total);
      total += c;
    }
    // Embedding gather and RoPE rows in TypeScript: plain row copies.
    const hidden = new Float32Array(total * H);
    const embedding = this.weights.embedding();
    const positions = new Int32Array(total);
    entries.forEach((e, b) => {
      e.tokenIds.forEach((id, i) => {
        hidden.set(embedding.subarray(id * H, (id + 1) * H), (starts[b] + i) * H);
        positions[starts[b] + i] = seqs[b].length + i;
      });
    });
    const rope = new Float32Array(total * 2 * hd);
    this.rope.fillInterleaved(positions, rope);
    for (let b = 0; b < seqs.length; b++) seqs[b].reserve(seqs[b].length + counts[b]);

    const layerSet = new Set<number>();
    for (const s of seqs) for (const l of s.layerIndices) layerSet.add(l);
    const layers = [...layerSet].sort((a, b) => a - b);
    for (const layer of layers) {
      // Sequences that skip this block keep their hidden rows; the others run as a sub-batch.
      const active = seqs.map((s, b) => (s.hasLayer(layer) ? b : -1)).filter((b) => b >= 0);
      await this.runBlockRows(layer, active, seqs, counts, starts, hidden, rope);
    }
    for (let b = 0; b < seqs.length; b++) seqs[b].commit(counts[b]);
    return this.runHead(entries, hidden, starts, counts);
  }

  /**
   * Runs block `layer` for the sequences `which` (indices into seqs), reading and writing their
   * rows of `hidden` in place. Sequences adding one token go to the native decode step, the
   * others to onnxruntime, so a prefill joining the batch does not move the decodes off it.
   */
  private async runBlockRows(
    layer: number,
    which: number[],
    seqs: SequenceKvCache[],
    counts: number[],
    starts: number[],
    hidden: Float32Array,
    rope: Float32Array,
  ): Promise<void> {
    const { hiddenSize: H, headDim: hd } = this.config;
    const decodes = this.native === null ? [] : which.filter((b) => counts[b] === 1);
    const others = which.filter((b) => !decodes.includes(b));
    // Fetched once for both paths: a container provider decodes the block on every call.
    const lw = await this.weights.layer(layer);
    if (decodes.length > 0) {
      const ranges = decodes.map((b) => ({ start: starts[b], count: 1 }));
      // When every sequence decodes, the rows are already back to back in order.
      const all = decodes.length === seqs.length;
      const x = all ? hidden : gatherRows(hidden, H, ranges);
      try {
        const caches = decodes.map((b) => ({ ...seqs[b].withSlots(layer, 1), pastLength: seqs[b].length }));
        this.native!.run(x, all ? rope : gatherRows(rope, 2 * hd, ranges), lw, caches);
      } catch (err) {
        throw new EdgewiseError('engine_fatal', `block ${layer} failed in the native decode step: ${(err as Error).message}`, { cause: err });
      }
      if (x !== hidden) scatterRows(hidden, x, H, ranges);
    }
    if (others.length > 0) {
      const ranges = others.map((b) => ({ start: starts[b], count: counts[b] }));
      const whole = others.length === seqs.length;
      const out = await this.runBlock(
        layer,
        lw,
        others.map((b) => seqs[b]),
        others.map((b) => counts[b]),
        whole ? hidden : gatherRows(hidden, H, ranges),
        whole ? rope : gatherRows(rope, 2 * hd, ranges),
      );
      scatterRows(hidden, out, H, ranges);
    }
  }

  private async runBlock(
    layer: number,
    lw: LayerWeights,
    seqs: SequenceKvCache[],
    counts: number[],
    hidden: Float32Array,
    rope: Float32Array,
  ): Promise<Float32Array> {
    const { hiddenSize: H, numKvHeads: kvH, headDim: hd } = this.config;
    const session = await this.blockSession(seqs.length);
    const total = hidden.length / H;
    const feeds: Record<string, ort.Tensor> = {
      [blockInputName.hidden]: floatTensor(hidden, [total, H]),
      [ROPE_INPUT]: floatTensor(rope, [total, 2, hd]),
    };
    if (seqs.length > 1) {
      feeds[blockInputName.splitSizes] = new ort.Tensor('int64', BigInt64Array.from(counts.map((c) => BigInt(c))), [counts.length]);
    }
    const fetches: Record<string, ort.Tensor | null> = { [blockOutputName.hidden]: null };
    seqs.forEach((seq, i) => {
      const past = seq.past(layer);
      feeds[blockInputName.pastK(i)] = floatTensor(past.keys, [seq.length, kvH, hd]);
      feeds[blockInputName.pastV(i)] = floatTensor(past.values, [seq.length, kvH, hd]);
      // New K/V land straight in the cache after the stored rows (preallocated outputs).
      const fresh = seq.slotsFor(layer, counts[i]);
      fetches[blockOutputName.newK(i)] = floatTensor(fresh.keys, [counts[i], kvH, hd]);
      fetches[blockOutputName.newV(i)] = floatTensor(fresh.values, [counts[i], kvH, hd]);
    });
    for (const { key, dims } of this.weightKeys) {
      const data = lw[key];
      if (data === null) throw new EdgewiseError('model_format', `layer ${layer}: weight ${key} is missing`);
      feeds[blockInputName.weight(key)] = floatTensor(data, dims);
    }
    let result: Record<string, ort.Tensor>;
    try {
      result = await session.run(feeds, fetches);
    } catch (err) {
      throw new EdgewiseError('engine_fatal', `block ${layer} failed in onnxruntime: ${(err as Error).message}`, { cause: err });
    }
    return result[blockOutputName.hidden].data as Float32Array;
  }

  /** Logits rows per entry (empty for 'none'); only the rows wanted go through the LM head. */
  private async runHead(entries: RunEntry[], hidden: Float32Array, starts: number[], counts: number[]): Promise<Float32Array[]> {
    const H = this.config.hiddenSize;
    const V = this.config.vocabSize;
    const picks = entries.map((e, b) =>
      e.logits === 'all' ? { from: starts[b], n: counts[b] } : { from: starts[b] + counts[b] - 1, n: e.logits === 'last' ? 1 : 0 },
    );
    const numRows = picks.reduce((n, p) => n + p.n, 0);
    if (numRows === 0) return entries.map(() => new Float32Array(0));
    let rows = hidden;
    if (numRows * H !== hidden.length) {
      rows = new Float32Array(numRows * H);
      let at = 0;
      for (const p of picks) {
        rows.set(hidden.subarray(p.from * H, (p.from + p.n) * H), at * H);
        at += p.n;
      }
    }
    let result: Record<string, ort.Tensor>;
    try {
      const feeds: Record<string, ort.Tensor> = { [headInputName.hidden]: floatTensor(rows, [numRows, H]) };
      if (!this.headIsBaked) {
        feeds[headInputName.norm] = floatTensor(this.weights.finalNorm(), [H]);
        feeds[headInputName.lmHead] = floatTensor(this.weights.lmHead(), [V, H]);
      }
      result = await this.headSession.run(feeds, { [headOutputName]: null });
    } catch (err) {
      throw new EdgewiseError('engine_fatal', `LM head failed in onnxruntime: ${(err as Error).message}`, { cause: err });
    }
    const logits = result[headOutputName].data as Float32Array;
    let at = 0;
    return picks.map((p) => {
      const view = logits.subarray(at * V, (at + p.n) * V);
      at += p.n;
      return view;
    });
  }

  async dispose(): Promise<void> {
    if (!this.gate.close()) return;
    this.sequences.clear();
    const sessions = await Promise.allSettled([...this.blockSessions.values()]);
    for (const s of sessions) if (s.status === 'fulfilled') await s.value.release();
    await this.headSession.release();
  }
}

/** Rows [start, start + count) of a row-major matrix of `width` columns, for each range, back to back. */
function gatherRows(src: Float32Array, width: number, ranges: { start: number; count: number }[]): Float32Array {
  const out = new Float32Array(ranges.reduce((n, r) => n + r.count, 0) * width);
  let at = 0;
  for (const r of ranges) {
    out.set(src.subarray(r.start * width, (r.start + r.count) * width), at * width);
    at += r.count;
  }
  return out;
}

/** The inverse of gatherRows: puts the rows of `rows` back at their ranges of `dst`. */
function scatterRows(dst: Float32Array, rows: Float32Array, width: number, ranges: { start: number; count: number }[]): void {
  if (rows === dst) return;
  let at = 0;
  for (const r of ranges) {
    dst.set(rows.subarray(at * width, (at + r.count) * width), r.start * width);
    at += r.count;
  }
}
