// Barrier-free matmul for software adapters: one invocation per output y[m, n] = sum_k x[m, k] * W[n, k] (+ bias), or an epilogue (epilogue.wgsl).
// NOTE: SwiftShader runs invocations as SIMD lanes on the CPU and pays heavily per workgroup barrier;
// this plain form is ~100x faster there than the tiled/reduction kernels hardware GPUs want.

struct Params {
  n: u32,
  k: u32,
  m: u32,
  pad: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec2<f32>>; // [m, k/2]
#include "weights"
@group(0) @binding(3) var<storage, read_write> y: array<f32>; // [m, n]
#include "epilogue"
#if HAS_BIAS
@group(0) @binding(4) var<storage, read> bias: array<f32>;
#endif

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.x;
  let m = gid.y;
  if (n >= p.n || m >= p.m) {
    return;
  }
  let kp = p.k / 2u;
  var acc = 0.0;
  for (var i = 0u; i < kp; i++) {
    acc += dot(w_pair(n * kp + i), x[m * kp + i]);
  }
#if HAS_BIAS
  acc += bias[n];
#endif
  store_y(m * p.n + n, acc);
}
