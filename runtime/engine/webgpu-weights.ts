// GPU-side weights of a model: the block/head tensor set the WebGPU runner reads, and its resident upload from a WeightProvider.

import type { KernelRuntime } from '../../kernels/webgpu/kernel-runtime.js';
import { uploadWeight, type GpuWeight } from '../../kernels/webgpu/gpu-weight.js';
import type { MatmulWeight } from '../../kernels/webgpu/matmul.js';
import type { LayerWeights, WeightProvider } from './runner-types.js';
import type { ModelConfig } from '../model/model-config.js';
import type { PrecisionName } from '../container/precision.js';

/** One block's tensors on the GPU; projection matrices may be dense or still compressed (fused decode+GEMV). */
export interface GpuLayer {
  inputNorm: GPUBuffer;
  postAttentionNorm: GPUBuffer;
  qProj: MatmulWeight;
  kProj: MatmulWeight;
  vProj: MatmulWeight;
  oProj: MatmulWeight;
  gateProj: MatmulWeight;
  upProj: MatmulWeight;
  downProj: MatmulWeight;
  qBias: GPUBuffer | null;
  kBias: GPUBuffer | null;
  vBias: GPUBuffer | null;
  oBias: GPUBuffer | null;
  gateBias: GPUBuffer | null;
  upBias: GPUBuffer | null;
  downBias: GPUBuffer | null;
}

/** Where the runner gets its GPU weights each step. */
export interface GpuWeightSource {
  embedding: GpuWeight;
  finalNorm: GPUBuffer;
  lmHead: GpuWeight;
  /**
   * Block `layer`'s weights, ready for commands recorded after this call in `enc` (compressed
   * matrices are decoded, or fused into the product, by `matmul` itself, one matrix at a time).
   * `rows` is the number of activation rows the block will multiply. `keep`: bit-planes of the
   * precision rung (3 = lossless, 2 = e8m3, 1 = e8m1), only for a rung listed in `precisions`.
   */
  layer(layer: number, enc: GPUCommandEncoder, rows: number, keep?: 1 | 2 | 3): GpuLayer;
  /**
   * Precision rungs this source decodes on the GPU (a planed .ewm store: all of them). Absent: it
   * serves its provider's weights as they are (lossless for a model, or the rung of an `atRung` view).
   */
  readonly precisions?: readonly PrecisionName[];
  /** GPU bytes held (weights and scratch), for the memory governor. */
  readonly gpuBytes: number;
  destroy(): void;
}

export const MATRIX_KEYS = ['qProj', 'kProj', 'vProj', 'oProj', 'gateProj', 'upProj', 'downProj'] as const;
export const BIAS_KEYS = ['qBias', 'kBias', 'vBias', 'oBias', 'gateBias', 'upBias', 'downBias'] as const;

/** BF16 bit patterns when every value is exactly a BF16 (a BF16 checkpoint widened to f32), else null. */
export function exactBf16(values: Float32Array): Uint16Array | null {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  if (values.length % 2 !== 0) return null;
  for (let i = 0; i < bits.length; i++) if ((bits[i] & 0xffff) !== 0) return null;
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] >>> 16;
  return out;
}

/** A block's tensors on the host: f32 values, or BF16 bit patterns for matrices. */
export type HostLayer = Record<(typeof MATRIX_KEYS)[number], Float32Array | Uint16Array> &
  Record<(typeof BIAS_KEYS)[number], Float32Array | null> & { inputNorm: Float32Array; postAttentionNorm: Float32Array };

/** Everything resident on the GPU, uploaded once from host tensors (`layer` is awaited one block at a time). */
export async function uploadHostWeights(
  rt: KernelRuntime,
  config: ModelConfig,
  host: { layer: (l: number) => Promise<HostLayer>; embedding: Float32Array | Uint16Array; finalNorm: Float32Array; lmHead: Float32Array | Uint16Array },
): Promise<GpuWeightSource> {
  const buffers: GPUBuffer[] = [];
  let bytes = 0;
  const track = <T extends GpuWeight | GPUBuffer>(w: T): T => {
    const buf: GPUBuffer = 'format' in w ? (w as GpuWeight).buffer : (w as GPUBuffer);
    buffers.push(buf);
    bytes += buf.size;
    return w;
  };
  const vec = (v: Float32Array | null, label: string): GPUBuffer | null => (v ? track(rt.upload(v, label)) : null);
  const layers: GpuLayer[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    const hl = await host.layer(l);
    const mats = Object.fromEntries(MATRIX_KEYS.map((k) => [k, track(uploadWeight(rt, hl[k], `layer${l}.${k}`))])) as Record<(typeof MATRIX_KEYS)[number], GpuWeight>;
    const biases = Object.fromEntries(BIAS_KEYS.map((k) => [k, vec(hl[k], `layer${l}.${k}`)])) as Record<(typeof BIAS_KEYS)[number], GPUBuffer | null>;
    layers.push({ inputNorm: vec(hl.inputNorm, `layer${l}.inputNorm`)!, postAttentionNorm: vec(hl.postAttentionNorm, `layer${l}.postAttentionNorm`)!, ...mats, ...biases });
  }
  const embedding = track(uploadWeight(rt, host.embedding, 'embedding'));
  const lmHead = host.lmHead === host.embedding ? embedding : track(uploadWeight(rt, host.lmHead, 'lmHead'));
  const finalNorm = vec(host.finalNorm, 'finalNorm')!;
  return { embedding, lmHead, finalNorm, layer: (l) => layers[l], gpuBytes: bytes, destroy: () => buffers.forEach((b) => b.destroy()) };
}

/**
 * Every weight of a WeightProvider resident on the GPU: the uncompressed path. NOTE: BF16
 * checkpoints stay BF16 on the GPU (exactBf16), so the uncompressed path reads 2 bytes per
 * weight like the compressed one's decoded form, with the same results as f32.
 */
export async function uploadResidentWeights(rt: KernelRuntime, provider: WeightProvider): Promise<GpuWeightSource> {
  const config = provider.config;
  const dense = (v: Float32Array): Float32Array | Uint16Array => exactBf16(v) ?? v;
  const embedding = dense(provider.embedding());
  return uploadHostWeights(rt, config, {
    embedding,
    lmHead: config.tieWordEmbeddings ? embedding : dense(provider.lmHead()),
    finalNorm: provider.finalNorm(),
    layer: async (l) => {
      const lw: LayerWeights = await provider.layer(l);
      if ((lw as { layout?: string }).layout === 'in-out') throw new Error(`layer ${l}: provider served transposed weights without being asked`);
      const mats = Object.fromEntries(MATRIX_KEYS.map((k) => [k, dense(lw[k])]));
      return { ...lw, ...mats } as HostLayer;
    },
  });
}
