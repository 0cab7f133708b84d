// Emits the Llama transformer block (and the final norm + LM head) as ONNX nodes; builds the per-block graph.

import type { ModelConfig } from '../model/model-config.js';
import type { LayerWeights } from './runner-types.js';
import { DType, GraphBuilder } from './onnx-builder.js';

/** Graph value names of one block's weights (graph inputs here, initializers in a monolithic graph). */
export type BlockWeightNames = { [K in keyof LayerWeights]: string | null };

/** The weight tensors a block graph takes, with their shapes; biases only when the config has them. */
export function blockWeightShapes(config: ModelConfig): { key: keyof LayerWeights; dims: number[] }[] {
  const H = config.hiddenSize;
  const q = config.numHeads * config.headDim;
  const kv = config.numKvHeads * config.headDim;
  const I = config.intermediateSize;
  const shapes: { key: keyof LayerWeights; dims: number[] }[] = [
    { key: 'inputNorm', dims: [H] },
    { key: 'qProj', dims: [q, H] },
    { key: 'kProj', dims: [kv, H] },
    { key: 'vProj', dims: [kv, H] },
    { key: 'oProj', dims: [H, q] },
    { key: 'postAttentionNorm', dims: [H] },
    { key: 'gateProj', dims: [I, H] },
    { key: 'upProj', dims: [I, H] },
    { key: 'downProj', dims: [H, I] },
  ];
  if (config.attentionBias) shapes.push({ key: 'qBias', dims: [q] }, { key: 'kBias', dims: [kv] }, { key: 'vBias', dims: [kv] });
  if (config.outputBias) shapes.push({ key: 'oBias', dims: [H] });
  if (config.mlpBias) shapes.push({ key: 'gateBias', dims: [I] }, { key: 'upBias', dims: [I] }, { key: 'downBias', dims: [H] });
  return shapes;
}

/** Names every weight the config has via `declare` (graph input or initializer); absent biases stay null. */
export function nameBlockWeights(config: ModelConfig, declare: (key: keyof LayerWeights, dims: number[]) => string): BlockWeightNames {
  const names: BlockWeightNames = {
    inputNorm: null, qProj: null, kProj: null, vProj: null, qBias: null, kBias: null, vBias: null, oProj: null, oBias: null,
    postAttentionNorm: null, gateProj: null, upProj: null, downProj: null, gateBias: null, upBias: null, downBias: null,
  };
  for (const { key, dims } of blockWeightShapes(config)) names[key] = declare(key, dims);
  return names;
}

/** transformers' LlamaRMSNorm in float32: weight * (x * rsqrt(mean(x²) + eps)). */
export function emitRmsNorm(g: GraphBuilder, x: string, weight: string, eps: number): string {
  const variance = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: [-1], keepdims: 1 });
  const inv = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [variance, g.constFloat(eps)])])]);
  return g.op('Mul', [weight, g.op('Mul', [x, inv])]);
}

/** x [T, in] · Wᵀ (+ b) with W in the HF [out, in] layout, so no transposed copy is ever made. */
export function emitLinear(g: GraphBuilder, x: string, weight: string, bias: string | null): string {
  return g.op('Gemm', bias === null ? [x, weight] : [x, weight, bias], { transB: 1 });
}

/** Rotate-half RoPE: x*cos + cat(-x2, x1)*sin on x [T, heads, headDim], cos/sin [T, 1, headDim]. */
function emitRope(g: GraphBuilder, x: string, cos3: string, sin3: string, headDim: number): string {
  const half = headDim / 2;
  const axes = g.constInt64([2]);
  const x1 = g.op('Slice', [x, g.constInt64([0]), g.constInt64([half]), axes]);
  const x2 = g.op('Slice', [x, g.constInt64([half]), g.constInt64([headDim]), axes]);
  const rotated = g.op('Concat', [g.op('Neg', [x2]), x1], { axis: 2 });
  return g.op('Add', [g.op('Mul', [x, cos3]), g.op('Mul', [rotated, sin3])]);
}

/**
 * Causal GQA attention of one sequence over its cache: q [S, nH, hd] (RoPE applied),
 * past/new K,V [L|S, kvH, hd] token-major. Returns [S, nH*hd].
 */
