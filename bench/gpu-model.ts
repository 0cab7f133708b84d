// Synthetic Llama-shaped models for the GPU benchmark: Gaussian BF16 weights in memory, plain and huff8-compressed as a version-2 segment.

import { codebookFor, encodeTensor, symbolHistogram, type EncodedTensor } from '../kernels/codec/codec.js';
import { expandPlanesReference, splitPlanes } from '../kernels/codec/planes-reference.js';
import { symbolOf } from '../kernels/codec/reference-codec.js';
import { gaussianBf16 } from '../kernels/codec/synthetic.js';
import { SegmentLayout, type TensorEntry } from '../runtime/container/ewm-format.js';
import { PRECISIONS, type PrecisionName } from '../runtime/container/precision.js';
import type { ModelConfig } from '../runtime/model/model-config.js';
import { tinyConfig } from '../runtime/engine/random-weights.js';
import type { CompressedLayerSpec } from '../runtime/engine/webgpu-ewm-weights.js';
import { MATRIX_KEYS, type HostLayer } from '../runtime/engine/webgpu-weights.js';

/** Llama 3.2 1B's shapes (16 blocks, hidden 2048, GQA 32/8, vocab 128256, tied embeddings). */
export function llama1bConfig(): ModelConfig {
  return tinyConfig({
    vocabSize: 128256,
    hiddenSize: 2048,
    intermediateSize: 8192,
    numLayers: 16,
    numHeads: 32,
    numKvHeads: 8,
    headDim: 64,
    rmsNormEps: 1e-5,
    ropeTheta: 500000,
    ropeScaling: { kind: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
    maxPositionEmbeddings: 131072,
    tieWordEmbeddings: true,
  });
}

/** A model small enough for SwiftShader (the --small mode that proves the script works). */
export function smallConfig(): ModelConfig {
  return tinyConfig({ vocabSize: 512, hiddenSize: 128, intermediateSize: 256, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 32, tieWordEmbeddings: true });
}

export interface SyntheticModel {
  config: ModelConfig;
  /** One block's BF16 matrices and f32 norms; every block reuses this draw (see NOTE in buildSyntheticModel). */
  layer: HostLayer;
  embedding: Uint16Array;
  finalNorm: Float32Array;
  /** The block compressed as a version-2 container segment (one codebook; stream + planes A, B, C in three parts). */
  compressed: CompressedLayerSpec;
  /** Bytes of the block's huff8 matrices resident on the GPU (index, stream, all three planes, 64-byte padding). */
  compressedBytes: number;
  bitsPerWeight: number;
  /** Bytes of the block's huff8 matrices a rung's decode reads (index, stream, the planes it keeps, padding). */
  readBytes: Record<PrecisionName, number>;
}

const align64 = (n: number): number => Math.ceil(n / 64) * 64;
/**
 * Gaussian BF16 weights (std 0.02, as initialised LLM weights roughly are) with norms near 1.
 * NOTE: one block is drawn and encoded once, and every block of the model uses it (each gets
 * its own GPU copy, so bandwidth figures are honest); drawing and encoding 1.2 billion weights
 * in JavaScript would dominate the benchmark's run time without changing what it measures.
 * The embedding repeats a 16M-element draw for the same reason.
 */
export function buildSyntheticModel(config: ModelConfig, seed: number, chunkSize: number): SyntheticModel {
  const { hiddenSize: H, intermediateSize: I, numHeads: nH, numKvHeads: nKv, headDim: hd, vocabSize: V } = config;
  const shapes: Record<(typeof MATRIX_KEYS)[number], [number, number]> = {
    qProj: [nH * hd, H],
    kProj: [nKv * hd, H],
    vProj: [nKv * hd, H],
    oProj: [H, nH * hd],
    gateProj: [I, H],
    upProj: [I, H],
    downProj: [H, I],
  };
  const mats = {} as Record<(typeof MATRIX_KEYS)[number], Uint16Array>;
  MATRIX_KEYS.forEach((k, i) => (mats[k] = gaussianBf16(shapes[k][0] * shapes[k][1], 0.02, seed + i)));
  const norm = (n: number, s: number): Float32Array => {
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = 1 + 0.1 * Math.sin(i * 0.37 + s);
    return v;
  };
  const layer: HostLayer = {
    ...mats,
    inputNorm: norm(H, 1),
    postAttentionNorm: norm(H, 2),
    qBias: null,
    kBias: null,
    vBias: null,
    oBias: null,
    gateBias: null,
    upBias: null,
    downBias: null,
  };
  const embedding = new Uint16Array(V * H);
  const tile = gaussianBf16(Math.min(embedding.length, 1 << 24), 0.02, seed + 100);
  for (let at = 0; at < embedding.length; at += tile.length) embedding.set(tile.subarray(0, Math.min(tile.length, embedding.length - at)), at);

  // One codebook for the block, as the converter does per segment.
  const counts = new Float64Array(256);
  symbolHistogram(mats.qProj, counts);
  for (const k of MATRIX_KEYS.slice(1)) symbolHistogram(mats[k], counts);
  const lengths = codebookFor(counts);
  const encoded = MATRIX_KEYS.map((k) => ({ key: k, enc: encodeTensor(mats[k], lengths, chunkSize) }));
  return { config, layer, embedding, finalNorm: norm(H, 3), ...layoutSegment(encoded, shapes, layer, lengths) };
}

/**
 * Lays the encoded matrices and the raw f32 norms out as the container writer does (docs/format.md 1.4):
 * part 0 = each matrix's index, stream and plane A, then the norms; part 1 = every plane B; part 2 = every
 * plane C; every array 64-byte aligned. The runtime uploads such a segment as is (runtime/engine/webgpu-ewm-weights.ts).
 */
function layoutSegment(
  encoded: { key: (typeof MATRIX_KEYS)[number]; enc: EncodedTensor }[],
  shapes: Record<string, [number, number]>,
  layer: HostLayer,
  codeLengths: Uint8Array,
): Pick<SyntheticModel, 'compressed' | 'compressedBytes' | 'bitsPerWeight' | 'readBytes'> {
  const layout = new SegmentLayout();
  const tensors: CompressedLayerSpec['tensors'] = [];
  const bytesOf = (a: Uint32Array | Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const planeBytes = [0, 0, 0];
  let streamBytes = 0;
  let weights = 0;
  const later: { entry: TensorEntry; planes: Uint8Array[] }[] = [];
  for (const { key, enc } of encoded) {
    const planes = splitPlanes(enc.raw, enc.numElements);
    const entry: TensorEntry = {
      name: key, dtype: 'BF16', sourceDtype: 'BF16', shape: shapes[key], segment: 0, codec: 'huff8', numElements: enc.numElements,
      chunkSize: enc.chunkSize, numWords: enc.words.length, bitLength: enc.bitLength,
      indexOffset: layout.place(bytesOf(enc.index)),
      wordsOffset: layout.place(bytesOf(enc.words)),
      planeOffsets: [layout.place(planes[0])],
    };
    streamBytes += align64(enc.index.byteLength) + align64(enc.words.byteLength);
    planes.forEach((p, k) => (planeBytes[k] += align64(p.byteLength)));
    weights += enc.numElements;
    tensors.push({ key, entry });
    later.push({ entry, planes });
  }
  for (const key of ['inputNorm', 'postAttentionNorm'] as const) {
    const v = layer[key];
    tensors.push({ key, entry: { name: key, dtype: 'F32', sourceDtype: 'F32', shape: [v.length], segment: 0, codec: 'raw', dataOffset: layout.place(bytesOf(v)), byteLength: v.byteLength } });
  }
  for (const k of [1, 2]) for (const p of later) p.entry.planeOffsets!.push(layout.place(p.planes[k]));
  const readBytes = Object.fromEntries(PRECISIONS.map((r) => [r.name, streamBytes + planeBytes.slice(0, r.planes).reduce((a, b) => a + b, 0)])) as Record<PrecisionName, number>;
  return {
    compressed: { segment: layout.bytes(), codeLengths, tensors },
    compressedBytes: readBytes.bf16,
    bitsPerWeight: (readBytes.bf16 * 8) / weights,
    readBytes,
  };
}

/**
 * The block's matrices as a rung keeping `keep` planes reconstructs them, by the TypeScript reference
 * (kernels/codec/planes-reference.ts) from the source's exponent symbols and the segment's planes:
 * what the GPU decoders must produce at that rung (keep 3: the source weights themselves).
 */
export function rungMatrices(model: SyntheticModel, keep: 1 | 2 | 3): Record<(typeof MATRIX_KEYS)[number], Uint16Array> {
  const out = {} as Record<(typeof MATRIX_KEYS)[number], Uint16Array>;
  const seg = model.compressed.segment;
  for (const { key, entry } of model.compressed.tensors) {
    if (entry.codec !== 'huff8') continue;
    const k = key as (typeof MATRIX_KEYS)[number];
    const src = model.layer[k] as Uint16Array;
    if (keep === 3) {
      out[k] = src;
      continue;
    }
    const n = entry.numElements!;
    const symbols = new Uint8Array(n);
    for (let i = 0; i < n; i++) symbols[i] = symbolOf(src[i]);
    const planes = entry.planeOffsets!.slice(0, keep).map((o, p) => seg.subarray(o, o + (p === 2 ? Math.ceil(n / 2) : Math.ceil(n / 4))));
    out[k] = new Uint16Array(n);
    expandPlanesReference(symbols, planes, keep, 'BF16', out[k]);
  }
  return out;
}
