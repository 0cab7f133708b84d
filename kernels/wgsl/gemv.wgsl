// GEMV for decode: y[m, n] = sum_k x[m, k] * W[n, k] (+ bias), or an epilogue (epilogue.wgsl), for up to MB rows of x; one workgroup per output n, f32 accumulation.
// NOTE: the VEC8 variant (BF16, k % 8 == 0) loads 16 bytes of W per invocation (8 BF16) and keeps four such loads in flight
// per invocation: batch-1 decode is bound by bytes in flight, and a 4-byte load per invocation left the H100 at ~390 GB/s.
#if SUBGROUPS
enable subgroups;
#endif

struct Params {
  n: u32, // output features
  k: u32, // input features (even; a multiple of 8 for VEC8)
  m: u32, // rows of x (<= MB)
  row0: u32, // first output feature this dispatch computes (a row slice: W holds rows row0 .. row0 + rows only)
  rows: u32, // output features this dispatch computes
  pad0: u32,
  pad1: u32,
  pad2: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
#if VEC8
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>; // [m, k/4]
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>; // [n, k/8]: 8 BF16 per vec4
#else
@group(0) @binding(1) var<storage, read> x: array<vec2<f32>>; // [m, k/2]
#include "weights"
#endif
@group(0) @binding(3) var<storage, read_write> y: array<f32>; // [m, n]
#include "epilogue"
#if HAS_BIAS
@group(0) @binding(4) var<storage, read> bias: array<f32>; // [n]
#endif

const WG = ${WG}u;
const MB = ${MB}u;
var<workgroup> partial: array<array<f32, WG>, MB>;

#if VEC8
/** Adds x[m, 8i .. 8i+8] · (8 BF16 of wv) to acc[m] for every row m of x. */
fn fma8(acc: ptr<function, array<f32, MB>>, wv: vec4<u32>, i: u32) {
  let lo = vec4<f32>(bitcast<f32>(wv.x << 16u), bitcast<f32>(wv.x & 0xffff0000u), bitcast<f32>(wv.y << 16u), bitcast<f32>(wv.y & 0xffff0000u));
  let hi = vec4<f32>(bitcast<f32>(wv.z << 16u), bitcast<f32>(wv.z & 0xffff0000u), bitcast<f32>(wv.w << 16u), bitcast<f32>(wv.w & 0xffff0000u));
  let k4 = p.k / 4u;
  for (var m = 0u; m < MB; m++) {
    if (m < p.m) {
      (*acc)[m] += dot(lo, x[m * k4 + 2u * i]) + dot(hi, x[m * k4 + 2u * i + 1u]);
    }
  }
}
#endif

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
  let row = wid.x + wid.y * nwg.x; // within the slice
  if (row >= p.rows) {
    return;
  }
  var acc: array<f32, MB>;
#if VEC8
  let k8 = p.k / 8u;
  let base = row * k8;
  var i = lid;
  // Four independent 16-byte loads before any arithmetic, so that they are in flight together.
  for (; i + 3u * WG < k8; i += 4u * WG) {
    let w0 = w[base + i];
    let w1 = w[base + i + WG];
    let w2 = w[base + i + 2u * WG];
    let w3 = w[base + i + 3u * WG];
    fma8(&acc, w0, i);
    fma8(&acc, w1, i + WG);
    fma8(&acc, w2, i + 2u * WG);
    fma8(&acc, w3, i + 3u * WG);
  }
  for (; i < k8; i += WG) {
    fma8(&acc, w[base + i], i);
  }
#else
  let kp = p.k / 2u;
  for (var i = lid; i < kp; i += WG) {
    let wv = w_pair(row * kp + i);
    for (var m = 0u; m < MB; m++) {
      if (m < p.m) {
        acc[m] += dot(wv, x[m * kp + i]);
      }
    }
  }
#endif
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
    t += bias[p.row0 + row];
#endif
    store_y(lid * p.n + p.row0 + row, t);
  }
}
