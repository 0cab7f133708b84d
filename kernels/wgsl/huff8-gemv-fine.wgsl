// Fused huff8 decode + GEMV through the fine index (batch <= MB, BF16, k a power-of-two multiple of 32): each invocation
// decodes 32 weights of one row in registers, multiplies them with x, and the row's invocations reduce in workgroup
// memory (subgroupAdd where a row spans whole subgroups); one dispatch, no partial-sum buffer; epilogue.wgsl. W is [n, k] row-major.
#if SUBGROUPS
enable subgroups;
#endif

@group(0) @binding(0) var<uniform> hp: Huff8Params;
@group(0) @binding(1) var<storage, read> seg: array<u32>;
@group(0) @binding(2) var<storage, read> tables: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>; // [m, rows]
#include "epilogue"
@group(0) @binding(4) var<storage, read_write> err: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read> aux: array<u32>;
@group(0) @binding(6) var<storage, read> x: array<vec4<f32>>; // [m, k/4]
#if HAS_BIAS
@group(0) @binding(7) var<storage, read> bias: array<f32>; // [rows]
#endif
#include "huff8-common"
#include "huff8-fine"

const MB = ${MB}u;
var<workgroup> red: array<array<f32, DECODE_WG>, MB>;

/** acc[m] += x[m, cols of sub-chunk s] · decode(sub-chunk s): 32 BF16 weights, multiplied four at a time. */
fn fma_sub(s: u32, acc: ptr<function, array<f32, MB>>) {
  let sb = sub_at(s);
  if (!sb.ok) {
    flag_error();
    return;
  }
  var r = reader_at(sb.start);
  var bad = false;
  let k4 = hp.k / 4u;
  let col4 = (sb.first % hp.k) / 4u;
  let raw = sub_raw_at(sb.first); // sub-chunks start at multiples of 32 elements
  for (var q = 0u; q < SUB / 4u; q++) {
    let wv = bitcast<vec4<f32>>(next4(&r, &bad, sub_raw4(raw, q)) << vec4<u32>(16u));
    // NOTE: MB is the product's exact row count (the launcher compiles one variant per m), so no per-row check here.
    for (var m = 0u; m < MB; m++) {
      (*acc)[m] += dot(wv, x[m * k4 + col4 + q]);
    }
  }
  if (bad || r.bit != sb.end_bit) {
    flag_error();
  }
}

@compute @workgroup_size(DECODE_WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
#if SUBGROUPS
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) sg_size: u32,
#endif
) {
  load_tables(lid);
  let group = wid.x + wid.y * nwg.x;
  let spr = 1u << hp.spr_log2; // sub-chunks per row
  let row_threads = min(spr, DECODE_WG);
  let per_thread = spr / row_threads;
  let rows_per_tile = DECODE_WG / row_threads;
  let lr = lid / row_threads;
  let q = lid % row_threads;
  let rows = hp.n / hp.k;
  for (var t = 0u; t < hp.tiles; t++) {
    let row0 = (group * hp.tiles + t) * rows_per_tile;
    if (row0 >= rows) {
      break;
    }
    let row = row0 + lr;
    var acc: array<f32, MB>;
    if (row < rows) {
      for (var u = 0u; u < per_thread; u++) {
        fma_sub(row * spr + q + u * row_threads, &acc);
      }
    }
    var lanes = 1u; // invocations whose sums red[m][lid] holds after the subgroup step
#if SUBGROUPS
    if (row_threads >= sg_size) {
      // NOTE: assumes subgroups tile a 1-D workgroup in invocation order (as in gemv.wgsl), so a subgroup lies in one row.
      for (var m = 0u; m < MB; m++) {
        let sum = subgroupAdd(acc[m]);
        if (lane == 0u) {
          red[m][lid / sg_size] = sum;
        }
      }
      lanes = sg_size;
    } else {
#endif
      for (var m = 0u; m < MB; m++) {
        red[m][lid] = acc[m];
      }
#if SUBGROUPS
    }
#endif
    workgroupBarrier();
    // Row lr's sums now sit at red[m][lr * row_threads / lanes ..][row_threads / lanes entries]; one invocation adds them.
    let per_row = row_threads / lanes;
    if (q == 0u && row < rows) {
      for (var m = 0u; m < MB; m++) {
        if (m < hp.m) {
          var total = 0.0;
          for (var j = 0u; j < per_row; j++) {
            total += red[m][lr * per_row + j];
          }
#if HAS_BIAS
          total += bias[row];
#endif
          store_y(m * rows + row, total);
        }
      }
    }
    workgroupBarrier();
  }
}
