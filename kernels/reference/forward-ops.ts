// Plain TypeScript references of the forward kernels (fp32, straightforward loops) that the WGSL kernels are tested against.

/** y[m, n] = sum_k x[m, k] * w[n, k] (+ bias[n]); w is [n, k] row-major as a Hugging Face Linear weight. */
export function matmulRef(x: Float32Array, w: Float32Array, m: number, n: number, k: number, bias: Float32Array | null = null): Float32Array {
  const y = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let t = 0; t < k; t++) acc += x[i * k + t] * w[j * k + t];
      y[i * n + j] = acc + (bias ? bias[j] : 0);
    }
  }
  return y;
}

/** out[t, :] = table[ids[t], :]. */
export function gatherRef(table: Float32Array, ids: number[], hidden: number): Float32Array {
  const out = new Float32Array(ids.length * hidden);
  ids.forEach((id, t) => out.set(table.subarray(id * hidden, (id + 1) * hidden), t * hidden));
  return out;
}

/** transformers' LlamaRMSNorm in fp32, row by row. */
export function rmsnormRef(x: Float32Array, weight: Float32Array, rows: number, hidden: number, eps: number): Float32Array {
  const y = new Float32Array(rows * hidden);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < hidden; i++) ss += x[r * hidden + i] ** 2;
    const inv = 1 / Math.sqrt(ss / hidden + eps);
    for (let i = 0; i < hidden; i++) y[r * hidden + i] = x[r * hidden + i] * inv * weight[i];
  }
  return y;
}

/**
 * Rotate-half RoPE on [tokens, heads, headDim]: x*cos + rotate_half(x)*sin with cos/sin rows
 * [maxPos, headDim] picked by each token's position.
 */
export function ropeRef(x: Float32Array, positions: number[], heads: number, headDim: number, cos: Float32Array, sin: Float32Array): Float32Array {
  const y = new Float32Array(x.length);
  const half = headDim / 2;
  positions.forEach((pos, t) => {
    for (let h = 0; h < heads; h++) {
      const base = (t * heads + h) * headDim;
      for (let d = 0; d < headDim; d++) {
        const rotated = d < half ? -x[base + d + half] : x[base + d - half];
        y[base + d] = x[base + d] * cos[pos * headDim + d] + rotated * sin[pos * headDim + d];
      }
    }
  });
  return y;
}

/**
 * Causal GQA attention of each token's query over keys/values 0..position of its sequence.
 * q: [tokens, heads, headDim]; keys/values per token: [kvHeads, position+1, headDim] (the cache contents it sees).
 */
export function attentionRef(
  q: Float32Array,
  kvOf: (t: number) => { k: Float32Array; v: Float32Array; len: number },
  tokens: number,
  heads: number,
  kvHeads: number,
  headDim: number,
): Float32Array {
  const out = new Float32Array(tokens * heads * headDim);
  const scale = 1 / Math.sqrt(headDim);
  for (let t = 0; t < tokens; t++) {
    const { k, v, len } = kvOf(t);
    for (let h = 0; h < heads; h++) {
      const kvh = Math.floor(h / (heads / kvHeads));
      const qb = (t * heads + h) * headDim;
      const scores = new Float64Array(len);
      let max = -Infinity;
      for (let j = 0; j < len; j++) {
        let s = 0;
        for (let d = 0; d < headDim; d++) s += q[qb + d] * k[(kvh * len + j) * headDim + d];
        scores[j] = s * scale;
        max = Math.max(max, scores[j]);
      }
      let sum = 0;
      for (let j = 0; j < len; j++) sum += (scores[j] = Math.exp(scores[j] - max));
      for (let d = 0; d < headDim; d++) {
        let acc = 0;
        for (let j = 0; j < len; j++) acc += scores[j] * v[(kvh * len + j) * headDim + d];
        out[qb + d] = acc / sum;
      }
    }
  }
  return out;
}

/** silu(gate) * up. */
export function siluMulRef(gate: Float32Array, up: Float32Array): Float32Array {
  return gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
}

/** x + y. */
export function addRef(x: Float32Array, y: Float32Array): Float32Array {
  return x.map((v, i) => v + y[i]);
}

