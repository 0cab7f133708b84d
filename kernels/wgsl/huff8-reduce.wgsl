// Second pass of the fused decode + GEMV: y[m, n] = sum of the partials of every chunk overlapping row n (+ bias), or an epilogue (epilogue.wgsl).

struct Params {
  n: u32,
  k: u32,
  m: u32,
  chunk_size: u32,
  slots: u32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>; // [chunks, slots, MB]
@group(0) @binding(2) var<storage, read_write> y: array<f32>; // [m, n]
#include "epilogue"
#if HAS_BIAS
@group(0) @binding(3) var<storage, read> bias: array<f32>;
#endif

const MB = ${MB}u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * 64u;
  if (row >= p.n) {
    return;
  }
  let c0 = (row * p.k) / p.chunk_size;
  let c1 = ((row + 1u) * p.k - 1u) / p.chunk_size;
  var acc: array<f32, MB>;
  for (var c = c0; c <= c1; c++) {
    let slot = row - (c * p.chunk_size) / p.k;
    for (var m = 0u; m < MB; m++) {
      acc[m] += partials[(c * p.slots + slot) * MB + m];
    }
  }
  for (var m = 0u; m < p.m; m++) {
#if HAS_BIAS
    let t = acc[m] + bias[row];
#else
    let t = acc[m];
#endif
    store_y(m * p.n + row, t);
  }
}
