// RoPE, transformers' rotate-half form, in place on [tokens, heads, headDim]; cos/sin rows [maxPos, headDim] are computed on the host.
// NOTE: with TWO, one dispatch rotates q and k ([tokens, heads2, headDim] in `v2`): a dispatch and barrier fewer per block.

struct Params {
  heads: u32,
  head_dim: u32,
  tokens: u32,
  heads2: u32, // heads of `v2` (TWO only)
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> tok_meta: array<u32>; // per token: [tokenId, position, slot, 0]
// NOTE: host tables, not WGSL cos/sin: WGSL promises their accuracy only on [-pi, pi].
@group(0) @binding(2) var<storage, read> cos_t: array<f32>; // row p = cos(cat(freqs, freqs))
@group(0) @binding(3) var<storage, read> sin_t: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
#if TWO
@group(0) @binding(5) var<storage, read_write> v2: array<f32>;
#endif

/** cos and sin of pair i of row th (token * heads + head). */
fn angle(th: u32, heads: u32, i: u32) -> vec2<f32> {
  let pos = tok_meta[(th / heads) * 4u + 1u];
  return vec2<f32>(cos_t[pos * p.head_dim + i], sin_t[pos * p.head_dim + i]);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let half = p.head_dim / 2u;
  let idx = gid.x + gid.y * nwg.x * 64u;
  let n1 = p.tokens * p.heads * half;
  if (idx < n1) {
    let i = idx % half;
    let th = idx / half;
    let cs = angle(th, p.heads, i);
    let base = th * p.head_dim;
    let x1 = v[base + i];
    let x2 = v[base + half + i];
    v[base + i] = x1 * cs.x - x2 * cs.y;
    v[base + half + i] = x2 * cs.x + x1 * cs.y;
    return;
  }
#if TWO
  let j = idx - n1;
  if (j < p.tokens * p.heads2 * half) {
    let i = j % half;
    let th = j / half;
    let cs = angle(th, p.heads2, i);
    let base = th * p.head_dim;
    let x1 = v2[base + i];
    let x2 = v2[base + half + i];
    v2[base + i] = x1 * cs.x - x2 * cs.y;
    v2[base + half + i] = x2 * cs.x + x1 * cs.y;
  }
#endif
}
