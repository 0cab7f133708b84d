// Shared backend test harness: drives any ModelRunner through a batching plan and checks it against the reference.

import assert from 'node:assert/strict';
import type { ModelRunner, WeightProvider } from './runner-types.js';
import { referenceForward, relativeMaxError } from './reference-forward.js';

/** The parity bar of the issue: max|Δ| / max|ref| per logits row block. */
export const SCENARIO_TOLERANCE = 1e-4;

/** Deterministic token ids in [0, vocab) from a small LCG (not all equal, never a fixed pattern). */
export function randomTokens(n: number, vocab: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % vocab;
  });
}

/** A sequence with its whole token list known up front (and its blocks, for depth switching). */
export interface ScenarioSequence {
  seqId: number;
  tokens: number[];
  layerIndices?: number[];
}

/** Steps of a scenario: per step, which sequences advance by how many tokens. */
export type Plan = { seqId: number; count: number; allLogits?: boolean }[][];

/**
 * Creates the sequences on `runner`, runs `plan`, and checks every returned logits row against
 * the float64 reference forward pass of that sequence. Frees the sequences; returns the worst error.
 */
export async function checkScenario(runner: ModelRunner, weights: WeightProvider, sequences: ScenarioSequence[], plan: Plan): Promise<number> {
  const V = weights.config.vocabSize;
  const refs = new Map<number, Float64Array>();
  for (const s of sequences) {
    refs.set(s.seqId, await referenceForward(weights, s.tokens, s.layerIndices));
    runner.createSequence(s.seqId, { layerIndices: s.layerIndices });
  }
  let worst = 0;
  let checkedRows = 0;
  for (const stepPlan of plan) {
    const entries = stepPlan.map((p) => {
      const seq = sequences.find((s) => s.seqId === p.seqId)!;
      const start = runner.sequenceLength(p.seqId);
      return { seqId: p.seqId, tokenIds: seq.tokens.slice(start, start + p.count), allLogits: p.allLogits, start };
    });
    const out = await runner.step(entries.map(({ seqId, tokenIds, allLogits }) => ({ seqId, tokenIds, allLogits })));
    assert.equal(out.length, entries.length);
    entries.forEach((e, i) => {
      const ref = refs.get(e.seqId)!;
      const first = e.allLogits ? e.start : e.start + e.tokenIds.length - 1;
      const n = e.allLogits ? e.tokenIds.length : 1;
      assert.equal(out[i].length, n * V, `seq ${e.seqId}: logits length`);
      const err = relativeMaxError(out[i], ref.subarray(first * V, (first + n) * V));
      assert.ok(err <= SCENARIO_TOLERANCE, `seq ${e.seqId} rows ${first}..${first + n - 1}: rel err ${err}`);
      worst = Math.max(worst, err);
      checkedRows += n;
    });
  }
  assert.ok(checkedRows > 0, 'the plan checked no logits');
  for (const s of sequences) runner.freeSequence(s.seqId);
  return worst;
}
