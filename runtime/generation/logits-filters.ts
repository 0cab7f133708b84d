// Pure logit/probability transforms used by the sampler: penalties, softmax, top-k, top-p, min-p.

/** Index of the largest value; ties go to the lowest index (deterministic greedy). */
export function argmax(values: ArrayLike<number>, length = values.length): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < length; i++) {
    const v = values[i];
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

/** Adds the OpenAI `logit_bias` to each listed id (ids outside the vocabulary are ignored). */
export function applyLogitBias(logits: Float64Array, bias: Map<number, number>): void {
  for (const [id, value] of bias) {
    if (id >= 0 && id < logits.length) logits[id] += value;
  }
}

/**
 * HF repetition penalty (CTRL paper): for every id seen in the prompt or the output,
 * a positive logit is divided by `penalty` and a negative one multiplied by it.
 */
export function applyRepetitionPenalty(logits: Float64Array, seenIds: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const id of seenIds) {
    const v = logits[id];
    logits[id] = v > 0 ? v / penalty : v * penalty;
  }
}

/**
 * OpenAI presence/frequency penalties over generated tokens only:
 * logit -= count × frequency + (count > 0) × presence.
 */
export function applyPresenceFrequency(
  logits: Float64Array,
  counts: Map<number, number>,
  presence: number,
  frequency: number,
): void {
  if (presence === 0 && frequency === 0) return;
  for (const [id, count] of counts) {
    logits[id] -= count * frequency + presence;
  }
}

/** In place: logits → probabilities of softmax(logits / temperature). Entries at -Infinity get 0. */
export function softmaxInPlace(x: Float64Array, temperature = 1): void {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i] > max) max = x[i];
  if (max === -Infinity) throw new RangeError('every logit is -Infinity; nothing can be sampled');
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const e = Math.exp((x[i] - max) / temperature);
    x[i] = e;
    sum += e;
  }
  for (let i = 0; i < x.length; i++) x[i] /= sum;
}

/** Log-softmax of raw logits (the reported logprobs), computed without modifying the input. */
export function logSoftmaxNormalizer(logits: ArrayLike<number>, length = logits.length): number {
  let max = -Infinity;
  for (let i = 0; i < length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < length; i++) sum += Math.exp(logits[i] - max);
  return max + Math.log(sum);
}

/**
 * Token ids ordered by descending probability; equal probabilities in ascending id order so that
 * filters are deterministic. Only ids with nonzero probability are included.
 */
export function sortedByProbability(probs: Float64Array): Uint32Array {
  let n = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i] > 0) n++;
  const order = new Uint32Array(n);
  let j = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i] > 0) order[j++] = i;
  order.sort((a, b) => probs[b] - probs[a] || a - b);
  return order;
}

/** Keeps the `k` most likely tokens (zeroes the rest). `order` is from sortedByProbability. */
export function applyTopK(probs: Float64Array, order: Uint32Array, k: number): Uint32Array {
  if (k <= 0 || k >= order.length) return order;
  for (let r = k; r < order.length; r++) probs[order[r]] = 0;
  return order.subarray(0, k);
}

/**
 * Nucleus filter as HF's TopPLogitsWarper: a token survives when the (renormalized) mass of the
 * tokens ranked above it is below `topP`; the most likely token always survives.
 */
export function applyTopP(probs: Float64Array, order: Uint32Array, topP: number): Uint32Array {
  if (topP >= 1) return order;
  let total = 0;
  for (let r = 0; r < order.length; r++) total += probs[order[r]];
  const limit = topP * total;
  let above = 0;
  let keep = order.length;
  for (let r = 0; r < order.length; r++) {
    if (r > 0 && above >= limit) {
      keep = r;
      break;
    }
    above += probs[order[r]];
  }
  for (let r = keep; r < order.length; r++) probs[order[r]] = 0;
  return order.subarray(0, keep);
}

/** Zeroes tokens whose probability is below `minP` × the most likely token's (ratio is scale-free). */
export function applyMinP(probs: Float64Array, minP: number): void {
  if (minP <= 0) return;
  let max = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i] > max) max = probs[i];
  const threshold = minP * max;
  for (let i = 0; i < probs.length; i++) if (probs[i] < threshold) probs[i] = 0;
}

/**
 * Draws an id from unnormalized nonnegative weights with one uniform `u` in [0, 1).
 * Walks ids in ascending order so that the mapping u → id is fixed for given weights.
 */
export function drawFromWeights(weights: Float64Array, u: number): number {
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += weights[i];
  const target = u * total;
  let cumulative = 0;
  let last = -1;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i];
    if (w <= 0) continue;
    cumulative += w;
    last = i;
    if (cumulative > target) return i;
  }
  // NOTE: rounding can leave target ≥ the final cumulative sum; the last nonzero weight is the right pick then.
  if (last < 0) throw new RangeError('no token has nonzero probability');
  return last;
}

/** The `n` largest entries as [index, value], largest first, ties to the lower index; O(length × n). */
export function topEntries(values: ArrayLike<number>, n: number, length = values.length): [number, number][] {
  const out: [number, number][] = [];
  if (n <= 0) return out;
  for (let i = 0; i < length; i++) {
    const v = values[i];
    if (out.length === n && !(v > out[n - 1][1])) continue;
    let pos = out.length === n ? n - 1 : out.length;
    while (pos > 0 && v > out[pos - 1][1]) pos--;
    out.splice(pos, 0, [i, v]);
    if (out.length > n) out.pop();
  }
  return out;
}
