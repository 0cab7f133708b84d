// GPU weights from huff8-compressed blocks: segments stay resident compressed; each block is decoded by WGSL just in time.

import type { KernelRuntime } from '../../kernels/webgpu/kernel-runtime.js';
import { uploadWeight, type GpuWeight } from '../../kernels/webgpu/gpu-weight.js';
import { atKeep, buildDecodeTables, decodeHuff8, fusedPartialBytes, FUSED_MAX_ROWS, type Huff8Tensor } from '../../kernels/webgpu/huff8.js';
import { atKeepPlan, buildFineIndex, decodeBlockFine, fineFusedSupported, fineIndexSupported, fineIndexWords, planBlockDecode, type FineBlockDecode, type FineIndex } from '../../kernels/webgpu/huff8-fine.js';
import { decodedBytes, type CompressedWeight } from '../../kernels/webgpu/compressed-weight.js';
import type { MatmulWeight } from '../../kernels/webgpu/matmul.js';
import type { GpuWeight as DenseWeight } from '../../kernels/webgpu/gpu-weight.js';
import { decodePlanes } from '../../kernels/codec/codec.js';
import { planeByteLengths } from '../../kernels/codec/huff8-types.js';
import { PRECISIONS } from '../container/precision.js';
import { ModelFormatError } from '../errors.js';
import type { ModelConfig } from '../model/model-config.js';
import { checkTensors } from '../model/hf-weights.js';
import type { TensorInfo } from '../model/safetensors.js';
import type { EwmFile } from '../container/ewm-reader.js';
import type { TensorEntry } from '../container/ewm-format.js';
import type { LayerWeights } from './runner-types.js';
import { BIAS_KEYS, MATRIX_KEYS, type GpuLayer, type GpuWeightSource } from './webgpu-weights.js';

/**
 * One compressed block: its segment bytes as the container stores them (version 2: index, stream
 * and bit-planes A, B, C, all three parts) and where each tensor lies inside.
 */
export interface CompressedLayerSpec {
  segment: Uint8Array;
  /** The segment's codebook (null when it holds no huff8 tensor). */
  codeLengths: Uint8Array | null;
  tensors: { key: keyof LayerWeights; entry: TensorEntry }[];
}

/**
 * 'jit': decode each matrix into one reusable buffer right before its product (DFloat11's scheme,
 * per matrix rather than per block); 'fused': batches of up to 8 rows multiply straight from the
 * compressed stream (fused decode + GEMV), larger batches (prefill) still decode just in time.
 */
export type CompressedMode = 'jit' | 'fused';

/** The block specs of an opened container whose segments were read and checked. */
export function ewmLayerSpecs(file: EwmFile, segments: Uint8Array[], config: ModelConfig): CompressedLayerSpec[] {
  const view = { has: (name: string) => file.has(name), info: (name: string) => ({ name, shape: file.tensor(name).shape }) as unknown as TensorInfo };
  const specs: CompressedLayerSpec[] = [];
  for (const t of checkTensors(view, config, file.path)) {
    if (t.layerIndex === undefined || t.layerKey === undefined) continue;
    const entry = file.tensor(t.name);
    const seg = file.metadata.segments[entry.segment];
    specs[t.layerIndex] ??= { segment: segments[entry.segment], codeLengths: seg.codeLengths, tensors: [] };
    if (specs[t.layerIndex].segment !== segments[entry.segment]) throw new ModelFormatError(t.name, 'tensors of one block span several segments');
    specs[t.layerIndex].tensors.push({ key: t.layerKey, entry });
  }
  return specs;
}

function elements(e: TensorEntry): number {
  return e.shape.reduce((a, d) => a * d, 1);
}

