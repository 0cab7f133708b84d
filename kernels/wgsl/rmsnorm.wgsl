// RMSNorm in fp32, as transformers' LlamaRMSNorm: y = (x * rsqrt(mean(x^2) + eps)) * weight; one workgroup per row.

struct Params {
  hidden: u32,
  rows: u32,
  eps: f32,
  pad: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

const WG = 256u;
var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.hidden;
  var ss = 0.0;
  for (var i = lid; i < p.hidden; i += WG) {
    let v = x[base + i];
    ss += v * v;
  }
  red[lid] = ss;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      red[lid] += red[lid + s];
    }
    workgroupBarrier();
  }
  let r = inverseSqrt(red[0] / f32(p.hidden) + p.eps);
  for (var i = lid; i < p.hidden; i += WG) {
    y[base + i] = (x[base + i] * r) * weight[i];
  }
}
