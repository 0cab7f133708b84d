// Synthetic Llama-shaped models for the GPU benchmark: Gaussian BF16 weights in memory, plain and huff8-compressed.

import { codebookFor, encodeTensor, symbolHistogram, type EncodedTensor } from '../kernels/codec/codec.js';
import { gaussianBf16 } from '../kernels/codec/synthetic.js';
import type { TensorEntry } from '../runtime/container/ewm-format.js';
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
  /** The block compressed as a container segment (one codebook), and its size figures. */
  compressed: CompressedLayerSpec;
  compressedBytes: number;
  bitsPerWeight: number;
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

/** Lays the encoded matrices (index, words, raw each 64-aligned) and raw f32 norms out as a container segment does. */
function layoutSegment(
  encoded: { key: (typeof MATRIX_KEYS)[number]; enc: EncodedTensor }[],
  shapes: Record<string, [number, number]>,
  layer: HostLayer,
  codeLengths: Uint8Array,
): { compressed: CompressedLayerSpec; compressedBytes: number; bitsPerWeight: number } {
  const entries: { key: CompressedLayerSpec['tensors'][number]['key']; entry: TensorEntry; parts: [number, Uint8Array][] }[] = [];
  let at = 0;
  let weights = 0;
  const bytesOf = (a: Uint32Array | Uint8Array | Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  for (const { key, enc } of encoded) {
    const indexOffset = at;
    const wordsOffset = align64(indexOffset + enc.index.byteLength);
    const rawOffset = align64(wordsOffset + enc.words.byteLength);
    at = align64(rawOffset + enc.raw.byteLength);
    weights += enc.numElements;
    const entry: TensorEntry = {
      name: key, dtype: 'BF16', sourceDtype: 'BF16', shape: shapes[key], segment: 0, codec: 'huff8', numElements: enc.numElements,
      chunkSize: enc.chunkSize, indexOffset, wordsOffset, numWords: enc.words.length, bitLength: enc.bitLength, rawOffset,
    };
    entries.push({ key, entry, parts: [[indexOffset, bytesOf(enc.index)], [wordsOffset, bytesOf(enc.words)], [rawOffset, enc.raw]] });
  }
  const compressedBytes = at;
  for (const key of ['inputNorm', 'postAttentionNorm'] as const) {
    const v = layer[key];
    const entry: TensorEntry = { name: key, dtype: 'F32', sourceDtype: 'F32', shape: [v.length], segment: 0, codec: 'raw', dataOffset: at, byteLength: v.byteLength };
    entries.push({ key, entry, parts: [[at, bytesOf(v)]] });
    at = align64(at + v.byteLength);
  }
  const segment = new Uint8Array(at);
  for (const e of entries) for (const [off, bytes] of e.parts) segment.set(bytes, off);
  return {
    compressed: { segment, codeLengths, tensors: entries.map(({ key, entry }) => ({ key, entry })) },
    compressedBytes,
    bitsPerWeight: (compressedBytes * 8) / weights,
  };
}
