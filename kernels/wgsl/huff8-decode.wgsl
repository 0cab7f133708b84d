// huff8 decode of one tensor, parallel over chunks via the chunk index: output BF16/F16 pairs in u32, or f32.
// NOTE: each invocation stores 16 bytes at a time (vec4<u32>): fewer, wider stores from threads that each own a chunk.

@group(0) @binding(0) var<uniform> hp: Huff8Params;
@group(0) @binding(1) var<storage, read> seg: array<u32>;
@group(0) @binding(2) var<storage, read> tables: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<u32>>; // from u32 hp.out_off (a multiple of 4)
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
  var acc = vec4<u32>(0u);
  let base = hp.out_off / 4u;
  for (var i = 0u; i < count; i++) {
    let h = next16(&r, first + i, ch.end_bit);
    if (h == BAD) {
      flag_error();
      return;
    }
#if OUT_F32
    acc[i & 3u] = to_f32_bits(h);
    if ((i & 3u) == 3u) {
      out[base + ((first + i) >> 2u)] = acc;
    }
#else
    if ((i & 1u) == 0u) {
      pending = h;
    } else {
      acc[(i >> 1u) & 3u] = pending | (h << 16u);
      if ((i & 7u) == 7u) {
        out[base + ((first + i) >> 3u)] = acc;
        acc = vec4<u32>(0u);
      }
    }
#endif
  }
  // The tail of the tensor's last chunk: the rest of its 16 bytes is zero padding before the next 16-byte boundary.
#if OUT_F32
  if ((count & 3u) != 0u) {
    for (var j = count & 3u; j < 4u; j++) {
      acc[j] = 0u;
    }
    out[base + ((first + count) >> 2u)] = acc;
  }
#else
  if ((count & 1u) == 1u) {
    acc[(count >> 1u) & 3u] = pending;
  }
  if ((count & 7u) != 0u) {
    out[base + ((first + count) >> 3u)] = acc;
  }
#endif
  if (r.bit != ch.end_bit) {
    flag_error();
  }
}
