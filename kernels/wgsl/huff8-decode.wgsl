// huff8 decode of one tensor, parallel over chunks via the chunk index: output BF16/F16 pairs in u32, or f32.

@group(0) @binding(0) var<uniform> hp: Huff8Params;
@group(0) @binding(1) var<storage, read> seg: array<u32>;
@group(0) @binding(2) var<storage, read> tables: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
@group(0) @binding(4) var<storage, read_write> err: array<atomic<u32>>;
#include "huff8-common"

@compute @workgroup_size(DECODE_WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  load_tables(lid);
  let c = gid.x + gid.y * nwg.x * DECODE_WG;
  if (c >= hp.num_chunks) {
    return;
  }
  let ch = chunk_at(c);
  if (!ch.ok) {
    flag_error();
    return;
  }
  let first = ch.first;
  let count = ch.count;
  var r = reader_at(ch.start);
  var pending = 0u;
  for (var i = 0u; i < count; i++) {
    let h = next16(&r, first + i, ch.end_bit);
    if (h == BAD) {
      flag_error();
      return;
    }
#if OUT_F32
    out[hp.out_off + first + i] = to_f32_bits(h);
#else
    if ((i & 1u) == 0u) {
      pending = h;
    } else {
      out[hp.out_off + ((first + i) >> 1u)] = pending | (h << 16u);
    }
#endif
  }
#if !OUT_F32
  if ((count & 1u) == 1u) {
    out[hp.out_off + ((first + count) >> 1u)] = pending;
  }
#endif
  if (r.bit != ch.end_bit) {
    flag_error();
  }
}