/** A 1-D tensor (norm, bias) decoded on the host: tiny, so it stays resident as f32. */
function hostF32(spec: CompressedLayerSpec, e: TensorEntry): Float32Array {
  const out = new Float32Array(elements(e));
  const seg = spec.segment;
  if (e.codec === 'raw') {
    if (e.dtype !== 'F32') throw new ModelFormatError(e.name, `raw ${e.dtype} vectors are not supported by the webgpu backend`);
    new Uint8Array(out.buffer).set(seg.subarray(e.dataOffset!, e.dataOffset! + e.byteLength!));
    return out;
  }
  const n = e.numElements!;
  const lengths = planeByteLengths(n);
  const planed = {
    numElements: n,
    chunkSize: e.chunkSize!,
    bitLength: e.bitLength!,
    words: new Uint32Array(seg.buffer, seg.byteOffset + e.wordsOffset!, e.numWords!),
    index: new Uint32Array(seg.buffer, seg.byteOffset + e.indexOffset!, 2 * Math.ceil(n / e.chunkSize!)),
    planes: planeOffsetsOf(e).map((o, k) => new Uint8Array(seg.buffer, seg.byteOffset + o, lengths[k])),
  };
  // Vectors are read losslessly at every rung (runtime/container/precision.ts alwaysLossless).
  decodePlanes(planed, spec.codeLengths!, 3, e.dtype as 'BF16' | 'F16', out);
  return out;
}

/** A huff8 entry's plane offsets (every version-2 container has them; version 1 is refused at open). */
function planeOffsetsOf(e: TensorEntry): [number, number, number] {
  if (e.planeOffsets?.length !== 3) throw new ModelFormatError(e.name, 'huff8 tensor without its three bit-planes');
  return e.planeOffsets as [number, number, number];
}

/**
 * Row-slice size of per-matrix just-in-time decoding at small batches (env EDGEWISE_WEBGPU_JIT_SLICE_MB;
 * 0, the default, decodes whole matrices). NOTE: measured on an H200 (run 1, docs/webgpu.md): 16 MB
 * slices (404 dispatches per batch-1 step) lost to whole matrices (308) at both batches, 0.37x vs 0.51x.
 */
export const JIT_SLICE_BYTES = Number(process.env.EDGEWISE_WEBGPU_JIT_SLICE_MB ?? 0) * 2 ** 20;

/**
 * What one just-in-time decode covers (env EDGEWISE_WEBGPU_JIT_UNIT): 'block' (default) decodes all
 * of a block's matrices in one dispatch into a block-sized scratch before the block runs (16
 * dispatches per step at Llama-1B shapes instead of 112); 'matrix' decodes each matrix right before
 * its product into one matrix-sized scratch (less GPU memory, 7 dispatches per block). Blocks the
 * one-dispatch decoder cannot take (no fine index, mixed dtypes) fall back to 'matrix'.
 */
export type JitUnit = 'block' | 'matrix';
export const JIT_UNIT: JitUnit = process.env.EDGEWISE_WEBGPU_JIT_UNIT === 'matrix' ? 'matrix' : 'block';

