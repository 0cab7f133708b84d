// GPU benchmark: huff8 decode-kernel GB/s per precision rung beside a device copy, and batch-1/8 decode tokens/s for BF16, just-in-time decode and fused decode+GEMV (bf16, e8m3, e8m1).
// Usage: node dist/bench/gpu-bench.js [--small] [--steps N] [--chunk N] [--modes a,b] [--out FILE]   (validates every path, then times it)

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { openGpu, type GpuContext } from '../kernels/webgpu/device.js';
import { KernelRuntime } from '../kernels/webgpu/kernel-runtime.js';
import { atKeep, buildDecodeTables, decodeHuff8, type Huff8Tensor } from '../kernels/webgpu/huff8.js';
import { atKeepPlan, buildFineIndex, decodeBlockFine, decodeHuff8Fine, fineFusedSupported, fineIndexSupported, fineIndexWords, fusedHuff8GemvFine, planBlockDecode, type FineIndex } from '../kernels/webgpu/huff8-fine.js';
import { matmul } from '../kernels/webgpu/matmul.js';
import { uploadWeight } from '../kernels/webgpu/gpu-weight.js';
import { addInPlace } from '../kernels/webgpu/elementwise.js';
import { relativeMaxError } from '../runtime/engine/reference-forward.js';
import { WebgpuRunner } from '../runtime/engine/webgpu-runner.js';
import { uploadHostWeights, type GpuWeightSource } from '../runtime/engine/webgpu-weights.js';
import { uploadCompressedWeights } from '../runtime/engine/webgpu-ewm-weights.js';
import { PRECISIONS, type PrecisionName } from '../runtime/container/precision.js';
import { buildSyntheticModel, llama1bConfig, rungMatrices, smallConfig, type SyntheticModel } from './gpu-model.js';

const DEFAULT_MODES = 'bf16,jit,jit-matrix,fused,jit-e8m3,fused-e8m3,jit-e8m1,fused-e8m1';
const HELP = `gpu-bench: huff8 decode GB/s per precision rung vs device copy; batch-1/8 decode tokens/s (BF16, just-in-time, fused; rungs bf16, e8m3, e8m1)
  --small        SwiftShader-sized model (proves the script works; figures mean nothing)
  --steps N      timed decode steps per batch size (default 32, --small 2)
  --chunk N      huff8 chunk size (power of two, 256..65536; default 256)
  --modes LIST   weight paths, comma-separated (default ${DEFAULT_MODES}; also jit-sliced; any
                 compressed path takes a rung suffix, -e8m3 or -e8m1; without one it runs at bf16)
  --warmup S     seconds of real GPU work before any timing, so the clocks leave idle (default 2; --small 0.2)
  --out FILE     JSON results (default bench/results/gpu-bench.json; --small: gpu-bench-small.json)
  --force        run the 1B model even on a software adapter (takes hours)`;

