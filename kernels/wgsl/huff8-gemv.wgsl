// Fused huff8 decode + GEMV (batch <= MB): each invocation decodes one chunk of W in registers and multiplies it with x,
// writing one partial sum per (row touched, row of x); huff8-reduce.wgsl adds them up. W is [n, k] row-major.

@group(0) @binding(0) var<uniform> hp: Huff8Params;
@group(0) @binding(1) var<storage, read> seg: array<u32>;
@group(0) @binding(2) var<storage, read> tables: array<u32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>; // [chunks, slots, MB]
@group(0) @binding(4) var<storage, read_write> err: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read> x: array<f32>; // [m, k]
#include "huff8-common"

const MB = ${MB}u;

@compute @workgroup_size(DECODE_WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  load_tables(lid);
  let ch = invocation_chunk(gid, nwg);
  if (!ch.ok) {
    return;
  }
  let c = ch.index;
  let first = ch.first;
  var r = reader_at(ch.start);
  var col = first % hp.k;
  var slot = 0u;
  var acc: array<f32, MB>;
  let base = c * hp.slots * MB;
  for (var i = 0u; i < ch.count; i++) {
    let h = next16(&r, first + i, ch.end_bit);
    if (h == BAD) {
      flag_error();
      return;
    }
    let w = bitcast<f32>(to_f32_bits(h));
    for (var m = 0u; m < MB; m++) {
      if (m < hp.m) {
        acc[m] += w * x[m * hp.k + col];
      }
    }
    col++;
    if (col == hp.k) {
      for (var m = 0u; m < MB; m++) {
        partials[base + slot * MB + m] = acc[m];
        acc[m] = 0.0;
      }
      col = 0u;
      slot++;
    }
  }
  if (col != 0u) {
    for (var m = 0u; m < MB; m++) {
      partials[base + slot * MB + m] = acc[m];
    }
  }
  if (r.bit != ch.end_bit) {
    flag_error();
  }
}
