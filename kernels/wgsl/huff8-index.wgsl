// Builds the fine huff8 index once at load: for every chunk, the bit offset (from the chunk's start) of every SUB-th code,
// 16 bits each, two per u32. One invocation per chunk walks the codes (no output); malformed chunks add to err[0].

@group(0) @binding(0) var<uniform> hp: Huff8Params;
@group(0) @binding(1) var<storage, read> seg: array<u32>;
@group(0) @binding(2) var<storage, read> tables: array<u32>;
@group(0) @binding(3) var<storage, read_write> aux: array<u32>;
@group(0) @binding(4) var<storage, read_write> err: array<atomic<u32>>;
#include "huff8-common"

var<private> pending: u32;

/** Stores sub-chunk j's offset; entries pair up low half / high half (the sub-chunks per chunk are even). */
fn put(base: u32, j: u32, rel: u32) {
  if ((j & 1u) == 0u) {
    pending = rel;
  } else {
    aux[base + (j >> 1u)] = pending | (rel << 16u);
  }
}

@compute @workgroup_size(DECODE_WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  load_tables(lid);
  let ch = invocation_chunk(gid, nwg);
  if (!ch.ok) {
    return;
  }
  let c = ch.index;
  let subs = hp.chunk_size / SUB;
  let base = hp.aux_off + c * (subs / 2u);
  var r = reader_at(ch.start);
  var j = 0u;
  for (var i = 0u; i < ch.count; i++) {
    if ((i & (SUB - 1u)) == 0u) {
      put(base, j, r.bit - ch.start);
      j++;
    }
    let len = lookup(peek16(&r)) >> 8u;
    if (len == 0u || r.bit + len > ch.end_bit) {
      flag_error();
      return;
    }
    r.bit += len;
  }
  // Sub-chunks past the tensor's end (last chunk only) start where the stream ends.
  for (; j < subs; j++) {
    put(base, j, r.bit - ch.start);
  }
  if (r.bit != ch.end_bit) {
    flag_error();
  }
}
