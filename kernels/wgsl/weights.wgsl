// Weight access shared by matmul kernels: `w` holds f32 values, or BF16 pairs packed in u32 (element 2i in the low half).
#if BF16
@group(0) @binding(2) var<storage, read> w: array<u32>;
fn w_pair(i: u32) -> vec2<f32> {
  let v = w[i];
  return vec2<f32>(bitcast<f32>(v << 16u), bitcast<f32>(v & 0xffff0000u));
}
fn w_elem(i: u32) -> f32 {
  let v = w[i >> 1u];
  return bitcast<f32>(select(v << 16u, v & 0xffff0000u, (i & 1u) == 1u));
}
#else
@group(0) @binding(2) var<storage, read> w: array<f32>;
fn w_pair(i: u32) -> vec2<f32> {
  return vec2<f32>(w[2u * i], w[2u * i + 1u]);
}
fn w_elem(i: u32) -> f32 {
  return w[i];
}
#endif
