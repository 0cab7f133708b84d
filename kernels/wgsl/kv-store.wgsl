// Appends new K and V rows ([tokens, kvHeads, headDim]) to the per-layer caches laid out [slots, kvHeads, maxLen, headDim].

struct Params {
  kv_heads: u32,
  head_dim: u32,
  tokens: u32,
  max_len: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> tok_meta: array<u32>; // per token: [tokenId, position, slot, 0]
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(5) var<storage, read_write> v_cache: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * 64u;
  let row_len = p.kv_heads * p.head_dim;
  if (idx >= p.tokens * row_len) {
    return;
  }
  let t = idx / row_len;
  let h = (idx % row_len) / p.head_dim;
  let d = idx % p.head_dim;
  let pos = tok_meta[t * 4u + 1u];
  let slot = tok_meta[t * 4u + 2u];
  let dst = ((slot * p.kv_heads + h) * p.max_len + pos) * p.head_dim + d;
  k_cache[dst] = k[idx];
  v_cache[dst] = v[idx];
}
