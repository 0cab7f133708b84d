// Embedding gather: out[t, :] = table[ids[t * stride], :] from an f32 or BF16-pair table (also picks rows of f32 activations).

struct Params {
  hidden: u32, // row length (even for BF16 tables)
  count: u32, // rows to gather
  id_stride: u32, // u32s between consecutive ids (4 for the per-token metadata records)
  pad: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
#include "weights"
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.y;
  let i = gid.x;
  if (t >= p.count || i >= p.hidden) {
    return;
  }
  let row = ids[t * p.id_stride];
  out[t * p.hidden + i] = w_elem(row * p.hidden + i);
}
