// Causal attention over the KV cache (prefill and decode, GQA): one workgroup per (token, head), online softmax over 64-key tiles.

struct Params {
  heads: u32,
  kv_heads: u32,
  head_dim: u32, // <= 64 * DPT
  max_len: u32,
  scale: f32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> tok_meta: array<u32>; // per token: [tokenId, position, slot, 0]
@group(0) @binding(2) var<storage, read> q: array<f32>; // [tokens, heads, headDim]
@group(0) @binding(3) var<storage, read> k_cache: array<f32>;
@group(0) @binding(4) var<storage, read> v_cache: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>; // [tokens, heads, headDim]

const KT = 64u;
const DPT = ${DPT}u; // head dims per invocation
const NEG = -3.0e38; // WGSL does not promise infinities, so "minus infinity" is a large finite value
var<workgroup> qs: array<f32, 256>;
var<workgroup> ps: array<f32, KT>;
var<workgroup> red: array<f32, KT>;

fn reduce(v: f32, lid: u32, take_max: bool) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = KT / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      red[lid] = select(red[lid] + red[lid + s], max(red[lid], red[lid + s]), take_max);
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(KT)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let h = wid.x;
  let t = wid.y;
  let pos = tok_meta[t * 4u + 1u];
  let slot = tok_meta[t * 4u + 2u];
  let kvh = h / (p.heads / p.kv_heads);
  let q_base = (t * p.heads + h) * p.head_dim;
  for (var d = lid; d < p.head_dim; d += KT) {
    qs[d] = q[q_base + d];
  }
  workgroupBarrier();
  let cache_base = (slot * p.kv_heads + kvh) * p.max_len;
  var m = NEG;
  var l = 0.0;
  var acc: array<f32, DPT>;
  let num_keys = pos + 1u;
  for (var t0 = 0u; t0 < num_keys; t0 += KT) {
    let j = t0 + lid;
    var s = NEG;
    if (j < num_keys) {
      let kb = (cache_base + j) * p.head_dim;
      var dotv = 0.0;
      for (var d = 0u; d < p.head_dim; d++) {
        dotv += qs[d] * k_cache[kb + d];
      }
      s = dotv * p.scale;
    }
    let m_new = max(m, reduce(s, lid, true));
    var e = 0.0;
    if (j < num_keys) {
      e = exp(s - m_new);
    }
    ps[lid] = e;
    let tile_sum = reduce(e, lid, false); // also orders the ps[] writes before the reads below
    let corr = exp(m - m_new);
    l = l * corr + tile_sum;
    let count = min(KT, num_keys - t0);
    for (var r = 0u; r < DPT; r++) {
      let d = lid + r * KT;
      if (d < p.head_dim) {
        var a = acc[r] * corr;
        for (var jj = 0u; jj < count; jj++) {
          a += ps[jj] * v_cache[(cache_base + t0 + jj) * p.head_dim + d];
        }
        acc[r] = a;
      }
    }
    m = m_new;
    workgroupBarrier();
  }
  for (var r = 0u; r < DPT; r++) {
    let d = lid + r * KT;
    if (d < p.head_dim) {
      out[q_base + d] = acc[r] / l;
    }
  }
}
