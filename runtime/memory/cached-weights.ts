// WeightProvider wrapper: blocks that fit in the BlockCache stay decoded (lossless as FP32, lower rungs compact), the rest decode just in time.

import type { BlockDecodeStats, LayerWeights, WeightProvider } from '../engine/runner-types.js';
import type { ModelConfig } from '../model/model-config.js';
import type { CompactBlock, EwmWeightProvider } from '../container/ewm-weights.js';
import { LOSSLESS, precisionRung, type PrecisionName, type PrecisionRung } from '../container/precision.js';
import { BlockCache, blockKey } from './block-cache.js';
import type { SegmentStore } from './segment-store.js';

/** fp32 bytes of one decoded block (all projections, norms and biases). */
export function blockBytes(config: ModelConfig): number {
  const { hiddenSize: H, numHeads, numKvHeads, headDim, intermediateSize: I } = config;
  const q = numHeads * headDim;
  const kv = numKvHeads * headDim;
  const weights = 2 * H + q * H + 2 * kv * H + H * q + 3 * I * H;
  const biases = config.attentionBias ? q + 2 * kv : 0;
  return 4 * (weights + biases + (config.mlpBias ? 2 * I + H : 0));
}

/** What the shared cache holds: a lossless block as FP32, a lower rung's compact block, or a compressed segment prefix. */
export type CachedEntry = { kind: 'fp32'; weights: LayerWeights } | { kind: 'compact'; block: CompactBlock } | Uint8Array;

/** The container provider's surface this wrapper needs (EwmWeightProvider). */
export type RungProvider = WeightProvider &
  Pick<EwmWeightProvider, 'layerAt' | 'compactAt' | 'compactBytes' | 'expandCompact' | 'segmentOfLayer'>;

function copyLayer(src: LayerWeights): LayerWeights {
  const out = {} as Record<string, Float32Array | null>;
  for (const [k, v] of Object.entries(src)) out[k] = v === null ? null : Float32Array.from(v as Float32Array);
  return out as unknown as LayerWeights;
}

function layerBytes(lw: LayerWeights): number {
  let n = 0;
  for (const v of Object.values(lw)) if (v !== null) n += (v as Float32Array).byteLength;
  return n;
}

/**
 * NOTE: the inner provider reuses its block buffers between `layer()` calls, so an admitted
 * lossless block is copied out once (one memcpy per block, only on the miss that admits it);
 * hits then return the cached FP32 arrays and skip the decode entirely (the fast path). A lower
 * rung is admitted in its compact form (1 symbol byte + 2 bits per kept plane per weight) and
 * widened natively into the provider's buffers on each use. The rung comes from
 * `selectPrecision` (the adaptive runner sets it before each precision group of a step) and is
 * part of the key, so rungs never alias.
 */
export class CachedWeightProvider implements WeightProvider {
  readonly config: ModelConfig;
  private rung: PrecisionRung = precisionRung(LOSSLESS);

  constructor(
    private readonly inner: RungProvider,
    readonly cache: BlockCache<CachedEntry>,
    private readonly segments: SegmentStore | null = null,
  ) {
    this.config = inner.config;
  }

  /** The rung the next `layer()` calls decode at. */
  selectPrecision(name: PrecisionName): void {
    this.rung = precisionRung(name);
  }

  get precision(): PrecisionName {
    return this.rung.name;
  }

  embedding(): Float32Array {
    return this.inner.embedding();
  }

  finalNorm(): Float32Array {
    return this.inner.finalNorm();
  }

  lmHead(): Float32Array {
    return this.inner.lmHead();
  }

  /** Cache hits decode nothing, so the inner provider's counts are exactly the decodes done. */
  get decodeStats(): BlockDecodeStats | undefined {
    return this.inner.decodeStats;
  }

  async layer(layerIndex: number): Promise<LayerWeights> {
    const rung = this.rung;
    const key = blockKey(layerIndex, rung.name);
    const hit = this.cache.get(key) as Exclude<CachedEntry, Uint8Array> | undefined;
    if (hit !== undefined) return hit.kind === 'fp32' ? hit.weights : this.inner.expandCompact(hit.block);
    if (rung.lossless) {
      const decoded = await this.inner.layerAt(layerIndex, rung);
      const bytes = layerBytes(decoded);
      if (!this.cache.fits(bytes)) return this.bypass(layerIndex, rung, decoded);
      const copy = copyLayer(decoded);
      this.admit(layerIndex, rung, key, { kind: 'fp32', weights: copy }, bytes);
      return copy;
    }
    const bytes = this.inner.compactBytes(layerIndex, rung);
    if (!this.cache.fits(bytes)) return this.bypass(layerIndex, rung, await this.inner.layerAt(layerIndex, rung));
    const block = this.inner.compactAt(layerIndex, rung);
    this.admit(layerIndex, rung, key, { kind: 'compact', block }, bytes);
    return this.inner.expandCompact(block);
  }

  close(): void {
    this.cache.resize(0);
    this.inner.close();
  }

  private admit(layerIndex: number, rung: PrecisionRung, key: string, entry: CachedEntry, bytes: number): void {
    this.cache.admit(key, entry, bytes);
    this.segments?.release(this.inner.segmentOfLayer(layerIndex), rung.planes);
  }

  /** The block stays just in time; its compressed prefix is kept instead when that fits. */
  private bypass(layerIndex: number, rung: PrecisionRung, decoded: LayerWeights): LayerWeights {
    this.cache.noteBypass();
    this.segments?.retain(this.inner.segmentOfLayer(layerIndex), rung.planes);
    return decoded;
  }
}
