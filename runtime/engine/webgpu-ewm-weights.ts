// GPU weights from huff8-compressed blocks: segments stay resident compressed; each block is decoded by WGSL just in time.

import type { KernelRuntime } from '../../kernels/webgpu/kernel-runtime.js';
import { uploadWeight, type GpuWeight } from '../../kernels/webgpu/gpu-weight.js';
import { buildDecodeTables, decodeHuff8, fusedPartialBytes, FUSED_MAX_ROWS, type Huff8Tensor } from '../../kernels/webgpu/huff8.js';
import { buildFineIndex, fineFusedSupported, fineIndexSupported, fineIndexWords, type FineIndex } from '../../kernels/webgpu/huff8-fine.js';
import { decodedBytes, type CompressedWeight } from '../../kernels/webgpu/compressed-weight.js';
import type { MatmulWeight } from '../../kernels/webgpu/matmul.js';
import { decodeTensor } from '../../kernels/codec/codec.js';
import { ModelFormatError } from '../errors.js';
import type { ModelConfig } from '../model/model-config.js';
import { checkTensors } from '../model/hf-weights.js';
import type { TensorInfo } from '../model/safetensors.js';
import type { EwmFile } from '../container/ewm-reader.js';
import type { TensorEntry } from '../container/ewm-format.js';
import type { LayerWeights } from './runner-types.js';
import { BIAS_KEYS, MATRIX_KEYS, type GpuLayer, type GpuWeightSource } from './webgpu-weights.js';

/** One compressed block: its segment bytes as the container stores them and where each tensor lies inside. */
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
  const enc = {
    numElements: n,
    chunkSize: e.chunkSize!,
    bitLength: e.bitLength!,
    words: new Uint32Array(seg.buffer, seg.byteOffset + e.wordsOffset!, e.numWords!),
    raw: new Uint8Array(seg.buffer, seg.byteOffset + e.rawOffset!, n),
    index: new Uint32Array(seg.buffer, seg.byteOffset + e.indexOffset!, 2 * Math.ceil(n / e.chunkSize!)),
  };
  decodeTensor(enc, spec.codeLengths!, e.dtype as 'BF16' | 'F16', out);
  return out;
}

/**
 * Default row-slice size of just-in-time decoding at small batches (env EDGEWISE_WEBGPU_JIT_SLICE_MB;
 * 0 decodes whole matrices). NOTE: 16 MB is a bet, not a measurement: a slice that fits an H100 L2
 * partition (25 of its 50 MB) is read back from L2 and overwritten there by the next slice, so the
 * decoded bytes need not reach memory; gpu-bench runs the path both ways.
 */
export const JIT_SLICE_BYTES = Number(process.env.EDGEWISE_WEBGPU_JIT_SLICE_MB ?? 16) * 2 ** 20;

export async function uploadCompressedWeights(
  rt: KernelRuntime,
  config: ModelConfig,
  specs: CompressedLayerSpec[],
  globals: { embedding: Float32Array | Uint16Array; finalNorm: Float32Array; lmHead: Float32Array | Uint16Array },
  mode: CompressedMode,
  options: { jitSliceBytes?: number } = {},
): Promise<GpuWeightSource> {
  const sliceBytes = options.jitSliceBytes ?? JIT_SLICE_BYTES;
  const owned: GPUBuffer[] = [];
  const own = (b: GPUBuffer): GPUBuffer => (owned.push(b), b);
  const err = own(rt.upload(new Uint32Array(4), 'huff8-err'));
  type Slot = { key: (typeof MATRIX_KEYS)[number]; huff?: Huff8Tensor; fine?: FineIndex | null; dense?: GpuWeight; k: number };
  const blocks: { slots: Slot[]; vectors: Partial<Record<keyof LayerWeights, GPUBuffer>> }[] = [];
  let scratchBytes = 16;
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
        rawOffset: entry.rawOffset!,
      };
      const k = entry.shape[1];
      if (fineIndexSupported(huff)) {
        fineAt.push({ t: huff, wordOffset: auxWords });
        auxWords += fineIndexWords(huff);
      }
      slots.push({ key: mk, huff, k });
      scratchBytes = Math.max(scratchBytes, decodedBytes(huff));
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
    blocks.push({ slots, vectors });
  }
  const scratch = own(rt.buffer(scratchBytes, 'decoded-matrix'));
  const partials = own(rt.buffer(partialBytes, 'fused-partials'));

  const layerFor = (l: number): GpuLayer => {
    const { slots, vectors } = blocks[l];
    const mats = {} as Record<(typeof MATRIX_KEYS)[number], MatmulWeight>;
    for (const s of slots) {
      mats[s.key] = s.dense ?? ({ format: 'huff8', tensor: s.huff!, fine: s.fine ?? null, mode, scratch, sliceBytes, partials, err } satisfies CompressedWeight);
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
    gpuBytes: owned.reduce((n, b) => n + b.size, 0),
    destroy: () => owned.forEach((b) => b.destroy()),
  };
}
