// SequenceSampler: greedy, penalties, distribution of draws, seed determinism, logprobs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SequenceSampler } from './sampler.js';
import { DEFAULT_SAMPLING, type SamplingParams } from './sampling-params.js';
import { Prng } from './prng.js';

const params = (over: Partial<SamplingParams>): SamplingParams => ({ ...DEFAULT_SAMPLING, logitBias: new Map(), ...over });
const logitsOf = (probs: number[]) => Float32Array.from(probs.map((p) => (p > 0 ? Math.log(p) : -Infinity)));

test('greedy takes the argmax, lowest id on ties', () => {
  const s = new SequenceSampler(params({ temperature: 0 }), 4, []);
  assert.equal(s.sample(Float32Array.from([0.1, 2, 2, -1])).tokenId, 1);
});

test('greedy applies repetition penalty over prompt and output', () => {
  // Prompt holds id 0; logits 3 vs 2: penalty 2 turns 3 into 1.5, so id 1 wins.
  const s = new SequenceSampler(params({ temperature: 0, repetitionPenalty: 2 }), 3, [0]);
  const logits = Float32Array.from([3, 2, -5]);
  assert.equal(s.sample(logits).tokenId, 1);
  // Now 1 is in the output too: 3/2 = 1.5 vs 2/2 = 1 → id 0.
  assert.equal(s.sample(logits).tokenId, 0);
});

test('presence and frequency penalties count only generated tokens', () => {
  const s = new SequenceSampler(params({ temperature: 0, presencePenalty: 0.5, frequencyPenalty: 0.3 }), 2, [0, 0, 0]);
  const logits = Float32Array.from([1, 0]);
  assert.equal(s.sample(logits).tokenId, 0); // prompt does not count: 1 > 0
  assert.equal(s.sample(logits).tokenId, 0); // 1 - 0.8 = 0.2 > 0
  assert.equal(s.sample(logits).tokenId, 1); // 1 - 1.1 < 0
});

test('logit bias can force a token', () => {
  const s = new SequenceSampler(params({ temperature: 1, logitBias: new Map([[2, 100]]), seed: 1 }), 3, []);
  for (let i = 0; i < 20; i++) assert.equal(s.sample(Float32Array.from([5, 5, 0])).tokenId, 2);
});

/** Pearson chi-square of observed counts against expected probabilities (zero-prob bins must stay empty). */
function chiSquare(counts: number[], probs: number[], n: number): number {
  let chi = 0;
  probs.forEach((p, i) => {
    if (p === 0) assert.equal(counts[i], 0, `token ${i} has probability 0 but was drawn`);
    else chi += (counts[i] - n * p) ** 2 / (n * p);
  });
  return chi;
}

function draw(over: Partial<SamplingParams>, logits: Float32Array, n: number): number[] {
  const s = new SequenceSampler(params(over), logits.length, []);
  const counts = new Array(logits.length).fill(0);
  for (let i = 0; i < n; i++) counts[s.sample(logits).tokenId]++;
  return counts;
}

// Critical values of chi-square at p = 0.001 for df = 1..5; a correct sampler fails 1 in 1000 seeds.
const CHI_001 = [10.83, 13.82, 16.27, 18.47, 20.52];
const N = 20000;

test('temperature 1 reproduces the model distribution', () => {
  const probs = [0.5, 0.25, 0.15, 0.1];
  const counts = draw({ seed: 11 }, logitsOf(probs), N);
  assert.ok(chiSquare(counts, probs, N) < CHI_001[2], String(counts));
});

test('temperature 2 flattens the distribution to p^(1/2) renormalized', () => {
  const base = [0.5, 0.25, 0.15, 0.1];
  const root = base.map(Math.sqrt);
  const sum = root.reduce((a, b) => a + b, 0);
  const expected = root.map((v) => v / sum);
  const counts = draw({ seed: 12, temperature: 2 }, logitsOf(base), N);
  assert.ok(chiSquare(counts, expected, N) < CHI_001[2], String(counts));
});

test('top-k, top-p and min-p sample from the renormalized survivors', () => {
  const base = [0.4, 0.3, 0.2, 0.1];
  const k2 = draw({ seed: 13, topK: 2 }, logitsOf(base), N);
  assert.ok(chiSquare(k2, [4 / 7, 3 / 7, 0, 0], N) < CHI_001[0], String(k2));
  const p = draw({ seed: 14, topP: 0.8 }, logitsOf(base), N); // 0.4+0.3 < 0.8 → three survive
  assert.ok(chiSquare(p, [4 / 9, 3 / 9, 2 / 9, 0], N) < CHI_001[1], String(p));
  const m = draw({ seed: 15, minP: 0.45 }, logitsOf(base), N); // threshold 0.18 keeps three
  assert.ok(chiSquare(m, [4 / 9, 3 / 9, 2 / 9, 0], N) < CHI_001[1], String(m));
});

test('same seed and params give the same tokens; another seed differs', () => {
  const logits = Float32Array.from(Array.from({ length: 64 }, () => Math.random() * 4));
  const run = (seed: number) => {
    const s = new SequenceSampler(params({ seed, topP: 0.95, temperature: 0.8 }), 64, [1, 2, 3]);
    return Array.from({ length: 50 }, () => s.sample(logits).tokenId);
  };
  assert.deepEqual(run(42), run(42));
  assert.notDeepEqual(run(42), run(43));
});

test('the PRNG is uniform enough and reproducible', () => {
  const a = new Prng(7);
  const b = new Prng(7);
  const bins = new Array(10).fill(0);
  for (let i = 0; i < 10000; i++) {
    const u = a.nextFloat();
    assert.equal(u, b.nextFloat());
    assert.ok(u >= 0 && u < 1);
    bins[Math.floor(u * 10)]++;
  }
  for (const c of bins) assert.ok(c > 850 && c < 1150, String(bins));
  assert.notEqual(new Prng(-1).nextUint32(), new Prng(1).nextUint32());
});

test('logprobs come from the raw distribution with top alternatives', () => {
  const names = ['a', 'b', 'c', 'd'];
  const raw = Float32Array.from([1, 3, 2, 0]);
  const s = new SequenceSampler(
    params({ temperature: 0, topLogprobs: 2, logitBias: new Map([[3, 50]]) }),
    4,
    [],
    (id) => names[id],
  );
  const { tokenId, logprob } = s.sample(raw);
  assert.equal(tokenId, 3); // the bias forces id 3 ...
  const norm = Math.log(Math.exp(1) + Math.exp(3) + Math.exp(2) + Math.exp(0));
  assert.ok(logprob);
  assert.equal(logprob.token, 'd');
  assert.ok(Math.abs(logprob.logprob - (0 - norm)) < 1e-6); // ... but its logprob is the raw one
  assert.deepEqual(logprob.top.map((t) => t.token), ['b', 'c']);
  assert.ok(Math.abs(logprob.top[0].logprob - (3 - norm)) < 1e-6);
  const none = new SequenceSampler(params({ temperature: 0 }), 4, []);
  assert.equal(none.sample(raw).logprob, null);
});

test('NaN logits are refused when sampling, not silently turned into a token', () => {
  const s = new SequenceSampler(params({ temperature: 1, seed: 1 }), 3, []);
  assert.throws(() => s.sample(Float32Array.from([1, NaN, 0])), /NaN/);
});
