// Length-limited Huffman code lengths and canonical codes for the huff8 codec (docs/format.md 2.2).

import { CodecError } from './codec-error.js';

export const MAX_CODE_LENGTH = 16;
export const NUM_SYMBOLS = 256;

/**
 * Huffman code lengths (0 = absent) for symbol counts, capped at `maxLength` bits.
 * NOTE: lengths over the cap are folded back with the JPEG Annex K.3 count adjustment, which
 * keeps the code complete; then the shortest lengths go to the most frequent symbols.
 */
export function huffmanCodeLengths(counts: ArrayLike<number>, maxLength = MAX_CODE_LENGTH): Uint8Array {
  if (counts.length !== NUM_SYMBOLS) throw new RangeError(`counts must hold ${NUM_SYMBOLS} entries`);
  const lengths = new Uint8Array(NUM_SYMBOLS);
  const present: number[] = [];
  for (let s = 0; s < NUM_SYMBOLS; s++) if (counts[s] > 0) present.push(s);
  if (present.length === 0) return lengths;
  if (present.length === 1) {
    lengths[present[0]] = 1;
    return lengths;
  }
  // Two-queue Huffman over leaves sorted by (count, symbol): deterministic and O(n).
  const leaves = present.slice().sort((a, b) => counts[a] - counts[b] || a - b);
  const weight: number[] = leaves.map((s) => counts[s]);
  const parent: number[] = new Array(leaves.length).fill(-1);
  let li = 0;
  let qi = leaves.length; // internal nodes are appended after the leaves
  const pick = (): number => {
    if (li < leaves.length && (qi >= weight.length || weight[li] <= weight[qi])) return li++;
    return qi++;
  };
  for (let merges = 0; merges < leaves.length - 1; merges++) {
    const a = pick();
    const b = pick();
    weight.push(weight[a] + weight[b]);
    parent.push(-1);
    parent[a] = parent[b] = weight.length - 1;
  }
  const depth = new Array<number>(weight.length).fill(0);
  for (let node = weight.length - 2; node >= 0; node--) depth[node] = depth[parent[node]] + 1;
  let maxDepth = 0;
  for (let i = 0; i < leaves.length; i++) maxDepth = Math.max(maxDepth, depth[i]);
  const blCount = new Array<number>(Math.max(maxDepth, maxLength) + 1).fill(0);
  for (let i = 0; i < leaves.length; i++) blCount[depth[i]]++;
  for (let i = maxDepth; i > maxLength; i--) {
    while (blCount[i] > 0) {
      let j = i - 2;
      while (blCount[j] === 0) j--;
      blCount[i] -= 2;
      blCount[i - 1] += 1;
      blCount[j + 1] += 2;
      blCount[j] -= 1;
    }
  }
  const byFrequency = present.slice().sort((a, b) => counts[b] - counts[a] || a - b);
  let k = 0;
  for (let l = 1; l <= maxLength; l++) {
    for (let c = 0; c < blCount[l]; c++) lengths[byFrequency[k++]] = l;
  }
  return lengths;
}

/** Why `lengths` is not a valid huff8 codebook, or null when it is. */
export function codeLengthsProblem(lengths: Uint8Array): string | null {
  if (lengths.length !== NUM_SYMBOLS) return `codebook must hold ${NUM_SYMBOLS} code lengths`;
  let kraft = 0;
  for (let s = 0; s < NUM_SYMBOLS; s++) {
    if (lengths[s] > MAX_CODE_LENGTH) return `code length ${lengths[s]} of symbol ${s} exceeds ${MAX_CODE_LENGTH}`;
    if (lengths[s] > 0) kraft += 2 ** (MAX_CODE_LENGTH - lengths[s]);
  }
  if (kraft > 2 ** MAX_CODE_LENGTH) return 'code lengths violate the Kraft inequality';
  return null;
}

/** Canonical (DEFLATE-style) codes for valid code lengths; codes[s] is meaningful when lengths[s] > 0. */
export function canonicalCodes(lengths: Uint8Array): Uint32Array {
  const problem = codeLengthsProblem(lengths);
  if (problem !== null) throw new CodecError(problem);
  const count = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
  for (let s = 0; s < NUM_SYMBOLS; s++) count[lengths[s]]++;
  const next = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
  let code = 0;
  for (let l = 1; l <= MAX_CODE_LENGTH; l++) {
    next[l] = code;
    code = (code + count[l]) * 2;
  }
  const codes = new Uint32Array(NUM_SYMBOLS);
  for (let s = 0; s < NUM_SYMBOLS; s++) if (lengths[s] > 0) codes[s] = next[lengths[s]]++;
  return codes;
}

/** Shannon entropy in bits per symbol of a histogram (0 for an empty one). */
export function entropyBits(counts: ArrayLike<number>): number {
  let total = 0;
  for (let s = 0; s < counts.length; s++) total += counts[s];
  if (total === 0) return 0;
  let h = 0;
  for (let s = 0; s < counts.length; s++) {
    if (counts[s] > 0) {
      const p = counts[s] / total;
      h -= p * Math.log2(p);
    }
  }
  return h;
}

/** Total code bits for a histogram under given code lengths. */
export function codedBits(counts: ArrayLike<number>, lengths: Uint8Array): number {
  let bits = 0;
  for (let s = 0; s < NUM_SYMBOLS; s++) {
    if (counts[s] > 0) {
      if (lengths[s] === 0) throw new CodecError(`symbol ${s} occurs but has no code`);
      bits += counts[s] * lengths[s];
    }
  }
  return bits;
}
