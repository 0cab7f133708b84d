// An in-memory WeightProvider with seeded random weights (tests and benchmarks; never all zeros).

import type { ModelConfig } from '../model/model-config.js';
import type { LayerWeights, WeightProvider } from './runner-types.js';
import { Prng } from '../generation/prng.js';

/** A tiny Llama config for tests; override any field. */
export function tinyConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return {
    architecture: 'LlamaForCausalLM',
    modelType: 'llama',
    vocabSize: 97,
    hiddenSize: 32,
    intermediateSize: 48,
    numLayers: 3,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 8,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    ropeScaling: { kind: 'none' },
    maxPositionEmbeddings: 256,
    tieWordEmbeddings: false,
    attentionBias: false,
    outputBias: false,
    mlpBias: false,
    bosTokenId: 1,
    eosTokenIds: [2],
    ...overrides,
  };
}

/** The shape of models/default (hidden 256, 6 layers, 8 heads, 2 KV heads, vocab 4096, tied). */
export function defaultModelShapeConfig(): ModelConfig {
  return tinyConfig({
    vocabSize: 4096,
    hiddenSize: 256,
    intermediateSize: 688,
    numLayers: 6,
    numHeads: 8,
    numKvHeads: 2,
    headDim: 32,
    maxPositionEmbeddings: 1024,
    tieWordEmbeddings: true,
  });
}

/** Weights uniform in ±scale, Linear scales ~1/sqrt(fan_in) so activations stay O(1). */
export function createRandomWeights(config: ModelConfig, seed = 1): WeightProvider {
  const rng = new Prng(seed);
  const uniform = (n: number, scale: number, center = 0): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = center + (2 * rng.nextFloat() - 1) * scale;
    return a;
  };
  const H = config.hiddenSize;
  const q = config.numHeads * config.headDim;
  const kv = config.numKvHeads * config.headDim;
  const I = config.intermediateSize;
  const lin = (out: number, inp: number): Float32Array => uniform(out * inp, 1.5 / Math.sqrt(inp));
  const bias = (n: number, on: boolean): Float32Array | null => (on ? uniform(n, 0.2) : null);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    layers.push({
      inputNorm: uniform(H, 0.3, 1),
      qProj: lin(q, H),
      kProj: lin(kv, H),
      vProj: lin(kv, H),
      qBias: bias(q, config.attentionBias),
      kBias: bias(kv, config.attentionBias),
      vBias: bias(kv, config.attentionBias),
      oProj: lin(H, q),
      oBias: bias(H, config.outputBias),
      postAttentionNorm: uniform(H, 0.3, 1),
      gateProj: lin(I, H),
      upProj: lin(I, H),
      downProj: lin(H, I),
      gateBias: bias(I, config.mlpBias),
      upBias: bias(I, config.mlpBias),
      downBias: bias(H, config.mlpBias),
    });
  }
  const embedding = uniform(config.vocabSize * H, 1);
  const finalNorm = uniform(H, 0.3, 1);
  const lmHead = config.tieWordEmbeddings ? embedding : lin(config.vocabSize, H);
  return {
    config,
    embedding: () => embedding,
    finalNorm: () => finalNorm,
    lmHead: () => lmHead,
    layer: async (i: number) => layers[i],
    close: () => {},
  };
}