function emitSequenceAttention(
  g: GraphBuilder,
  config: ModelConfig,
  q: string,
  pastK: string,
  pastV: string,
  newK: string,
  newV: string,
): string {
  const { numHeads, numKvHeads, headDim } = config;
  const group = numHeads / numKvHeads;
  const keys = g.op('Concat', [pastK, newK], { axis: 0 }); // [K, kvH, hd]
  const values = g.op('Concat', [pastV, newV], { axis: 0 });
  // HF's repeat_kv maps query head h to kv head floor(h / group): split heads as [kvH, group].
  const q4 = g.op('Reshape', [q, g.constInt64([-1, numKvHeads, group, headDim])]);
  const qh = g.op('Transpose', [q4], { perm: [1, 2, 0, 3] }); // [kvH, group, S, hd]
  const kt = g.op('Unsqueeze', [g.op('Transpose', [keys], { perm: [1, 2, 0] }), g.constInt64([1])]); // [kvH,1,hd,K]
  const vt = g.op('Unsqueeze', [g.op('Transpose', [values], { perm: [1, 0, 2] }), g.constInt64([1])]); // [kvH,1,K,hd]
  const scores = g.op('Mul', [g.op('MatMul', [qh, kt]), g.constFloat(1 / Math.sqrt(headDim))]); // [kvH,group,S,K]
  // Causal mask from the shapes alone: query i sits at position L+i and sees keys 0..L+i.
  const zero = g.constInt64Scalar(0);
  const totalLen = g.op('Gather', [g.op('Shape', [keys]), zero], { axis: 0 });
  const pastLen = g.op('Gather', [g.op('Shape', [pastK]), zero], { axis: 0 });
  const one = g.constInt64Scalar(1);
  const keyPos = g.op('Range', [zero, totalLen, one]); // [K]
  const queryPos = g.op('Unsqueeze', [g.op('Range', [pastLen, totalLen, one]), g.constInt64([1])]); // [S,1]
  const mask = g.op('Where', [g.op('Greater', [keyPos, queryPos]), g.constFloat(-Infinity), g.constFloat(0)]);
  const probs = g.op('Softmax', [g.op('Add', [scores, mask])], { axis: -1 });
  const out = g.op('MatMul', [probs, vt]); // [kvH, group, S, hd]
  const outT = g.op('Transpose', [out], { perm: [2, 0, 1, 3] }); // [S, kvH, group, hd]
  return g.op('Reshape', [outT, g.constInt64([-1, numHeads * headDim])]);
}

/** Names a caller supplies for one block: the hidden input, shared RoPE rows and per-sequence caches. */
export interface BlockIo {
  hidden: string; // [T, H], all sequences' new tokens back to back
  cos3: string; // [T, 1, hd]
  sin3: string; // [T, 1, hd]
  slots: { pastK: string; pastV: string }[]; // one per sequence, [L_i, kvH, hd]
  splitSizes: string | null; // int64 [numSlots] tokens per sequence; null when one slot
  weights: BlockWeightNames;
}

/** Emits one block; returns the output hidden [T, H] and per slot the new K (RoPE applied) / V [S_i, kvH, hd]. */
export function emitBlock(
  g: GraphBuilder,
  config: ModelConfig,
  io: BlockIo,
): { hidden: string; newK: string[]; newV: string[] } {
  const { numHeads, numKvHeads, headDim, rmsNormEps } = config;
  const w = io.weights;
  const need = (name: string | null): string => {
    if (name === null) throw new Error('missing block weight name');
    return name;
  };
  const h = emitRmsNorm(g, io.hidden, need(w.inputNorm), rmsNormEps);
  const q = g.op('Reshape', [emitLinear(g, h, need(w.qProj), w.qBias), g.constInt64([-1, numHeads, headDim])]);
  const k = g.op('Reshape', [emitLinear(g, h, need(w.kProj), w.kBias), g.constInt64([-1, numKvHeads, headDim])]);
  const v = g.op('Reshape', [emitLinear(g, h, need(w.vProj), w.vBias), g.constInt64([-1, numKvHeads, headDim])]);
  const qr = emitRope(g, q, io.cos3, io.sin3, headDim);
  const kr = emitRope(g, k, io.cos3, io.sin3, headDim);
  const n = io.slots.length;
  const split = (x: string): string[] => {
    if (n === 1) return [x];
    if (io.splitSizes === null) throw new Error('splitSizes is required with several slots');
    const outs = Array.from({ length: n }, () => g.fresh('split'));
    g.opMulti('Split', [x, io.splitSizes], outs, { axis: 0 });
    return outs;
  };
  const qs = split(qr);
  const ks = split(kr);
  const vs = split(v);
  const attnParts = io.slots.map((slot, i) => emitSequenceAttention(g, config, qs[i], slot.pastK, slot.pastV, ks[i], vs[i]));
  const attn = n === 1 ? attnParts[0] : g.op('Concat', attnParts, { axis: 0 });
  const x2 = g.op('Add', [io.hidden, emitLinear(g, attn, need(w.oProj), w.oBias)]);
  const h2 = emitRmsNorm(g, x2, need(w.postAttentionNorm), rmsNormEps);
  const gate = emitLinear(g, h2, need(w.gateProj), w.gateBias);
  const up = emitLinear(g, h2, need(w.upProj), w.upBias);
  const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]); // SiLU(gate) * up
  const out = g.op('Add', [x2, emitLinear(g, act, need(w.downProj), w.downBias)]);
  return { hidden: out, newK: ks, newV: vs };
}

