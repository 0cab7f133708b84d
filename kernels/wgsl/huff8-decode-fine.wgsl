// huff8 decode of one tensor through the fine index: one invocation per 32 weights, each writing 64 bytes (pairs) or
// 128 bytes (f32) with 16-byte stores; adjacent invocations write adjacent bytes.
// NOTE: a workgroup decodes `tiles` groups of DECODE_WG sub-chunks, so the 5.3 KB of tables it loads are amortised over
// tiles * 8192 weights rather than 8192.

#if BLOCK
// BLOCK: every huff8 matrix of one block in ONE dispatch (one dispatch per block instead of one per matrix). The
// matrices share `seg`, `tables` and `aux`; mats[i] holds matrix i's parameters and the global index of its first
// sub-chunk; each invocation copies its matrix's parameters into the private `hp` the shared decode code reads.
struct BlockParams {
  num_mats: u32,
  tiles: u32,
  total_subs: u32,
  pad0: u32,
}
struct BlockMat {
  sub_base: u32,
  p: Huff8Params,
}
@group(0) @binding(0) var<uniform> bp: BlockParams;
@group(0) @binding(6) var<storage, read> mats: array<BlockMat>;
var<private> hp: Huff8Params;
#else
@group(0) @binding(0) var<uniform> hp: Huff8Params;
#endif
@group(0) @binding(1) var<storage, read> seg: array<u32>;
@group(0) @binding(2) var<storage, read> tables: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<u32>>; // from u32 hp.out_off (a multiple of 4)
@group(0) @binding(4) var<storage, read_write> err: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read> aux: array<u32>;
#include "huff8-common"
#include "huff8-fine"
#include "huff8-decode-run"

/** A whole sub-chunk (32 elements): four codes per step, 16-byte stores. */
fn decode_full(sb: Sub, r: ptr<function, Reader>) {
  var bad = false;
  let raw = sub_raw_at(sb.first);
  let base = hp.out_off / 4u;
  let first = sb.first - hp.sub0 * SUB; // where the sub-chunk lands in the output
  for (var q = 0u; q < SUB / 8u; q++) {
    let a = next4(r, &bad, sub_raw4(raw, 2u * q));
    let b = next4(r, &bad, sub_raw4(raw, 2u * q + 1u));
#if OUT_F32
    out[base + (first >> 2u) + 2u * q] = vec4<u32>(to_f32_bits(a.x), to_f32_bits(a.y), to_f32_bits(a.z), to_f32_bits(a.w));
    out[base + (first >> 2u) + 2u * q + 1u] = vec4<u32>(to_f32_bits(b.x), to_f32_bits(b.y), to_f32_bits(b.z), to_f32_bits(b.w));
#else
    out[base + (first >> 3u) + q] = vec4<u32>(a.x | (a.y << 16u), a.z | (a.w << 16u), b.x | (b.y << 16u), b.z | (b.w << 16u));
#endif
  }
  if (bad || (*r).bit != sb.end_bit) {
    flag_error();
  }
}

fn decode_sub(s: u32) {
  let sb = sub_at(s);
  if (!sb.ok) {
    flag_error();
    return;
  }
  let count = min(SUB, hp.n - sb.first);
  var r = reader_at(sb.start);
  if (count == SUB) {
    decode_full(sb, &r);
    return;
  }
  // The tensor's last sub-chunk when it is short: element by element.
  decode_run(&r, sb.first, sb.first - hp.sub0 * SUB, count, sb.end_bit);
}

@compute @workgroup_size(DECODE_WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  load_tables(lid);
  let group = wid.x + wid.y * nwg.x;
#if BLOCK
  for (var t = 0u; t < bp.tiles; t++) {
    let s = (group * bp.tiles + t) * DECODE_WG + lid;
    if (s >= bp.total_subs) {
      break;
    }
    var i = 0u;
    for (var j = 1u; j < bp.num_mats; j++) {
      if (s >= mats[j].sub_base) {
        i = j;
      }
    }
    hp = mats[i].p;
    decode_sub(s - mats[i].sub_base);
  }
#else
  let num_subs = min((hp.n + SUB - 1u) / SUB, hp.sub_end);
  for (var t = 0u; t < hp.tiles; t++) {
    let s = hp.sub0 + (group * hp.tiles + t) * DECODE_WG + lid;
    if (s >= num_subs) {
      break;
    }
    decode_sub(s);
  }
#endif
}
