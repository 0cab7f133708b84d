// Decodes `count` codes, tensor elements first .. first + count - 1, from `r` (which must end
// exactly at `end_bit`) into `out` from output element `slot` on (slot = first unless only a
// range of the tensor is decoded), 16 bytes per store; the partial 16 bytes after the
// tensor's last element are written zero-padded. Flags malformed streams. Shared by the
// chunk-level and fine decoders (they differ only in where a run starts).
// Needs `out` (array<vec4<u32>>, from u32 hp.out_off) in the including shader.
fn decode_run(r: ptr<function, Reader>, first: u32, slot: u32, count: u32, end_bit: u32) {
  var pending = 0u;
  var acc = vec4<u32>(0u);
  let base = hp.out_off / 4u;
  for (var i = 0u; i < count; i++) {
    let h = next16(r, first + i, end_bit);
    if (h == BAD) {
      flag_error();
      return;
    }
#if OUT_F32
    acc[i & 3u] = to_f32_bits(h);
    if ((i & 3u) == 3u) {
      out[base + ((slot + i) >> 2u)] = acc;
    }
#else
    if ((i & 1u) == 0u) {
      pending = h;
    } else {
      acc[(i >> 1u) & 3u] = pending | (h << 16u);
      if ((i & 7u) == 7u) {
        out[base + ((slot + i) >> 3u)] = acc;
        acc = vec4<u32>(0u);
      }
    }
#endif
  }
#if OUT_F32
  if ((count & 3u) != 0u) {
    for (var j = count & 3u; j < 4u; j++) {
      acc[j] = 0u;
    }
    out[base + ((slot + count) >> 2u)] = acc;
  }
#else
  if ((count & 1u) == 1u) {
    acc[(count >> 1u) & 3u] = pending;
  }
  if ((count & 7u) != 0u) {
    out[base + ((slot + count) >> 3u)] = acc;
  }
#endif
  if ((*r).bit != end_bit) {
    flag_error();
  }
}
