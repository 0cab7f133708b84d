// huff8 decode of one tensor, parallel over chunks via the chunk index: output BF16/F16 pairs in u32, or f32.
// NOTE: each invocation stores 16 bytes at a time (vec4<u32>): fewer, wider stores from threads that each own a chunk.

@group(0) @binding(0) var<uniform> hp: Huff8Params;
@group(0) @binding(1) var<storage, read> seg: array<u32>;
@group(0) @binding(2) var<storage, read> tables: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<u32>>; // from u32 hp.out_off (a multiple of 4)
@group(0) @binding(4) var<storage, read_write> err: array<atomic<u32>>;
#include "huff8-common"
#include "huff8-decode-run"

@compute @workgroup_size(DECODE_WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  load_tables(lid);
  let ch = invocation_chunk(gid, nwg);
  if (!ch.ok) {
    return;
  }
  let first = ch.first;
  let count = ch.count;
  var r = reader_at(ch.start);
  decode_run(&r, first, first, count, ch.end_bit);
}
