// Runs one block of a decode step (every sequence adds one token) in the native addon (kernels/codec/src/cpu-forward.cc).

import { availableParallelism } from 'node:os';
import type { ModelConfig } from '../model/model-config.js';
import type { LayerWeights } from './runner-types.js';
import { nativeAddon, nativeCodecAvailable } from '../../kernels/codec/native.js';

/** Order of the weights array the addon takes (its WeightSlot enum). */
const WEIGHT_ORDER: (keyof LayerWeights)[] = [
  'inputNorm', 'qProj', 'kProj', 'vProj', 'qBias', 'kBias', 'vBias', 'oProj', 'oBias',
  'postAttentionNorm', 'gateProj', 'upProj', 'downProj', 'gateBias', 'upBias', 'downBias',
];

interface DecodeStepAddon {
  decodeStep(
    hidden: Float32Array, rope: Float32Array, weights: (Float32Array | null)[], keys: Float32Array[], values: Float32Array[],
    pastLengths: Int32Array, dims: Int32Array, eps: number, threads: number,
  ): void;
  setDecodeIsa(isa?: DecodeIsa): DecodeIsa;
}

/** Instruction sets the native kernels come in, best first. */
export const DECODE_ISAS = ['avx512', 'avx2', 'portable'] as const;
export type DecodeIsa = (typeof DECODE_ISAS)[number];

/**
 * The kernels the native decode step uses (process-wide): the best the CPU has unless set
 * lower (tests run every path; benchmarks compare them). Throws for one the CPU lacks.
 */
export function nativeDecodeIsa(set?: DecodeIsa): DecodeIsa {
  return (nativeAddon() as unknown as DecodeStepAddon).setDecodeIsa(set);
}

/** One sequence's cache rows for a block: stored rows plus room for the new one, and how many are stored. */
export interface NativeCacheRows {
  keys: Float32Array;
  values: Float32Array;
  pastLength: number;
}

/** True when the addon is built and has the decode step (an older build may lack it). */
export function nativeDecodeAvailable(): boolean {
  return nativeCodecAvailable() && typeof (nativeAddon() as unknown as Partial<DecodeStepAddon>).decodeStep === 'function';
}

/** The native path is chosen unless EDGEWISE_NATIVE_DECODE=0 (kept for A/B benchmarks and bisecting). */
export function nativeDecodeWanted(): boolean {
  return process.env.EDGEWISE_NATIVE_DECODE !== '0' && nativeDecodeAvailable();
}

export class NativeDecodeStep {
  private readonly addon: DecodeStepAddon;
  private readonly dims: Int32Array;
  private readonly threads: number;

  constructor(
    private readonly config: ModelConfig,
    threads?: number,
  ) {
    this.addon = nativeAddon() as unknown as DecodeStepAddon;
    this.dims = Int32Array.from([config.hiddenSize, config.numHeads, config.numKvHeads, config.headDim, config.intermediateSize]);
    this.threads = threads ?? availableParallelism();
  }

  /**
   * Runs block weights `lw` on `hidden` ([B, hidden], one row per sequence, updated in place)
   * with RoPE rows `rope` ([B, 2, headDim]); writes each sequence's new K/V row after its stored ones.
   */
  run(hidden: Float32Array, rope: Float32Array, lw: LayerWeights, caches: NativeCacheRows[]): void {
    this.addon.decodeStep(
      hidden,
      rope,
      WEIGHT_ORDER.map((key) => lw[key]),
      caches.map((c) => c.keys),
      caches.map((c) => c.values),
      Int32Array.from(caches.map((c) => c.pastLength)),
      this.dims,
      this.config.rmsNormEps,
      this.threads,
    );
  }
}
