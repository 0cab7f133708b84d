// GEMV for decode: y[m, n] = sum_k x[m, k] * W[n, k] (+ bias) for up to MB rows of x; one workgroup per output n, f32 accumulation.
#if SUBGROUPS
enable subgroups;
#endif

struct Params {
  n: u32, // output features
  k: u32, // input features (even)
  m: u32, // rows of x (<= MB)
  pad: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec2<f32>>; // [m, k/2]
#include "weights"
@group(0) @binding(3) var<storage, read_write> y: array<f32>; // [m, n]
#if HAS_BIAS
@group(0) @binding(4) var<storage, read> bias: array<f32>; // [n]
#endif

const WG = ${WG}u;
const MB = ${MB}u;
var<workgroup> partial: array<array<f32, WG>, MB>;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
#if SUBGROUPS
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) sg_size: u32,
#endif
) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.n) {
    return;
  }
  let kp = p.k / 2u;
  var acc: array<f32, MB>;
  for (var i = lid; i < kp; i += WG) {
    let wv = w_pair(row * kp + i);
    for (var m = 0u; m < MB; m++) {
      if (m < p.m) {
        acc[m] += dot(wv, x[m * kp + i]);
      }
    }
  }
#if SUBGROUPS
  // NOTE: assumes subgroups tile a 1-D workgroup in invocation order, as every Vulkan/Metal/D3D driver does.
  let sg_count = (WG + sg_size - 1u) / sg_size;
  for (var m = 0u; m < MB; m++) {
    let s = subgroupAdd(acc[m]);
    if (lane == 0u) {
      partial[m][lid / sg_size] = s;
    }
  }
  workgroupBarrier();
  if (lid < p.m) {
    var t = 0.0;
    for (var j = 0u; j < sg_count; j++) {
      t += partial[lid][j];
    }
#else
  for (var m = 0u; m < MB; m++) {
    partial[m][lid] = acc[m];
  }
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      for (var m = 0u; m < MB; m++) {
        partial[m][lid] += partial[m][lid + s];
      }
    }
    workgroupBarrier();
  }
  if (lid < p.m) {
    var t = partial[lid][0];
#endif
#if HAS_BIAS
    t += bias[row];
#endif
    y[lid * p.n + row] = t;
  }
}
