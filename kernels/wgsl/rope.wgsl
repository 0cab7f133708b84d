// RoPE, transformers' rotate-half form, in place on [tokens, heads, headDim]; cos/sin rows [maxPos, headDim] are computed on the host.

struct Params {
  heads: u32,
  head_dim: u32,
  tokens: u32,
  pad: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> tok_meta: array<u32>; // per token: [tokenId, position, slot, 0]
// NOTE: host tables, not WGSL cos/sin: WGSL promises their accuracy only on [-pi, pi].
@group(0) @binding(2) var<storage, read> cos_t: array<f32>; // row p = cos(cat(freqs, freqs))
@group(0) @binding(3) var<storage, read> sin_t: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let half = p.head_dim / 2u;
  let idx = gid.x + gid.y * nwg.x * 64u;
  if (idx >= p.tokens * p.heads * half) {
    return;
  }
  let i = idx % half;
  let th = idx / half; // token * heads + head
  let t = th / p.heads;
  let pos = tok_meta[t * 4u + 1u];
  let c = cos_t[pos * p.head_dim + i];
  let s = sin_t[pos * p.head_dim + i];
  let base = th * p.head_dim;
  let x1 = v[base + i];
  let x2 = v[base + half + i];
  v[base + i] = x1 * c - x2 * s;
  v[base + half + i] = x2 * c + x1 * s;
}
