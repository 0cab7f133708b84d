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
  // A NaN or +Infinity logit is a model/engine fault; sampling from it would pick an arbitrary id.
  if (!Number.isFinite(sum)) throw new RangeError('logits contain NaN or +Infinity');
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

const f32 = new Float32Array(1);
const f32Bits = new Uint32Array(f32.buffer);
const ID_SPAN = 2 ** 21;

/**
 * Token ids ordered by descending probability, equal probabilities in ascending id order, so that
 * filters are deterministic. Only `ids` are sorted (all ids with nonzero probability by default).
 * NOTE: sorts packed numeric keys (float32 bits of the probability, then the id) with the native
 * typed-array sort: a comparator callback made top-p about 20× slower at a 4k vocabulary.
 * Probabilities equal in float32 count as ties.
 */
export function sortedByProbability(probs: Float64Array, ids?: ArrayLike<number>): Uint32Array {
  if (probs.length > ID_SPAN) throw new RangeError(`vocabulary of ${probs.length} exceeds ${ID_SPAN}`);
  const source = ids ?? nonzeroIds(probs, 0);
  const keys = new Float64Array(source.length);
  for (let j = 0; j < source.length; j++) {
    const id = source[j];
    f32[0] = probs[id];
    keys[j] = (0xffffffff - f32Bits[0]) * ID_SPAN + id;
  }
  keys.sort();
  const order = new Uint32Array(keys.length);
  for (let j = 0; j < keys.length; j++) order[j] = keys[j] % ID_SPAN;
  return order;
}

/** Ids whose probability is at least `threshold` and nonzero, ascending. */
function nonzeroIds(probs: Float64Array, threshold: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < probs.length; i++) if (probs[i] > 0 && probs[i] >= threshold) out.push(i);
  return out;
}

// Histogram scratch over the top 16 bits of a probability's float32 pattern (sign, exponent,
// 7 mantissa bits): monotonic in the probability, 1/128 relative width per bucket.
const NUM_BUCKETS = 0x4000; // probabilities ≤ 1 have patterns ≤ 0x3f80_0000
const bucketMass = new Float64Array(NUM_BUCKETS);
const bucketCount = new Uint32Array(NUM_BUCKETS);

function bucketOf(p: number): number {
  f32[0] = p;
  return Math.min(f32Bits[0] >>> 16, NUM_BUCKETS - 1);
}

/**
 * Top-k, then nucleus (top-p) as HF's TopK/TopPLogitsWarper, on probabilities in place (dropped
 * ones become 0). Top-p keeps a token when the mass ranked above it, renormalized over the top-k
 * survivors, is below `topP`; the most likely token always survives. k ≤ 0 and p ≥ 1 disable them.
 *
 * NOTE: no full sort. One pass builds a histogram of count and mass per probability bucket;
 * walking it from the top finds the bucket where the k-th token (or the p mass) falls. Every
 * bucket above it survives whole, every bucket below is dropped, and only the tokens of the
 * boundary bucket (or, with top-k, the few candidates) are sorted. Same result as sorting all.
 */
export function applyTopKTopP(probs: Float64Array, topK: number, topP: number): void {
  if (topK <= 0 && topP >= 1) return;
  let lo = NUM_BUCKETS;
  let hi = -1;
  let total = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i];
    if (!(p > 0)) continue;
    const b = bucketOf(p);
    bucketCount[b]++;
    bucketMass[b] += p;
    total += p;
    if (b < lo) lo = b;
    if (b > hi) hi = b;
  }
  if (hi < 0) return;
  // Boundary bucket and the mass strictly above it.
  let boundary = lo;
  let massAbove = 0;
  const limit = topP * total;
  for (let b = hi, count = 0; b >= lo; b--) {
    if (topK > 0 ? count + bucketCount[b] >= topK : massAbove + bucketMass[b] >= limit) {
      boundary = b;
      break;
    }
    count += bucketCount[b];
    massAbove += bucketMass[b];
  }
  bucketCount.fill(0, lo, hi + 1);
  bucketMass.fill(0, lo, hi + 1);

  if (topK > 0) {
    // The candidates (about k ids) hold every survivor; sort them and apply both rules exactly.
    const ids: number[] = [];
    for (let i = 0; i < probs.length; i++) if (probs[i] > 0 && bucketOf(probs[i]) >= boundary) ids.push(i);
    keepPrefix(probs, sortedByProbability(probs, ids), topK, topP);
    return;
  }
  const inBoundary: number[] = [];
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i];
    if (!(p > 0)) continue;
    const b = bucketOf(p);
    if (b < boundary) probs[i] = 0;
    else if (b === boundary) inBoundary.push(i);
  }
  const order = sortedByProbability(probs, inBoundary);
  let above = massAbove;
  let r = 0;
  for (; r < order.length; r++) {
    // The globally most likely token (first of the top bucket) always survives.
    if (above >= limit && !(boundary === hi && r === 0)) break;
    above += probs[order[r]];
  }
  for (; r < order.length; r++) probs[order[r]] = 0;
}

/** Keeps the first k of `order` (all when k ≤ 0), then the top-p prefix of those; zeroes the rest of `probs`. */
function keepPrefix(probs: Float64Array, order: Uint32Array, topK: number, topP: number): void {
  let keep = topK > 0 ? Math.min(topK, order.length) : order.length;
  if (topP < 1) {
    let total = 0;
    for (let r = 0; r < keep; r++) total += probs[order[r]];
    const limit = topP * total;
    let above = 0;
    for (let r = 0; r < keep; r++) {
      if (r > 0 && above >= limit) {
        keep = r;
        break;
      }
      above += probs[order[r]];
    }
  }
  const kept = order.subarray(0, keep);
  const values = Float64Array.from(kept, (id) => probs[id]);
  probs.fill(0);
  kept.forEach((id, r) => (probs[id] = values[r]));
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
