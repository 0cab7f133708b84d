// Sub-chunk access through the fine index (built by huff8-index.wgsl): where sub-chunk s of a tensor starts and ends.
// Needs `aux` bound as array<u32>.

/** Sub-chunk s: bit range and first element; ok = false when the index entries are inconsistent. */
struct Sub {
  first: u32,
  start: u32,
  end_bit: u32,
  ok: bool,
}

fn aux_rel(base: u32, j: u32) -> u32 {
  return (aux[base + (j >> 1u)] >> ((j & 1u) * 16u)) & 0xffffu;
}

fn sub_at(s: u32) -> Sub {
  let subs = hp.chunk_size / SUB;
  let c = s / subs;
  let j = s - c * subs;
  let ch = chunk_at(c);
  let base = hp.aux_off + c * (subs / 2u);
  let start = ch.start + aux_rel(base, j);
  let end_bit = select(ch.end_bit, ch.start + aux_rel(base, j + 1u), j + 1u < subs);
  let ok = ch.ok && start <= end_bit && end_bit <= ch.end_bit;
  // NOTE: `first` from the position, not the loaded index entry (equal whenever ok, which chunk_at checks), so the raw-byte
  // and x loads that depend on it need not wait for the index load.
  return Sub(c * hp.chunk_size + j * SUB, start, end_bit, ok);
}