/** The RoPE rows input [T, 2, hd] (cos, sin per token), sliced once to [T, 1, hd] each for broadcasting over heads. */
export function emitRopeInputs(g: GraphBuilder, headDim: number): { cos3: string; sin3: string } {
  const rope = g.input(ROPE_INPUT, DType.float, ['T', 2, headDim]);
  const axis = g.constInt64([1]);
  return {
    cos3: g.op('Slice', [rope, g.constInt64([0]), g.constInt64([1]), axis]),
    sin3: g.op('Slice', [rope, g.constInt64([1]), g.constInt64([2]), axis]),
  };
}

/** Name of the RoPE rows input in every graph that takes one. */
export const ROPE_INPUT = 'rope';

/** Input names of the per-block graph. */
export const blockInputName = {
  hidden: 'hidden',
  splitSizes: 'split_sizes',
  pastK: (slot: number) => `past_k_${slot}`,
  pastV: (slot: number) => `past_v_${slot}`,
  weight: (key: keyof LayerWeights) => `w_${key}`,
} as const;
export const blockOutputName = {
  hidden: 'hidden_out',
  newK: (slot: number) => `new_k_${slot}`,
  newV: (slot: number) => `new_v_${slot}`,
} as const;

/**
 * One block for `numSlots` sequences with every weight a graph input, so one session serves
 * every layer and weights can come from just-in-time decompressed buffers.
 */
export function buildBlockGraph(config: ModelConfig, numSlots: number): Uint8Array {
  const { hiddenSize: H, numKvHeads, headDim } = config;
  const g = new GraphBuilder(`edgewise_block_${numSlots}`);
  const hidden = g.input(blockInputName.hidden, DType.float, ['T', H]);
  const { cos3, sin3 } = emitRopeInputs(g, headDim);
  const splitSizes = numSlots > 1 ? g.input(blockInputName.splitSizes, DType.int64, [numSlots]) : null;
  const slots = Array.from({ length: numSlots }, (_, i) => ({
    pastK: g.input(blockInputName.pastK(i), DType.float, [`L${i}`, numKvHeads, headDim]),
    pastV: g.input(blockInputName.pastV(i), DType.float, [`L${i}`, numKvHeads, headDim]),
  }));
  const weights = nameBlockWeights(config, (key, dims) => g.input(blockInputName.weight(key), DType.float, dims));
  const out = emitBlock(g, config, { hidden, cos3, sin3, slots, splitSizes, weights });
  g.op('Identity', [out.hidden], {}, blockOutputName.hidden);
  g.output(blockOutputName.hidden, DType.float, ['T', H]);
  for (let i = 0; i < numSlots; i++) {
    g.op('Identity', [out.newK[i]], {}, blockOutputName.newK(i));
    g.op('Identity', [out.newV[i]], {}, blockOutputName.newV(i));
    g.output(blockOutputName.newK(i), DType.float, [`S${i}`, numKvHeads, headDim]);
    g.output(blockOutputName.newV(i), DType.float, [`S${i}`, numKvHeads, headDim]);
  }
  return g.toBytes();
}

/** Final RMSNorm + LM head: hidden [N, H] → logits [N, vocab]; weights are inputs or initializers named by the caller. */
export function emitHead(g: GraphBuilder, config: ModelConfig, hidden: string, normWeight: string, lmHead: string): string {
  return emitLinear(g, emitRmsNorm(g, hidden, normWeight, config.rmsNormEps), lmHead, null);
}

export const headInputName = { hidden: 'hidden', norm: 'final_norm', lmHead: 'lm_head' } as const;
export const headOutputName = 'logits';

/**
 * The head graph: its weights are inputs, or, when `baked` is given, initializers (onnxruntime
 * then prepacks the LM head, which streams faster at batch-1 decode but holds a copy of it).
 */
export function buildHeadGraph(config: ModelConfig, baked: { norm: Float32Array; lmHead: Float32Array } | null = null): Uint8Array {
  const { hiddenSize: H, vocabSize: V } = config;
  const g = new GraphBuilder('edgewise_head');
  const hidden = g.input(headInputName.hidden, DType.float, ['N', H]);
  const norm = baked ? g.initializer(headInputName.norm, [H], baked.norm) : g.input(headInputName.norm, DType.float, [H]);
  const lm = baked ? g.initializer(headInputName.lmHead, [V, H], baked.lmHead) : g.input(headInputName.lmHead, DType.float, [V, H]);
  g.op('Identity', [emitHead(g, config, hidden, norm, lm)], {}, headOutputName);
  g.output(headOutputName, DType.float, ['N', config.vocabSize]);
  return g.toBytes();
}