export async function uploadCompressedWeights(
  rt: KernelRuntime,
  config: ModelConfig,
  specs: CompressedLayerSpec[],
  globals: { embedding: Float32Array | Uint16Array; finalNorm: Float32Array; lmHead: Float32Array | Uint16Array },
  mode: CompressedMode,
  options: { jitSliceBytes?: number; jitUnit?: JitUnit } = {},
): Promise<GpuWeightSource> {
  const sliceBytes = options.jitSliceBytes ?? JIT_SLICE_BYTES;
  const unit = options.jitUnit ?? JIT_UNIT;
  const owned: GPUBuffer[] = [];
  const own = (b: GPUBuffer): GPUBuffer => (owned.push(b), b);
  const err = own(rt.upload(new Uint32Array(4), 'huff8-err'));
  type Slot = { key: (typeof MATRIX_KEYS)[number]; huff?: Huff8Tensor; fine?: FineIndex | null; dense?: GpuWeight; k: number };
  type BlockDecode = { plan: FineBlockDecode; dense: Map<Slot['key'], Omit<DenseWeight, 'buffer'>> };
  const blocks: { slots: Slot[]; vectors: Partial<Record<keyof LayerWeights, GPUBuffer>>; decode: BlockDecode | null }[] = [];
  let scratchBytes = 16;
  let blockScratchBytes = 16;
  let partialBytes = 16;
  const fineBuilds: { t: Huff8Tensor; index: FineIndex }[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    const spec = specs[l];
    if (!spec) throw new ModelFormatError(`layer.${l}`, 'block has no segment');
    const seg = own(rt.upload(spec.segment, `seg${l}`));
    const tables = spec.codeLengths ? own(rt.upload(buildDecodeTables(spec.codeLengths), `tables${l}`)) : null;
    const slots: Slot[] = [];
    const vectors: Partial<Record<keyof LayerWeights, GPUBuffer>> = {};
    const fineAt: { t: Huff8Tensor; wordOffset: number }[] = [];
    let auxWords = 0;
    for (const { key, entry } of spec.tensors) {
      if (!(MATRIX_KEYS as readonly string[]).includes(key)) {
        vectors[key] = own(rt.upload(hostF32(spec, entry), `layer${l}.${key}`));
        continue;
      }
      const mk = key as (typeof MATRIX_KEYS)[number];
      if (entry.codec === 'raw') {
        if (entry.dtype !== 'F32') throw new ModelFormatError(entry.name, `raw ${entry.dtype} matrices are not supported by the webgpu backend`);
        const data = new Float32Array(spec.segment.slice(entry.dataOffset!, entry.dataOffset! + entry.byteLength!).buffer);
        const dense = uploadWeight(rt, data, entry.name);
        own(dense.buffer);
        slots.push({ key: mk, dense, k: entry.shape[1] });
        continue;
      }
      const huff: Huff8Tensor = {
        seg,
        tables: tables!,
        dtype: entry.dtype as 'BF16' | 'F16',
        numElements: entry.numElements!,
        chunkSize: entry.chunkSize!,
        bitLength: entry.bitLength!,
        indexOffset: entry.indexOffset!,
        wordsOffset: entry.wordsOffset!,
        // NOTE: the resident store is the container's own (all three planes): every rung decodes from it, bf16 included.
        planes: { offsets: planeOffsetsOf(entry), keep: 3 },
      };
      const k = entry.shape[1];
      if (fineIndexSupported(huff)) {
        fineAt.push({ t: huff, wordOffset: auxWords });
        auxWords += fineIndexWords(huff);
      }
      slots.push({ key: mk, huff, k });
      // The chunk-level fused kernel's partial sums are needed only where the fine one does not apply.
      if (!fineFusedSupported(huff, k)) partialBytes = Math.max(partialBytes, fusedPartialBytes(huff, k, FUSED_MAX_ROWS));
    }
    // NOTE: the fine index (0.5 bit per weight) lives in one buffer per block and counts in gpuBytes.
    const aux = auxWords > 0 ? own(rt.buffer(auxWords * 4, `fine-index${l}`)) : null;
    for (const f of fineAt) {
      const index = { aux: aux!, wordOffset: f.wordOffset };
      fineBuilds.push({ t: f.t, index });
      slots.find((s) => s.huff === f.t)!.fine = index;
    }
    // One-dispatch decode of the whole block ('jit' mode, unit 'block'): each matrix at a 256-byte-aligned offset.
    const huffSlots = slots.filter((s) => s.huff);
    const dtypes = new Set(huffSlots.map((s) => s.huff!.dtype));
    let decode: BlockDecode | null = null;
    if (mode === 'jit' && unit === 'block' && huffSlots.length > 0 && dtypes.size === 1 && huffSlots.every((s) => s.fine)) {
      const f32 = dtypes.has('F16');
      const dense = new Map<Slot['key'], Omit<DenseWeight, 'buffer'>>();
      let at = 0;
      const items = huffSlots.map((s) => {
        const size = decodedBytes(s.huff!);
        dense.set(s.key, { format: f32 ? 'f32' : 'bf16', offset: at, size });
        const item = { t: s.huff!, index: s.fine!, outWordOffset: at / 4 };
        at += Math.ceil(size / 256) * 256;
        return item;
      });
      blockScratchBytes = Math.max(blockScratchBytes, at);
      decode = { plan: planBlockDecode(rt, items, f32 ? 'f32' : 'pairs', `block-decode${l}`), dense };
      own(decode.plan.mats);
    } else {
      for (const s of huffSlots) scratchBytes = Math.max(scratchBytes, decodedBytes(s.huff!));
    }
    blocks.push({ slots, vectors, decode });
  }
  const scratch = own(rt.buffer(scratchBytes, 'decoded-matrix'));
  // NOTE: the block scratch (122 MB at Llama-1B shapes) replaces the matrix scratch (33.5 MB) when every block decodes in one dispatch.
  const blockScratch = blockScratchBytes > 16 ? own(rt.buffer(blockScratchBytes, 'decoded-block')) : null;
  const partials = own(rt.buffer(partialBytes, 'fused-partials'));

  const layerFor = (l: number, enc: GPUCommandEncoder, _rows: number, keep: 1 | 2 | 3 = 3): GpuLayer => {
    const { slots, vectors, decode } = blocks[l];
    // A rung changes only which planes the decode kernels read (KEEP) and the fill: same store, same offsets, same outputs.
    if (decode) decodeBlockFine(rt, enc, keep === 3 ? decode.plan : atKeepPlan(decode.plan, keep), blockScratch!, err);
    const mats = {} as Record<(typeof MATRIX_KEYS)[number], MatmulWeight>;
    for (const s of slots) {
      const decoded = decode?.dense.get(s.key);
      const tensor = s.huff && keep !== 3 ? atKeep(s.huff, keep) : s.huff!;
      mats[s.key] = s.dense ?? (decoded && { ...decoded, buffer: blockScratch! }) ?? ({ format: 'huff8', tensor, fine: s.fine ?? null, mode, scratch, sliceBytes, partials, err } satisfies CompressedWeight);
    }
    const vec = (k: keyof LayerWeights): GPUBuffer | null => vectors[k] ?? null;
    const biases = Object.fromEntries(BIAS_KEYS.map((k) => [k, vec(k)])) as Record<(typeof BIAS_KEYS)[number], GPUBuffer | null>;
    return { inputNorm: vec('inputNorm')!, postAttentionNorm: vec('postAttentionNorm')!, ...mats, ...biases };
  };

  // Walk every stream once now (building the fine index, or decoding where there is none): a malformed stream fails the load, not a request.
  rt.run((enc) => {
    for (const f of fineBuilds) buildFineIndex(rt, enc, f.t, f.index, err);
    for (const b of blocks) for (const s of b.slots) if (s.huff && !s.fine) decodeHuff8(rt, enc, s.huff, scratch, 0, s.huff.dtype === 'F16' ? 'f32' : 'pairs', err);
  });
  const errors = new Uint32Array(await rt.read(err, 4))[0];
  if (errors !== 0) throw new ModelFormatError('webgpu huff8 decode', `${errors} malformed chunk(s) in the compressed blocks`);

  const embedding = uploadWeight(rt, globals.embedding, 'embedding');
  own(embedding.buffer);
  const lmHead = globals.lmHead === globals.embedding ? embedding : uploadWeight(rt, globals.lmHead, 'lmHead');
  if (lmHead !== embedding) own(lmHead.buffer);
  const finalNorm = own(rt.upload(globals.finalNorm, 'finalNorm'));
  return {
    embedding,
    lmHead,
    finalNorm,
    layer: layerFor,
    precisions: PRECISIONS.map((p) => p.name),
    gpuBytes: owned.reduce((n, b) => n + b.size, 0),
    destroy: () => owned.forEach((b) => b.destroy()),
  };
}
