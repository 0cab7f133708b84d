// Tiled GEMM for prefill: y[m, n] = sum_k x[m, k] * W[n, k] (+ bias), or an epilogue (epilogue.wgsl); 32x32 output tile per workgroup, 4x4 per invocation, f32 accumulation.

struct Params {
  n: u32,
  k: u32,
  m: u32,
  pad: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>; // [m, k]
#include "weights"
@group(0) @binding(3) var<storage, read_write> y: array<f32>; // [m, n]
#include "epilogue"
#if HAS_BIAS
@group(0) @binding(4) var<storage, read> bias: array<f32>;
#endif

const BM = 32u;
const BN = 32u;
const BK = 16u;
var<workgroup> As: array<array<f32, BM>, BK>;
var<workgroup> Bs: array<array<f32, BN>, BK>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n0 = wid.x * BN;
  let m0 = wid.y * BM;
  let tx = lid % 8u;
  let ty = lid / 8u;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < p.k; k0 += BK) {
    for (var i = lid; i < BM * BK; i += 64u) {
      let r = i / BK;
      let c = i % BK;
      let gk = k0 + c;
      var a = 0.0;
      if (m0 + r < p.m && gk < p.k) {
        a = x[(m0 + r) * p.k + gk];
      }
      As[c][r] = a;
      var b = 0.0;
      if (n0 + r < p.n && gk < p.k) {
        b = w_elem((n0 + r) * p.k + gk);
      }
      Bs[c][r] = b;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        a[i] = As[kk][ty * 4u + i];
        b[i] = Bs[kk][tx * 4u + i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
          acc[i][j] += a[i] * b[j];
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let gm = m0 + ty * 4u + i;
    for (var j = 0u; j < 4u; j++) {
      let gn = n0 + tx * 4u + j;
      if (gm < p.m && gn < p.n) {
        var t = acc[i][j];
#if HAS_BIAS
        t += bias[gn];
#endif
        store_y(gm * p.n + gn, t);
      }
    }
  }
}
