// The whole model as ONE onnx graph with every weight an initializer: the baseline engine-bench compares against.

import type { ModelConfig } from '../runtime/model/model-config.js';
import type { WeightProvider } from '../runtime/engine/runner-types.js';
import { DType, GraphBuilder } from '../runtime/engine/onnx-builder.js';
import { nameBlockWeights, emitBlock, emitHead, emitRopeInputs, ROPE_INPUT, type BlockWeightNames } from '../runtime/engine/block-graph.js';
import { SequenceKvCache } from '../runtime/engine/kv-cache.js';
import { RopeTables } from '../runtime/engine/rope.js';
import { createSession, floatTensor, ort, type GraphSession } from '../runtime/engine/ort-session.js';

const pastK = (l: number) => `past_k_${l}`;
const pastV = (l: number) => `past_v_${l}`;
const newK = (l: number) => `new_k_${l}`;
const newV = (l: number) => `new_v_${l}`;

/** Same nodes as the block-wise engine (emitBlock/emitHead), same KV-cache inputs/outputs, weights baked in. */
export async function buildMonolithicGraph(weights: WeightProvider): Promise<Uint8Array> {
  const config = weights.config;
  const { hiddenSize: H, numKvHeads, headDim } = config;
  const g = new GraphBuilder('edgewise_monolithic');
  const ids = g.input('input_ids', DType.int64, ['T']);
  const { cos3, sin3 } = emitRopeInputs(g, headDim);
  const embedding = g.initializer('embedding', [config.vocabSize, H], weights.embedding());
  let hidden = g.op('Gather', [embedding, ids], { axis: 0 });
  for (let l = 0; l < config.numLayers; l++) {
    const lw = await weights.layer(l);
    // Copy: providers may reuse their buffers after the next layer() call.
    const names = nameBlockWeights(config, (key, dims) => g.initializer(`l${l}_${key}`, dims, Float32Array.from(lw[key]!)));
    const slot = {
      pastK: g.input(pastK(l), DType.float, ['L', numKvHeads, headDim]),
      pastV: g.input(pastV(l), DType.float, ['L', numKvHeads, headDim]),
    };
    const out = emitBlock(g, config, { hidden, cos3, sin3, slots: [slot], splitSizes: null, weights: names });
    hidden = out.hidden;
    g.op('Identity', [out.newK[0]], {}, newK(l));
    g.op('Identity', [out.newV[0]], {}, newV(l));
    g.output(newK(l), DType.float, ['T', numKvHeads, headDim]);
    g.output(newV(l), DType.float, ['T', numKvHeads, headDim]);
  }
  // Logits of the last position only, like the block-wise runner without allLogits.
  const last = g.op('Slice', [hidden, g.constInt64([-1]), g.constInt64([2 ** 62]), g.constInt64([0])]);
  const norm = g.initializer('final_norm', [H], weights.finalNorm());
  const lmHead = config.tieWordEmbeddings ? embedding : g.initializer('lm_head', [config.vocabSize, H], weights.lmHead());
  g.op('Identity', [emitHead(g, config, last, norm, lmHead)], {}, 'logits');
  g.output('logits', DType.float, [1, config.vocabSize]);
  return g.toBytes();
}

/** One sequence at a time through the monolithic graph, KV cache kept exactly like the runner's. */
export class MonolithicModel {
  private seq: SequenceKvCache;
  private readonly rope: RopeTables;

  private constructor(
    readonly config: ModelConfig,
    private readonly session: GraphSession,
    private readonly maxSeqLen: number,
  ) {
    this.rope = new RopeTables(config, maxSeqLen);
    this.seq = this.freshSequence();
  }

  /** `prepack: false` only for the diagnostic variant: constant weights read by the same M=1 kernels as input weights. */
  static async create(weights: WeightProvider, maxSeqLen: number, threads: number | undefined, prepack = true): Promise<MonolithicModel> {
    const session = await createSession(await buildMonolithicGraph(weights), threads, 'monolithic', { prepack });
    return new MonolithicModel(weights.config, session, maxSeqLen);
  }

  private freshSequence(): SequenceKvCache {
    const layers = Array.from({ length: this.config.numLayers }, (_, i) => i);
    return new SequenceKvCache(layers, this.config.numKvHeads * this.config.headDim, this.maxSeqLen);
  }

  /** Drops the cache and starts a new sequence. */
  reset(): void {
    this.seq = this.freshSequence();
  }

  /** Appends `tokenIds` and returns the last position's logits. */
  async step(tokenIds: number[]): Promise<Float32Array> {
    const { numKvHeads: kvH, headDim: hd, numLayers } = this.config;
    const n = tokenIds.length;
    const seq = this.seq;
    seq.reserve(seq.length + n);
    const positions = Array.from({ length: n }, (_, i) => seq.length + i);
    const rope = new Float32Array(n * 2 * hd);
    this.rope.fillInterleaved(positions, rope);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(tokenIds.map(BigInt)), [n]),
      [ROPE_INPUT]: floatTensor(rope, [n, 2, hd]),
    };
    const fetches: Record<string, ort.Tensor | null> = { logits: null };
    for (let l = 0; l < numLayers; l++) {
      const past = seq.past(l);
      feeds[pastK(l)] = floatTensor(past.keys, [seq.length, kvH, hd]);
      feeds[pastV(l)] = floatTensor(past.values, [seq.length, kvH, hd]);
      const fresh = seq.slotsFor(l, n);
      fetches[newK(l)] = floatTensor(fresh.keys, [n, kvH, hd]);
      fetches[newV(l)] = floatTensor(fresh.values, [n, kvH, hd]);
    }
    const result = await this.session.run(feeds, fetches);
    seq.commit(n);
    return result.logits.data as Float32Array;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