const root = new URL('../../', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    small: { type: 'boolean', default: false },
    steps: { type: 'string' },
    chunk: { type: 'string', default: '256' },
    out: { type: 'string' },
    modes: { type: 'string', default: DEFAULT_MODES },
    warmup: { type: 'string' },
    force: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

// 'jit' is the runner's default: a block's matrices decoded by one dispatch before the block; 'jit-matrix' decodes each
// matrix right before its product (run 1's 'jit-whole'); 'jit-sliced' in 16 MB row slices (run 1's 'jit', which lost).
// A compressed path may end in a precision rung (-e8m3, -e8m1): the same resident store (stream + planes A, B, C), its
// kernels reading only the planes the rung keeps; without a suffix it runs at bf16 (all three planes, lossless).
type Base = 'bf16' | 'jit' | 'jit-matrix' | 'jit-sliced' | 'fused';
type LossyRung = Exclude<PrecisionName, 'bf16'>;
type Mode = Base | `${Exclude<Base, 'bf16'>}-${LossyRung}`;
const BASES: Base[] = ['bf16', 'jit', 'jit-matrix', 'jit-sliced', 'fused'];
const BATCHES = [1, 8];

/** A mode's weight path and rung; null for a name that is neither a path nor a compressed path with a rung suffix. */
function parseMode(mode: string): { base: Base; rung: PrecisionName } | null {
  if ((BASES as string[]).includes(mode)) return { base: mode as Base, rung: 'bf16' };
  const m = /^(.+)-(e8m3|e8m1)$/.exec(mode);
  if (!m || m[1] === 'bf16' || !(BASES as string[]).includes(m[1])) return null;
  return { base: m[1] as Base, rung: m[2] as LossyRung };
}

const keepOf = (rung: PrecisionName): 1 | 2 | 3 => PRECISIONS.find((r) => r.name === rung)!.planes as 1 | 2 | 3;

/** The block's matrices at each rung by the TypeScript reference (computed once per rung: the validation target of every GPU path at that rung). */
const rungCache = new Map<PrecisionName, ReturnType<typeof rungMatrices>>();
function rungReference(model: SyntheticModel, rung: PrecisionName): ReturnType<typeof rungMatrices> {
  let mats = rungCache.get(rung);
  if (!mats) rungCache.set(rung, (mats = rungMatrices(model, keepOf(rung))));
  return mats;
}

/** Waits for all submitted GPU work. */
async function idle(gpu: GpuContext): Promise<void> {
  await gpu.device.queue.onSubmittedWorkDone();
}

/**
 * Seconds per iteration of `record`, recorded `iters` times into one command buffer after a
 * warm-up; `iters` doubles until one submit takes at least 0.3 s. NOTE: Dawn reports finished
 * work with a latency of milliseconds, so short runs would mostly time that latency.
 */
async function timeGpu(rt: KernelRuntime, iters: number, record: (enc: GPUCommandEncoder) => void): Promise<number> {
  rt.run(record);
  await idle(rt.gpu);
  for (;;) {
    // NOTE: the clock starts at the submit, after the JavaScript recording (run 1 timed both).
    const enc = rt.device.createCommandEncoder();
    for (let i = 0; i < iters; i++) record(enc);
    const commands = rt.finish(enc);
    const t0 = performance.now();
    rt.device.queue.submit([commands]);
    await idle(rt.gpu);
    const sec = (performance.now() - t0) / 1000;
    if (sec >= 0.3 || iters >= 1 << 14) return sec / iters;
    iters *= 2;
  }
}

/**
 * Keeps the GPU busy with `record` for `seconds` (submits of ~`iters` repeats), so that timings start at load
 * clocks (an idle H200 sits near 345 MHz SM clock, ~1980 MHz under load); returns the first and last submit's
 * seconds per iteration, which show the clock ramp.
 */
async function warmUp(rt: KernelRuntime, seconds: number, iters: number, record: (enc: GPUCommandEncoder) => void) {
  const t0 = performance.now();
  const perIter: number[] = [];
  do {
    const t1 = performance.now();
    rt.run((enc) => {
      for (let i = 0; i < iters; i++) record(enc);
    });
    await idle(rt.gpu);
    perIter.push((performance.now() - t1) / 1000 / iters);
  } while (performance.now() - t0 < seconds * 1000);
  return { seconds: (performance.now() - t0) / 1000, submits: perIter.length, firstSecPerIter: perIter[0], lastSecPerIter: perIter[perIter.length - 1] };
}

/**
 * Seconds per dispatch of a chain of tiny dependent dispatches (x += y over 256 floats, one workgroup each) in one
 * compute pass: the fixed launch + barrier cost every kernel of a decode step pays, whatever its size.
 */
async function measureDispatchCost(rt: KernelRuntime, chain: number): Promise<number> {
  const x = rt.upload(new Float32Array(256).fill(1));
  const y = rt.upload(new Float32Array(256).fill(0.5));
  const sec = await timeGpu(rt, 4, (enc) => {
    for (let i = 0; i < chain; i++) addInPlace(rt, enc, { x, y, count: 256 });
  });
  x.destroy();
  y.destroy();
  return sec / chain;
}

/**
 * Decode-kernel throughput on one block (all 7 matrices) beside copyBufferToBuffer of the decoded
 * size, for the fine decoder (one invocation per 32 weights, the path the runner takes) and the
 * chunk-level one (one invocation per chunk); then the fine decoder at each lower rung (same
 * resident planes, fewer read). Each is validated bit for bit first: at bf16 against the source
 * weights, at a lower rung against the TypeScript rung reference (kernels/codec/planes-reference.ts).
 */
async function measureDecode(rt: KernelRuntime, model: SyntheticModel, iters: number, warmupSec: number) {
  const spec = model.compressed;
  const seg = rt.upload(spec.segment);
  const tables = rt.upload(buildDecodeTables(spec.codeLengths!));
  const err = rt.upload(new Uint32Array(4));
  const huffs = spec.tensors
    .filter((t) => t.entry.codec === 'huff8')
    .map(({ key, entry: e }) => ({
      key,
      shape: e.shape as [number, number],
      // As the runtime builds it (webgpu-ewm-weights.ts): the store's planes, read at bf16 unless atKeep says otherwise.
      t: { seg, tables, dtype: 'BF16', numElements: e.numElements!, chunkSize: e.chunkSize!, bitLength: e.bitLength!, indexOffset: e.indexOffset!, wordsOffset: e.wordsOffset!, planes: { offsets: e.planeOffsets as [number, number, number], keep: 3 } } as Huff8Tensor,
    }));
  let words = 0;
  const offsets = huffs.map((h) => {
    const at = words;
    words += Math.ceil(Math.ceil(h.t.numElements / 2) / 64) * 64;
    return at;
  });
  const fine = huffs.every((h) => fineIndexSupported(h.t));
  let auxWords = 0;
  const indexes: FineIndex[] = [];
  const aux = rt.buffer(Math.max(16, huffs.reduce((n, h) => n + (fine ? fineIndexWords(h.t) : 0), 0) * 4));
  for (const h of huffs) {
    indexes.push({ aux, wordOffset: auxWords });
    auxWords += fine ? fineIndexWords(h.t) : 0;
  }
  const out = rt.buffer(words * 4);
  const recordIndex = (enc: GPUCommandEncoder) => huffs.forEach((h, i) => buildFineIndex(rt, enc, h.t, indexes[i], err));
  const at = (keep: 1 | 2 | 3) => huffs.map((h) => (keep === 3 ? h.t : atKeep(h.t, keep)));
  const recordChunk = (enc: GPUCommandEncoder) => huffs.forEach((h, i) => decodeHuff8(rt, enc, h.t, out, offsets[i], 'pairs', err));
  const recordFineAt = (keep: 1 | 2 | 3) => {
    const ts = at(keep);
    return (enc: GPUCommandEncoder) => ts.forEach((t, i) => decodeHuff8Fine(rt, enc, t, indexes[i], out, offsets[i], 'pairs', err));
  };
  const recordFine = recordFineAt(3);
  // The runner's default: all 7 matrices in one dispatch (offsets are multiples of 64 words, 16-byte aligned).
  const plan = fine ? planBlockDecode(rt, huffs.map((h, i) => ({ t: h.t, index: indexes[i], outWordOffset: offsets[i] })), 'pairs') : null;
  const recordBlockAt = (keep: 1 | 2 | 3) => {
    const p = keep === 3 ? plan! : atKeepPlan(plan!, keep);
    return (enc: GPUCommandEncoder) => decodeBlockFine(rt, enc, p, out, err);
  };
  const recordBlock = fine ? recordBlockAt(3) : () => {};
  const poison = rt.upload(new Uint32Array(words).fill(0xdeadbeef));
  const validate = async (what: string, record: (enc: GPUCommandEncoder) => void, rung: PrecisionName = 'bf16') => {
    const wantAll = rungReference(model, rung);
    rt.run((enc) => rt.copy(enc, poison, 0, out, 0, words * 4));
    rt.run(record);
    for (const [i, h] of huffs.entries()) {
      const got = new Uint16Array(await rt.read(out, h.t.numElements * 2, offsets[i] * 4));
      const want = wantAll[h.key as keyof typeof wantAll];
      for (let j = 0; j < want.length; j++) if (got[j] !== want[j]) throw new Error(`${what} decode kernel at ${rung} is not bit-exact: ${h.key}[${j}] = ${got[j]}, want ${want[j]}`);
    }
    if (new Uint32Array(await rt.read(err, 4))[0] !== 0) throw new Error(`${what} decode kernel at ${rung} flagged malformed chunks`);
  };
  if (fine) rt.run(recordIndex);
  await validate('chunk-level', recordChunk);
  if (fine) await validate('fine', recordFine);
  if (fine) await validate('fine, one dispatch per block', recordBlock);
  const decodedBytes = huffs.reduce((n, h) => n + h.t.numElements * 2, 0);
  const auxBytes = auxWords * 4;
  const copyBytes = Math.floor(decodedBytes / 4) * 4;
  // A second copy 4x larger (~490 MB at 1B shapes) checks that the copy figure is not limited by its size.
  const bigSrc = rt.buffer(4 * copyBytes);
  const bigDst = rt.buffer(4 * copyBytes);
  const copyDst = rt.buffer(decodedBytes);
  const recordCopy = (enc: GPUCommandEncoder) => rt.copy(enc, out, 0, copyDst, 0, copyBytes);
  const warm = await warmUp(rt, warmupSec, iters, (enc) => {
    (fine ? recordBlock : recordChunk)(enc);
    recordCopy(enc);
  });
  const chunkSec = await timeGpu(rt, iters, recordChunk);
  const fineSec = fine ? await timeGpu(rt, iters, recordFine) : NaN;
  const blockSec = fine ? await timeGpu(rt, iters, recordBlock) : NaN;
  const indexSec = fine ? await timeGpu(rt, iters, recordIndex) : NaN;
  const copySec = await timeGpu(rt, iters, recordCopy);
  // Lower rungs: the fine decoders (per matrix and one dispatch per block) reading only the planes the rung keeps.
  const rungSec: Partial<Record<PrecisionName, { matrixSec: number; blockSec: number }>> = { bf16: fine ? { matrixSec: fineSec, blockSec } : { matrixSec: chunkSec, blockSec: chunkSec } };
  if (fine) {
    for (const r of PRECISIONS.filter((r) => r.planes < 3)) {
      const keep = r.planes as 1 | 2;
      await validate('fine', recordFineAt(keep), r.name);
      await validate('fine, one dispatch per block', recordBlockAt(keep), r.name);
      rungSec[r.name] = { matrixSec: await timeGpu(rt, iters, recordFineAt(keep)), blockSec: await timeGpu(rt, iters, recordBlockAt(keep)) };
    }
  }
  // NOTE: a failure here is recorded without losing the decode figures.
  let products: Awaited<ReturnType<typeof measureProducts>> = null;
  let productsError: string | undefined;
  try {
    if (fine) products = await measureProducts(rt, model, huffs, indexes, err, iters);
  } catch (e) {
    productsError = (e as Error).message;
  }
  const bigCopySec = await timeGpu(rt, Math.max(1, iters >> 2), (enc) => rt.copy(enc, bigSrc, 0, bigDst, 0, 4 * copyBytes));
  for (const b of [seg, tables, err, out, copyDst, bigSrc, bigDst, aux, poison]) b.destroy();
  plan?.mats.destroy();
  const gb = (bytes: number, sec: number) => bytes / sec / 1e9;
  // NOTE: the ratio is taken against the faster of the two copies (the stricter comparison).
  const copyTrafficGBs = Math.max(gb(2 * copyBytes, copySec), gb(8 * copyBytes, bigCopySec));
  const best = fine ? Math.min(fineSec, blockSec) : chunkSec;
  const rungs = Object.fromEntries(
    Object.entries(rungSec).map(([name, r]) => {
      const sec = Math.min(r.matrixSec, r.blockSec);
      const read = model.readBytes[name as PrecisionName];
      const traffic = gb(read + auxBytes + decodedBytes, sec);
      return [name, { blockDispatchMs: r.blockSec * 1e3, matrixDispatchMs: r.matrixSec * 1e3, decodeMs: sec * 1e3, readBytes: read, trafficGBs: traffic, outputGBs: gb(decodedBytes, sec), ratioToCopy: traffic / copyTrafficGBs }];
    }),
  ) as Partial<Record<PrecisionName, { blockDispatchMs: number; matrixDispatchMs: number; decodeMs: number; readBytes: number; trafficGBs: number; outputGBs: number; ratioToCopy: number }>>;
  return {
    warmUp: { ...warm, what: 'block decode + copy of its decoded size, repeated', note: 'first vs last submit: seconds per iteration' },
    /** The 7 products of one block alone (7 dispatches each way, so the fixed dispatch cost is the same): kernel time apart from the rest of a step. */
    products,
    productsError,
    decodedBytes,
    compressedBytes: model.compressedBytes,
    fineIndexBytes: auxBytes,
    kernel: fine ? (blockSec <= fineSec ? 'fine, one dispatch per block' : 'fine, one dispatch per matrix') : 'chunk-level',
    fineMatrixDispatchMs: fineSec * 1e3,
    fineBlockDispatchMs: blockSec * 1e3,
    decodeMs: best * 1e3,
    /** (compressed bytes + fine index read, decoded bytes written) per second: the memory traffic the kernel moves (bf16: all three planes). */
    decodeTrafficGBs: gb(model.compressedBytes + auxBytes + decodedBytes, best),
    /**
     * The fine decoder per rung (best of one dispatch per block and one per matrix): traffic = (bytes the rung reads:
     * index, stream, kept planes; + fine index; + decoded bytes written) per second, and that against the copy.
     */
    rungs,
    /** decoded BF16 bytes produced per second. */
    decodeOutputGBs: gb(decodedBytes, best),
    chunkLevelMs: chunkSec * 1e3,
    chunkLevelTrafficGBs: gb(model.compressedBytes + decodedBytes, chunkSec),
    /** one-time load pass that builds the fine index of the block. */
    fineIndexBuildMs: indexSec * 1e3,
    copyMs: copySec * 1e3,
    /** read + write bytes per second: the faster of copyBufferToBuffer of the decoded size and of 4x that size. */
    copyTrafficGBs,
    copyDecodedSizeGBs: gb(2 * copyBytes, copySec),
    copy4xSizeGBs: gb(8 * copyBytes, bigCopySec),
  };
}

/**
 * ms for the 7 products of one block at batch 1 and 8: BF16 GEMV, fused decode + GEMV, and block decode + BF16 GEMV
 * (the jit path), the last two at every rung; the fused outputs are first checked against a BF16 GEMV of the same
 * rung's reference weights. Both paths run 7 dispatches (jit 8), so the difference is kernel time, not dispatch count.
 */
async function measureProducts(
  rt: KernelRuntime,
  model: SyntheticModel,
  huffs: { key: string; shape: [number, number]; t: Huff8Tensor }[],
  indexes: FineIndex[],
  err: GPUBuffer,
  iters: number,
) {
  if (!huffs.every((h) => fineFusedSupported(h.t, h.shape[1]))) return null;
  // Dense BF16 of each rung's reference weights: the GEMV the fused products are checked against (bf16: the source, also the timed baseline).
  const denseAt = new Map(PRECISIONS.map((r) => [r.name, huffs.map((h) => uploadWeight(rt, rungReference(model, r.name)[h.key as keyof ReturnType<typeof rungMatrices>], h.key))]));
  const dense = denseAt.get('bf16')!;
  const maxK = Math.max(...huffs.map((h) => h.shape[1]));
  const maxN = Math.max(...huffs.map((h) => h.shape[0]));
  const xs = new Float32Array(8 * maxK);
  for (let i = 0; i < xs.length; i++) xs[i] = Math.sin(i * 0.7311) + 0.1;
  const x = rt.upload(xs);
  const yDense = rt.buffer(8 * maxN * 4);
  const yFused = rt.buffer(8 * maxN * 4);
  // The runner's layout: each decoded matrix at a 256-byte-aligned offset of one block scratch.
  const offsets: number[] = [];
  let at = 0;
  for (const h of huffs) {
    offsets.push(at);
    at += Math.ceil((h.t.numElements * 2) / 256) * 256;
  }
  const scratch = rt.buffer(at);
  const plan = planBlockDecode(rt, huffs.map((h, i) => ({ t: h.t, index: indexes[i], outWordOffset: offsets[i] / 4 })), 'pairs');
  type Times = { fusedMs: number; jitMs: number };
  const out: Record<string, { bf16Ms: number } & Times & { rungs: Partial<Record<PrecisionName, Times>> }> = {};
  try {
    for (const m of [1, 8]) {
      const gemv = (enc: GPUCommandEncoder, i: number, y: GPUBuffer, w = dense) => matmul(rt, enc, { x, w: w[i], y, m, n: huffs[i].shape[0], k: huffs[i].shape[1] });
      const bf16Sec = await timeGpu(rt, iters, (enc) => huffs.forEach((_, i) => gemv(enc, i, yDense)));
      const rungs: Partial<Record<PrecisionName, Times>> = {};
      for (const r of PRECISIONS) {
        const keep = r.planes as 1 | 2 | 3;
        const ts = huffs.map((h) => (keep === 3 ? h.t : atKeep(h.t, keep)));
        const rungPlan = keep === 3 ? plan : atKeepPlan(plan, keep);
        const fused = (enc: GPUCommandEncoder, i: number) => fusedHuff8GemvFine(rt, enc, { t: ts[i], index: indexes[i], x, y: yFused, bias: null, m, n: huffs[i].shape[0], k: huffs[i].shape[1], err });
        for (let i = 0; i < huffs.length; i++) {
          rt.run((enc) => {
            gemv(enc, i, yDense, denseAt.get(r.name)!);
            fused(enc, i);
          });
          const n = m * huffs[i].shape[0];
          const e = relativeMaxError(new Float32Array(await rt.read(yFused, n * 4)), new Float32Array(await rt.read(yDense, n * 4)));
          if (!(e <= 1e-3)) throw new Error(`fused product ${huffs[i].key} m=${m} at ${r.name} differs from the BF16 GEMV of the ${r.name} reference weights (rel err ${e})`);
        }
        const fusedSec = await timeGpu(rt, iters, (enc) => huffs.forEach((_, i) => fused(enc, i)));
        const jitSec = await timeGpu(rt, iters, (enc) => {
          decodeBlockFine(rt, enc, rungPlan, scratch, err);
          huffs.forEach((h, i) => matmul(rt, enc, { x, w: { buffer: scratch, format: 'bf16', offset: offsets[i], size: Math.ceil((h.t.numElements * 2) / 16) * 16 }, y: yDense, m, n: h.shape[0], k: h.shape[1] }));
        });
        rungs[r.name] = { fusedMs: fusedSec * 1e3, jitMs: jitSec * 1e3 };
      }
      out[`batch${m}`] = { bf16Ms: bf16Sec * 1e3, ...rungs.bf16!, rungs };
    }
  } finally {
    for (const b of [x, yDense, yFused, scratch, plan.mats, ...[...denseAt.values()].flatMap((ws) => ws.map((d) => d.buffer))]) b.destroy();
  }
  return out;
}

/** GPU seconds per decode step, repeats doubling until one submit lasts 0.3 s (see timeGpu). */
async function gpuStepSeconds(runner: WebgpuRunner, ids: number[], repeats: number): Promise<number> {
  for (;;) {
    const t0 = performance.now();
    const sec = await runner.timeGpuStep(ids.map((seqId) => ({ seqId, tokenIds: [19] })), repeats);
    if (sec * repeats >= 0.3 || repeats >= 4096 || performance.now() - t0 > 3000) return sec;
    repeats *= 2;
  }
}

async function buildSource(rt: KernelRuntime, model: SyntheticModel, mode: Base): Promise<GpuWeightSource> {
  const globals = { embedding: model.embedding, lmHead: model.embedding, finalNorm: model.finalNorm };
  if (mode === 'bf16') return uploadHostWeights(rt, model.config, { ...globals, layer: async () => model.layer });
  const specs = Array.from({ length: model.config.numLayers }, () => model.compressed);
  if (mode === 'jit-matrix') return uploadCompressedWeights(rt, model.config, specs, globals, 'jit', { jitUnit: 'matrix', jitSliceBytes: 0 });
  if (mode === 'jit-sliced') return uploadCompressedWeights(rt, model.config, specs, globals, 'jit', { jitUnit: 'matrix', jitSliceBytes: 16 * 2 ** 20 });
  if (mode === 'jit') return uploadCompressedWeights(rt, model.config, specs, globals, 'jit', { jitUnit: 'block', jitSliceBytes: 0 });
  return uploadCompressedWeights(rt, model.config, specs, globals, 'fused');
}

/** Creates a batch of sequences, runs their prompts and returns the logits of the first decode step (what paths are cross-checked on). */
async function firstStepLogits(runner: WebgpuRunner, model: SyntheticModel, batch: number, promptLen: number): Promise<{ ids: number[]; firstLogits: Float32Array }> {
  const ids = Array.from({ length: batch }, (_, i) => 100 * batch + i);
  ids.forEach((id) => runner.createSequence(id));
  const prompt = (b: number) => Array.from({ length: promptLen }, (_, i) => (b * 7919 + i * 104729) % model.config.vocabSize);
  await runner.step(ids.map((seqId, b) => ({ seqId, tokenIds: prompt(b) })));
  return { ids, firstLogits: (await runner.step(ids.map((seqId) => ({ seqId, tokenIds: [17] }))))[0] };
}

/**
 * The first-step logits of uncompressed BF16 weights equal to a lower rung's reference weights (the TypeScript rung
 * decode of every block): what that rung's compressed paths must compute.
 */
async function rungBaseline(rt: KernelRuntime, model: SyntheticModel, rung: PrecisionName, promptLen: number): Promise<Record<string, Float32Array>> {
  const layer = { ...model.layer, ...rungReference(model, rung) };
  const source = await uploadHostWeights(rt, model.config, { embedding: model.embedding, lmHead: model.embedding, finalNorm: model.finalNorm, layer: async () => layer });
  const runner = new WebgpuRunner(model.config, rt, source, promptLen + 4, false);
  try {
    const out: Record<string, Float32Array> = {};
    for (const batch of BATCHES) {
      const { ids, firstLogits } = await firstStepLogits(runner, model, batch, promptLen);
      out[`batch${batch}`] = firstLogits;
      ids.forEach((id) => runner.freeSequence(id));
    }
    return out;
  } finally {
    await runner.dispose();
  }
}

/** Decode tokens/s of one weight path at each batch size; the first decode step's logits are kept for cross-checking. */
async function measureTokens(rt: KernelRuntime, model: SyntheticModel, mode: Mode, steps: number, promptLen: number, gpuRepeats: number, warmupSec: number) {
  const { base, rung } = parseMode(mode)!;
  const source = await buildSource(rt, model, base);
  // The runner's default rung: every sequence of this path decodes at it (the kernels read only its planes).
  const runner = new WebgpuRunner(model.config, rt, source, promptLen + steps + 4, false, rung);
  const result: Record<string, { tokensPerSec: number; msPerStep: number; gpuTokensPerSec: number; gpuMsPerStep: number; dispatchesPerStep: number; firstLogits: Float32Array }> = {};
  try {
    for (const batch of BATCHES) {
      const { ids, firstLogits } = await firstStepLogits(runner, model, batch, promptLen);
      await runner.step(ids.map((seqId) => ({ seqId, tokenIds: [18] })));
      // NOTE: the upload of this path left the GPU idle for seconds; bring the clocks back up with this path's own steps.
      for (const t1 = performance.now(); performance.now() - t1 < warmupSec * 1000; ) await runner.timeGpuStep(ids.map((seqId) => ({ seqId, tokenIds: [19] })), 8);
      const d0 = rt.dispatchCount;
      const t0 = performance.now();
      for (let s = 0; s < steps; s++) await runner.step(ids.map((seqId) => ({ seqId, tokenIds: [(s * 31) % model.config.vocabSize] })));
      const sec = (performance.now() - t0) / 1000;
      const dispatchesPerStep = (rt.dispatchCount - d0) / steps;
      // GPU-bound figure: the same decode step recorded `steps` times in one submit (no JS encoding or readback in between).
      const gpuSec = await gpuStepSeconds(runner, ids, gpuRepeats);
      result[`batch${batch}`] = { tokensPerSec: (batch * steps) / sec, msPerStep: (sec * 1000) / steps, gpuTokensPerSec: batch / gpuSec, gpuMsPerStep: gpuSec * 1000, dispatchesPerStep, firstLogits };
      ids.forEach((id) => runner.freeSequence(id));
    }
    return { result, gpuBytes: source.gpuBytes };
  } finally {
    await runner.dispose();
  }
}

async function main(): Promise<number> {
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const chunk = Number(values.chunk);
  if (!Number.isInteger(chunk) || chunk < 256 || chunk > 65536 || (chunk & (chunk - 1)) !== 0) throw new Error('--chunk must be a power of two in 256..65536');
  const steps = Number(values.steps ?? (values.small ? 2 : 32));
  if (!Number.isInteger(steps) || steps < 1) throw new Error('--steps must be a positive integer');
  const MODES = values.modes.split(',').map((m) => m.trim()) as Mode[];
  for (const m of MODES) if (!parseMode(m)) throw new Error(`--modes: unknown mode ${m} (${BASES.join(', ')}; a compressed one may end in -e8m3 or -e8m1)`);
  const warmupSec = Number(values.warmup ?? (values.small ? 0.2 : 2));
  if (!(warmupSec >= 0)) throw new Error('--warmup must be a number of seconds >= 0');
  const gpu = await openGpu();
  if (!gpu) throw new Error('no WebGPU adapter (on a machine without a GPU install chromium + libvulkan1 for SwiftShader)');
  try {
    if (gpu.isSoftware && !values.small && !values.force) throw new Error(`${gpu.adapterName} is a software adapter: use --small (or --force)`);
    const config = values.small ? smallConfig() : llama1bConfig();
    console.log(`device: ${gpu.adapterName}${gpu.isSoftware ? ' (software)' : ''}; subgroups ${gpu.hasSubgroups}, shader-f16 ${gpu.hasF16}`);
    let t0 = performance.now();
    const model = buildSyntheticModel(config, 1234, chunk);
    console.log(`model: ${values.small ? 'small' : 'Llama-3.2-1B-shaped'}, ${config.numLayers} blocks, block ${(model.compressedBytes / 1e6).toFixed(1)} MB compressed, ${model.bitsPerWeight.toFixed(2)} bits/weight (chunk ${chunk}); built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const rt = new KernelRuntime(gpu);
    const out = values.out ?? join(root, 'bench/results', values.small ? 'gpu-bench-small.json' : 'gpu-bench.json');
    const tokens: Partial<Record<Mode, Record<string, { tokensPerSec: number; msPerStep: number; gpuTokensPerSec: number; gpuMsPerStep: number; dispatchesPerStep: number }>>> = {};
    const gpuBytes: Partial<Record<Mode, number>> = {};
    const failures: Partial<Record<Mode | 'decode', string>> = {};
    const report: Record<string, unknown> = {
      date: new Date().toISOString(),
      device: gpu.adapterName,
      software: gpu.isSoftware,
      features: { subgroups: gpu.hasSubgroups, shaderF16: gpu.hasF16 },
      model: values.small ? 'small (SwiftShader check; figures meaningless)' : 'Llama-3.2-1B shapes, Gaussian BF16 (std 0.02), one block draw reused by all 16 blocks',
      config,
      chunkSize: chunk,
      bitsPerWeight: model.bitsPerWeight,
      steps,
      modes: MODES,
      warmupSec,
      complete: false,
      tokensPerSec: tokens,
      gpuWeightBytes: gpuBytes,
      failures,
      notes:
        'Before any timing the GPU runs ~warmupSec of block decodes and copies (decode.warmUp shows the clock ramp), and each path runs its own steps for ~warmupSec/2 per batch after its upload. tokensPerSec: wall clock of real steps (JS command encoding and the logits readback included, same for all paths); gpuTokensPerSec: one decode step recorded N times in one submit (N doubling until the submit lasts 0.3 s); GB/s from wall time around one submit of repeated work lasting >= 0.3 s. Since run 2 these clocks start at the submit, after the JavaScript recording (run 1 included the recording).',
    };
    // NOTE: the report is rewritten after every stage, so a run cut short by a time limit still leaves its figures.
    const save = () => {
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
    };
    try {
      const decode = await measureDecode(rt, model, values.small ? 2 : 20, warmupSec);
      const w = decode.warmUp;
      console.log(`warm-up: ${w.seconds.toFixed(2)} s, ${w.submits} submits of block decode + copy; ms per iteration first ${(w.firstSecPerIter * 1e3).toFixed(3)}, last ${(w.lastSecPerIter * 1e3).toFixed(3)}`);
      const decodeRatio = decode.decodeTrafficGBs / decode.copyTrafficGBs;
      report.decode = { ...decode, ratioToCopy: decodeRatio };
      console.log(`decode kernel (${decode.kernel}): ${decode.decodeMs.toFixed(3)} ms/block, ${decode.decodeTrafficGBs.toFixed(1)} GB/s traffic (${decode.decodeOutputGBs.toFixed(1)} GB/s decoded) | copy: ${decode.copyTrafficGBs.toFixed(1)} GB/s | ratio ${(decodeRatio * 100).toFixed(1)}% (target >= 50%)`);
      console.log(`  fine decoder: ${decode.fineBlockDispatchMs.toFixed(3)} ms/block in one dispatch, ${decode.fineMatrixDispatchMs.toFixed(3)} ms/block in 7; copy of the decoded size ${decode.copyDecodedSizeGBs.toFixed(1)} GB/s, of 4x that ${decode.copy4xSizeGBs.toFixed(1)} GB/s`);
      if (decode.productsError) console.log(`  one block's products: FAILED: ${decode.productsError}`);
      for (const [name, r] of Object.entries(decode.rungs)) {
        console.log(`  rung ${name.padEnd(4)}: ${r.decodeMs.toFixed(3)} ms/block (one dispatch ${r.blockDispatchMs.toFixed(3)}, in 7 ${r.matrixDispatchMs.toFixed(3)}), reads ${(r.readBytes / 1e6).toFixed(1)} MB + fine index, ${r.trafficGBs.toFixed(1)} GB/s traffic (${r.outputGBs.toFixed(1)} GB/s decoded), ${(r.ratioToCopy * 100).toFixed(1)}% of copy`);
      }
      for (const [b, p] of Object.entries(decode.products ?? {})) {
        const rungs = Object.entries(p.rungs)
          .filter(([name]) => name !== 'bf16')
          .map(([name, t]) => `${name}: fused ${t.fusedMs.toFixed(3)} ms (${(p.bf16Ms / t.fusedMs).toFixed(2)}x), jit ${t.jitMs.toFixed(3)} ms (${(p.bf16Ms / t.jitMs).toFixed(2)}x)`);
        console.log(`  one block's 7 products, ${b}: BF16 GEMV ${p.bf16Ms.toFixed(3)} ms, fused ${p.fusedMs.toFixed(3)} ms (${(p.bf16Ms / p.fusedMs).toFixed(2)}x), block decode + BF16 GEMV ${p.jitMs.toFixed(3)} ms (${(p.bf16Ms / p.jitMs).toFixed(2)}x); ${rungs.join('; ')}`);
      }
      console.log(`  chunk-level decoder: ${decode.chunkLevelMs.toFixed(3)} ms/block (${decode.chunkLevelTrafficGBs.toFixed(1)} GB/s); fine index: ${(decode.fineIndexBytes / 1e6).toFixed(2)} MB/block, built once in ${decode.fineIndexBuildMs.toFixed(3)} ms`);
    } catch (err) {
      failures.decode = (err as Error).message;
      console.log(`decode kernel: FAILED: ${failures.decode}`);
    }
    save();
    let dispatchSec = NaN;
    try {
      dispatchSec = await measureDispatchCost(rt, values.small ? 16 : 512);
      report.dispatchUs = dispatchSec * 1e6;
      console.log(`dispatch cost: ${(dispatchSec * 1e6).toFixed(2)} us per tiny dependent dispatch (chain in one compute pass)`);
    } catch (err) {
      failures.decode = `dispatch cost: ${(err as Error).message}`;
    }
    save();
    // Per rung, the logits every path at that rung must match: at bf16 the first path's (bf16, uncompressed, by
    // default); at a lower rung uncompressed BF16 weights equal to that rung's reference decode.
    const baselines = new Map<PrecisionName, Record<string, Float32Array>>();
    const promptLen = values.small ? 4 : 16;
    for (const mode of MODES) {
      t0 = performance.now();
      try {
        const { rung } = parseMode(mode)!;
        if (rung !== 'bf16' && !baselines.has(rung)) baselines.set(rung, await rungBaseline(rt, model, rung, promptLen));
        const { result, gpuBytes: bytes } = await measureTokens(rt, model, mode, steps, promptLen, values.small ? steps : 64, warmupSec / 2);
        gpuBytes[mode] = bytes;
        // Validate: every path at a rung computes the same function of the same weights.
        if (!baselines.has(rung)) baselines.set(rung, Object.fromEntries(Object.entries(result).map(([k, v]) => [k, v.firstLogits])));
        const baseline = baselines.get(rung)!;
        for (const [k, v] of Object.entries(result)) {
          const err = relativeMaxError(v.firstLogits, baseline[k]);
          if (!(err <= 1e-3)) throw new Error(`${mode} ${k}: logits differ from ${rung === 'bf16' ? 'bf16' : `uncompressed BF16 of the ${rung} reference weights`} (rel err ${err})`);
        }
        tokens[mode] = Object.fromEntries(Object.entries(result).map(([k, { firstLogits: _, ...v }]) => [k, v]));
        const fmt = (b: number) => {
          const r = result[`batch${b}`];
          // Fixed dispatch cost of the step, from the tiny-dispatch chain above: how much of the GPU-bound step it can explain.
          const fixedMs = r.dispatchesPerStep * dispatchSec * 1e3;
          return `batch ${b}: ${r.tokensPerSec.toFixed(1)} tok/s (GPU-bound ${r.gpuTokensPerSec.toFixed(1)} = ${r.gpuMsPerStep.toFixed(2)} ms, ${r.dispatchesPerStep} dispatches/step ~ ${fixedMs.toFixed(2)} ms fixed)`;
        };
        console.log(`${mode.padEnd(10)} ${BATCHES.map(fmt).join(', ')}; GPU weights ${(bytes / 1e9).toFixed(2)} GB (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      } catch (err) {
        failures[mode] = (err as Error).message;
        console.log(`${mode.padEnd(10)} FAILED: ${failures[mode]}`);
      }
      save();
    }
    const ratio = (mode: Mode, b: number, key: 'tokensPerSec' | 'gpuTokensPerSec') => (tokens[mode]?.[`batch${b}`][key] ?? NaN) / (tokens.bf16?.[`batch${b}`][key] ?? NaN);
    report.ratioToBf16 = Object.fromEntries(
      MODES.filter((m) => m !== 'bf16').map((m) => [
        m,
        Object.fromEntries(BATCHES.flatMap((b) => [[`batch${b}`, ratio(m, b, 'tokensPerSec')], [`batch${b}GpuBound`, ratio(m, b, 'gpuTokensPerSec')]])),
      ]),
    );
    console.log('\n| weights | b1 tok/s | b8 tok/s | b1 GPU-bound | b8 GPU-bound | b1 GPU-bound vs bf16 | b8 GPU-bound vs bf16 |');
    for (const mode of MODES) {
      const r = (b: number) => tokens[mode]?.[`batch${b}`];
      const f = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(1));
      const x = (b: number) => (Number.isNaN(ratio(mode, b, 'gpuTokensPerSec')) ? '-' : ratio(mode, b, 'gpuTokensPerSec').toFixed(2) + 'x');
      console.log(`| ${mode} | ${f(r(1)?.tokensPerSec)} | ${f(r(8)?.tokensPerSec)} | ${f(r(1)?.gpuTokensPerSec)} | ${f(r(8)?.gpuTokensPerSec)} | ${x(1)} | ${x(8)} |`);
    }
    console.log('targets: decode >= 50% of copy; jit b1 >= 0.7x (jit = one decode dispatch per block, the default); fused b1 >= 1.0x');
    report.complete = Object.keys(failures).length === 0;
    save();
    console.log(`wrote ${out}`);
    return report.complete ? 0 : 1;
  } finally {
    gpu.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`gpu-bench: error: ${err.message}\n`);
    if (process.env.EDGEWISE_DEBUG === '1') process.stderr.write(String(err.stack) + '\n');
    process.exit(1);
  },
);
