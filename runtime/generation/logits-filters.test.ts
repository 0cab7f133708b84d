// Exact math of each logit filter on hand-made inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyLogitBias,
  applyMinP,
  applyPresenceFrequency,
  applyRepetitionPenalty,
  applyTopKTopP,
  argmax,
  drawFromWeights,
  logSoftmaxNormalizer,
  softmaxInPlace,
  sortedByProbability,
  topEntries,
} from './logits-filters.js';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('argmax picks the lowest id on ties', () => {
  assert.equal(argmax([1, 3, 2, 3]), 1);
  assert.equal(argmax([-5, -1, -1]), 1);
  assert.equal(argmax([0.5]), 0);
});

test('repetition penalty divides positive and multiplies negative logits of seen ids only', () => {
  const x = new Float64Array([2, -2, 4, -1]);
  applyRepetitionPenalty(x, [0, 1], 2);
  assert.deepEqual([...x], [1, -4, 4, -1]);
});

test('presence and frequency penalties subtract count*freq + presence', () => {
  const x = new Float64Array([1, 1, 1]);
  applyPresenceFrequency(x, new Map([[0, 3], [2, 1]]), 0.5, 0.25);
  assert.deepEqual([...x], [1 - 0.75 - 0.5, 1, 1 - 0.25 - 0.5]);
});

test('logit bias adds to listed ids and ignores out-of-range ids', () => {
  const x = new Float64Array([0, 0, 0]);
  applyLogitBias(x, new Map([[1, 5], [7, 3], [-1, 2]]));
  assert.deepEqual([...x], [0, 5, 0]);
});

test('softmax with temperature matches the formula', () => {
  const logits = [1, 2, 3, -Infinity];
  const x = new Float64Array(logits);
  softmaxInPlace(x, 0.5);
  const e = logits.map((v) => Math.exp(v / 0.5));
  const s = e.reduce((a, b) => a + b, 0);
  logits.forEach((_, i) => close(x[i], e[i] / s));
  assert.equal(x[3], 0);
  close(logSoftmaxNormalizer([1, 2, 3]), Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)));
});

test('sortedByProbability: descending, ties by lower id, zeros left out', () => {
  const p = new Float64Array([0.1, 0.3, 0.2, 0.3, 0.1, 0]);
  assert.deepEqual([...sortedByProbability(p)], [1, 3, 2, 0, 4]);
});

test('top-k keeps exactly the k most likely, ties by lower id', () => {
  const p = new Float64Array([0.1, 0.3, 0.2, 0.3, 0.1]);
  applyTopKTopP(p, 2, 1);
  assert.deepEqual([...p], [0, 0.3, 0, 0.3, 0]);
  const q = new Float64Array([0.1, 0.3, 0.2, 0.3, 0.1]);
  applyTopKTopP(q, 4, 1);
  assert.deepEqual([...q], [0.1, 0.3, 0.2, 0.3, 0]);
});

test('top-p keeps the smallest prefix whose mass reaches p (HF semantics)', () => {
  // sorted: 0.5 (id 2), 0.3 (id 0), 0.15 (id 3), 0.05 (id 1)
  const base = [0.3, 0.05, 0.5, 0.15];
  const run = (topP: number) => {
    const p = new Float64Array(base);
    applyTopKTopP(p, 0, topP);
    return [...p].map((v, i) => (v > 0 ? i : -1)).filter((i) => i >= 0);
  };
  assert.deepEqual(run(0.5), [2]); // mass above id 0 is 0.5, not < 0.5
  assert.deepEqual(run(0.51), [0, 2]);
  assert.deepEqual(run(0.8), [0, 2]); // 0.8 reached by two tokens
  assert.deepEqual(run(0.81), [0, 2, 3]);
  assert.deepEqual(run(0.01), [2]); // the top token always survives
  assert.deepEqual(run(1), [0, 1, 2, 3]);
  const ties = new Float64Array([0.25, 0.25, 0.25, 0.25]);
  applyTopKTopP(ties, 0, 0.5); // equal probabilities rank by id: the third has 0.5 above it
  assert.deepEqual([...ties], [0.25, 0.25, 0, 0]);
});

test('top-p after top-k uses the renormalized mass', () => {
  const p = new Float64Array([0.4, 0.3, 0.2, 0.1]);
  applyTopKTopP(p, 2, 0.6); // kept mass 0.7: renormalized 4/7 ≈ 0.571 < 0.6, so id 1 stays
  assert.deepEqual([...p], [0.4, 0.3, 0, 0]);
  const q = new Float64Array([0.4, 0.3, 0.2, 0.1]);
  applyTopKTopP(q, 2, 0.55); // 4/7 ≥ 0.55: only id 0
  assert.deepEqual([...q], [0.4, 0, 0, 0]);
});

/** Plain reference: full comparator sort, then the HF rules. */
function referenceTopKTopP(probs: number[], k: number, p: number): number[] {
  const order = probs.map((v, i) => [i, v]).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([i]) => i);
  let keep = k > 0 ? order.slice(0, k) : order;
  const total = keep.reduce((s, i) => s + probs[i], 0);
  let above = 0;
  const out: number[] = [];
  for (const [r, i] of keep.entries()) {
    if (r > 0 && above >= p * total) break;
    out.push(i);
    above += probs[i];
  }
  keep = out;
  return probs.map((v, i) => (keep.includes(i) ? v : 0));
}

test('applyTopKTopP agrees with a plain full-sort reference on random distributions', () => {
  for (let trial = 0; trial < 300; trial++) {
    const n = 2 + Math.floor(Math.random() * 300);
    const peak = Math.random() * 8; // from flat to very peaked
    const raw = Array.from({ length: n }, () => Math.exp(peak * Math.random() ** 3 * (Math.random() < 0.5 ? 1 : 3)));
    const sum = raw.reduce((a, b) => a + b, 0);
    const probs = raw.map((v) => Math.fround(v / sum)); // float32-exact, so the packed sort key loses nothing
    const k = Math.random() < 0.5 ? 0 : 1 + Math.floor(Math.random() * n);
    const p = Math.random() < 0.2 ? 1 : Math.random();
    const got = new Float64Array(probs);
    applyTopKTopP(got, k, p);
    assert.deepEqual([...got], referenceTopKTopP(probs, k, p), `n=${n} k=${k} p=${p}`);
  }
});

test('min-p drops tokens below minP times the top probability', () => {
  const p = new Float64Array([0.5, 0.25, 0.15, 0.1]);
  applyMinP(p, 0.3); // threshold 0.15: 0.15 stays (not below), 0.1 goes
  assert.deepEqual([...p], [0.5, 0.25, 0.15, 0]);
});

test('drawFromWeights maps u to the cumulative interval in id order', () => {
  const w = new Float64Array([0, 2, 0, 1, 1]);
  assert.equal(drawFromWeights(w, 0), 1);
  assert.equal(drawFromWeights(w, 0.49), 1);
  assert.equal(drawFromWeights(w, 0.5), 3);
  assert.equal(drawFromWeights(w, 0.74), 3);
  assert.equal(drawFromWeights(w, 0.75), 4);
  assert.equal(drawFromWeights(w, 0.999999), 4);
});

test('topEntries agrees with a full sort on random values', () => {
  const values = Array.from({ length: 200 }, () => Math.round(Math.random() * 50) - 25);
  const expected = values
    .map((v, i) => [i, v] as [number, number])
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, 7);
  assert.deepEqual(topEntries(values, 7), expected);
  assert.deepEqual(topEntries(values, 0), []);
});
