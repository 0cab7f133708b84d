// Shared huff8 decoding (docs/format.md section 2): decode tables in workgroup memory, one chunk per invocation.
// Tables (host-built, see kernels/webgpu/huff8.ts): [0,1024) 10-bit prefix LUT entry = len << 8 | symbol (len 0: longer code);
// [1024,1041) left-justified 16-bit limit per length; [1041,1058) first canonical code per length; [1058,1075) index of
// the first symbol of each length in [1075,1331), the symbols sorted by (length, symbol).

struct Huff8Params {
  n: u32, // elements of the tensor
  chunk_size: u32,
  num_chunks: u32,
  bit_length: u32,
  index_off: u32, // u32 offset of the chunk index in `seg`
  words_off: u32, // u32 offset of the bitstream in `seg`
  raw_off: u32, // u32 offset of the sign/mantissa bytes in `seg` (64-byte aligned); with PLANES: of plane A
  out_off: u32, // u32 offset of the output in `out`
  k: u32, // fused GEMV: row length of the weight matrix
  m: u32, // fused GEMV: rows of x
  slots: u32, // fused GEMV: partial-sum slots per chunk
  f16: u32, // 1 when the stored dtype is F16 (f32 output converts IEEE half)
  aux_off: u32, // fine index (huff8-index.wgsl): u32 offset of this tensor's entries in `aux`
  spr_log2: u32, // fine fused GEMV: log2 of the sub-chunks per row (k / 32)
  tiles: u32, // fine kernels: tiles of DECODE_WG sub-chunks (decode) or row groups (GEMV) per workgroup
  sub0: u32, // fine decode of a row slice: first sub-chunk decoded (its first element lands at out_off)
  sub_end: u32, // fine decode of a row slice: sub-chunks from sub_end on are not decoded
  plane_b_off: u32, // PLANES: u32 offset of plane B in `seg` (read only when KEEP >= 2)
  plane_c_off: u32, // PLANES: u32 offset of plane C in `seg` (read only when KEEP == 3)
}

// NOTE: the fine index splits every chunk into sub-chunks of SUB codes: one invocation per 32 weights (DFloat11-like
// granularity) instead of one per chunk, so a block has ~2M independent short decode chains instead of ~240k long ones.
const SUB = 32u;

// NOTE: 256 invocations share one copy of the 5.3 KB tables, leaving shared memory/L1 to the streams on hardware.
const DECODE_WG = 256u;
const LUT_BITS = 10u;
const T_LIMIT = 1024u;
const T_FIRST = 1041u;
const T_INDEX = 1058u;
const T_SYMS = 1075u;
const T_SIZE = 1331u;
var<workgroup> tab: array<u32, T_SIZE>;

fn load_tables(lid: u32) {
  for (var i = lid; i < T_SIZE; i += DECODE_WG) {
    tab[i] = tables[i];
  }
  workgroupBarrier();
}

/** Symbol (low 8 bits) and code length (bits 8..) of the code at the top of `w16`; length 0 when no code matches. */
fn lookup(w16: u32) -> u32 {
  let e = tab[w16 >> (16u - LUT_BITS)];
  if ((e >> 8u) != 0u) {
    return e;
  }
  // NOTE: every code of at most LUT_BITS bits is in the LUT, so a miss is a longer code (or none): start past them. The
  // search used to start at 1, ~11 serial shared-memory loads that a whole subgroup waits for whenever one lane misses.
  for (var l = LUT_BITS + 1u; l <= 16u; l++) {
    if (w16 < tab[T_LIMIT + l]) {
      let sym = tab[T_SYMS + tab[T_INDEX + l] + (w16 >> (16u - l)) - tab[T_FIRST + l]];
      return (l << 8u) | sym;
    }
  }
  return 0u;
}

/**
 * A chunk decoder's state: bit position, the two stream words around it, and the word after them. NOTE: w2 is loaded
 * one word ahead of use, so the load's latency overlaps ~3 codes of decoding instead of stalling the serial chain
 * of codes at every word crossing (the decode and fused kernels are latency-bound on that chain).
 */
struct Reader {
  bit: u32,
  wi: u32,
  w0: u32,
  w1: u32,
  w2: u32,
  raw4: u32, // the raw bytes of elements e & ~3 .. (e & ~3) + 3
}

fn reader_at(bit: u32) -> Reader {
  let wi = bit >> 5u;
  return Reader(bit, wi, seg[hp.words_off + wi], seg[hp.words_off + wi + 1u], seg[hp.words_off + wi + 2u], 0u);
}

/** The next 16 stream bits (MSB-first), refilling the window when the position crossed a word. */
fn peek16(r: ptr<function, Reader>) -> u32 {
  let wcur = (*r).bit >> 5u;
  if (wcur != (*r).wi) {
    // Codes are at most 16 bits, so the position advances at most one word at a time.
    (*r).wi = wcur;
    (*r).w0 = (*r).w1;
    (*r).w1 = (*r).w2;
    (*r).w2 = seg[hp.words_off + wcur + 2u];
  }
  let s = (*r).bit & 31u;
  let win = select(((*r).w0 << s) | ((*r).w1 >> (32u - s)), (*r).w0, s == 0u);
  return win >> 16u;
}

#if PLANES
// PLANES (container version 2, docs/format.md 2.6): the sign+mantissa byte of each element is not stored interleaved but
// as bit-planes A (2 bits: sign, m6), B (2 bits: m5 m4), C (4 bits: m3..m0), each packed little-endian in `seg`. A
// precision rung reads the first KEEP planes only (3 = lossless bf16, 2 = e8m3, 1 = e8m1) and fills the dropped bits with
// FILL (their midpoint), except under a zero/subnormal or inf/NaN exponent, which gets zero fill. KEEP and FILL are
// compile-time constants, so a rung's kernel neither loads nor branches on the planes it drops.
const KEEP = ${KEEP}u;
const FILL = ${FILL}u;

/** The 2-bit fields of 4 consecutive elements (bits 2j..2j+1 of x) moved to bits 8j..8j+1. */
fn spread2(x: u32) -> u32 {
  return (x & 3u) | ((x & 0xcu) << 6u) | ((x & 0x30u) << 12u) | ((x & 0xc0u) << 18u);
}

/** The 4-bit fields of 4 consecutive elements (bits 4j..4j+3 of x) moved to bits 8j..8j+3. */
fn spread4(x: u32) -> u32 {
  return (x & 0xfu) | ((x & 0xf0u) << 4u) | ((x & 0xf00u) << 8u) | ((x & 0xf000u) << 12u);
}

/** The raw bytes of elements 4w .. 4w+3 (element j in byte j) rebuilt from the kept planes, dropped bits zero. */
fn raw4_at(w: u32) -> u32 {
  var r = spread2((seg[hp.raw_off + (w >> 2u)] >> ((w & 3u) * 8u)) & 0xffu) << 6u;
  if (KEEP >= 2u) {
    r |= spread2((seg[hp.plane_b_off + (w >> 2u)] >> ((w & 3u) * 8u)) & 0xffu) << 4u;
  }
  if (KEEP >= 3u) {
    r |= spread4((seg[hp.plane_c_off + (w >> 1u)] >> ((w & 1u) * 16u)) & 0xffffu);
  }
  return r;
}

/**
 * The kept planes of one 32-element sub-chunk (the fine kernels' unit), loaded up front: plane A 2 words, B 2, C 4. NOTE:
 * as many loads as the interleaved layout's 8 raw words when all three planes are kept, 4 at e8m3, 2 at e8m1.
 */
struct SubRaw {
  a: vec2<u32>,
  b: vec2<u32>,
  c: vec4<u32>,
}

/** The planes of the sub-chunk whose first element is `first` (a multiple of 32). */
fn sub_raw_at(first: u32) -> SubRaw {
  var p = SubRaw(vec2<u32>(0u), vec2<u32>(0u), vec4<u32>(0u));
  let a = hp.raw_off + (first >> 4u);
  p.a = vec2<u32>(seg[a], seg[a + 1u]);
  if (KEEP >= 2u) {
    let b = hp.plane_b_off + (first >> 4u);
    p.b = vec2<u32>(seg[b], seg[b + 1u]);
  }
  if (KEEP >= 3u) {
    let c = hp.plane_c_off + (first >> 3u);
    p.c = vec4<u32>(seg[c], seg[c + 1u], seg[c + 2u], seg[c + 3u]);
  }
  return p;
}

/** The raw bytes of the sub-chunk's elements 4q .. 4q+3 (element j in byte j), dropped bits zero. */
fn sub_raw4(p: SubRaw, q: u32) -> u32 {
  let sh = (q & 3u) * 8u;
  var r = spread2((p.a[q >> 2u] >> sh) & 0xffu) << 6u;
  if (KEEP >= 2u) {
    r |= spread2((p.b[q >> 2u] >> sh) & 0xffu) << 4u;
  }
  if (KEEP >= 3u) {
    r |= spread4((p.c[q >> 1u] >> ((q & 1u) * 16u)) & 0xffffu);
  }
  return r;
}

/** Exponent of a symbol: BF16's symbol is its exponent; F16's exponent is the symbol's top 5 bits (format 2.1). */
fn sym_special(sym: vec4<u32>) -> vec4<bool> {
  let e = select(sym, sym >> vec4<u32>(3u), hp.f16 != 0u);
  let top = select(255u, 31u, hp.f16 != 0u);
  return (e == vec4<u32>(0u)) | (e == vec4<u32>(top));
}

/** The dropped-bit fill of 4 elements by their symbols: FILL, or 0 under a special exponent (planes-reference.ts). */
fn fill4(sym: vec4<u32>) -> vec4<u32> {
  return select(vec4<u32>(FILL), vec4<u32>(0u), sym_special(sym));
}
#else
/** The raw bytes of elements 4w .. 4w+3 (element j in byte j), stored interleaved (one byte per element). */
fn raw4_at(w: u32) -> u32 {
  return seg[hp.raw_off + w];
}

/** A sub-chunk's raw bytes: interleaved, so each group of 4 is one load when it is used (as before planes existed). */
struct SubRaw {
  at: u32,
}

fn sub_raw_at(first: u32) -> SubRaw {
  return SubRaw(hp.raw_off + (first >> 2u));
}

fn sub_raw4(p: SubRaw, q: u32) -> u32 {
  return seg[p.at + q];
}
#endif

/** The raw (sign + 7 low bits) byte of element e; one load per 4 elements (chunks start at multiples of 256). */
fn raw_byte(r: ptr<function, Reader>, e: u32) -> u32 {
  if ((e & 3u) == 0u) {
    (*r).raw4 = raw4_at(e >> 2u);
  }
  return ((*r).raw4 >> ((e & 3u) * 8u)) & 0xffu;
}

/** The 16-bit pattern of a decoded symbol and its raw byte (with PLANES: plus the rung's fill of the dropped bits). */
fn join16(sym: u32, raw_kept: u32) -> u32 {
#if PLANES
  let raw = raw_kept | fill4(vec4<u32>(sym)).x;
#else
  let raw = raw_kept;
#endif
  return ((raw & 0x80u) << 8u) | (sym << 7u) | (raw & 0x7fu);
}

/** 16-bit pattern -> f32 bits: BF16 widens; IEEE half converts exactly (NaN payload kept as is). */
fn to_f32_bits(h: u32) -> u32 {
  if (hp.f16 == 0u) {
    return h << 16u;
  }
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0u) {
    if (m == 0u) {
      return sign;
    }
    let top = 31u - countLeadingZeros(m); // m * 2^-24 = 1.f * 2^(top - 24)
    return sign | ((top + 103u) << 23u) | ((m << (23u - top)) & 0x7fffffu);
  }
  if (e == 31u) {
    return sign | 0x7f800000u | (m << 13u);
  }
  return sign | ((e + 112u) << 23u) | (m << 13u);
}

/** Where chunk c lies: first element, bit range, element count; ok = false when the index is inconsistent. */
struct Chunk {
  index: u32,
  first: u32,
  start: u32,
  end_bit: u32,
  count: u32,
  ok: bool,
}

fn chunk_at(c: u32) -> Chunk {
  let first = seg[hp.index_off + 2u * c + 1u];
  let start = seg[hp.index_off + 2u * c];
  let end_bit = select(hp.bit_length, seg[hp.index_off + 2u * c + 2u], c + 1u < hp.num_chunks);
  let ok = first == c * hp.chunk_size && start <= end_bit && end_bit <= hp.bit_length;
  return Chunk(c, first, start, end_bit, min(hp.chunk_size, hp.n - min(first, hp.n)), ok);
}

/**
 * The chunk invocation `gid` of a one-chunk-per-invocation grid handles (after the workgroup
 * loaded the tables): ok = false past the last chunk (nothing to do) or when its index entry is
 * inconsistent (flagged). Shared by the chunk-level decoder, the chunk GEMV and the fine-index pass.
 */
fn invocation_chunk(gid: vec3<u32>, nwg: vec3<u32>) -> Chunk {
  let c = gid.x + gid.y * nwg.x * DECODE_WG;
  if (c >= hp.num_chunks) {
    return Chunk(c, 0u, 0u, 0u, 0u, false);
  }
  let ch = chunk_at(c);
  if (!ch.ok) {
    flag_error();
  }
  return ch;
}

const BAD = 0xffffffffu;

/** Decodes element e's 16-bit pattern and advances the reader; BAD when no code matches or the chunk's bits run out. */
fn next16(r: ptr<function, Reader>, e: u32, end_bit: u32) -> u32 {
  let hit = lookup(peek16(r));
  let len = hit >> 8u;
  if (len == 0u || (*r).bit + len > end_bit) {
    return BAD;
  }
  (*r).bit += len;
  return join16(hit & 0xffu, raw_byte(r, e));
}

/**
 * Advances past the next code and returns its symbol; sets *bad when no code matches. NOTE: no per-code bounds check:
 * the fine kernels check once, after a sub-chunk, that its codes ended exactly at its end bit (a corrupt stream that
 * runs over fails that check), which takes two branches per code out of their inner loops.
 */
fn next_sym(r: ptr<function, Reader>, bad: ptr<function, bool>) -> u32 {
  let hit = lookup(peek16(r));
  let len = hit >> 8u;
  *bad = *bad || len == 0u;
  (*r).bit += len;
  return hit & 0xffu;
}

/** The 16-bit patterns of 4 consecutive elements from their symbols and their raw bytes (element j in byte j of raw4). */
fn join4(s: vec4<u32>, raw4: u32) -> vec4<u32> {
#if PLANES
  let raw = ((vec4<u32>(raw4) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xffu)) | fill4(s);
#else
  let raw = (vec4<u32>(raw4) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xffu);
#endif
  return ((raw & vec4<u32>(0x80u)) << vec4<u32>(8u)) | (s << vec4<u32>(7u)) | (raw & vec4<u32>(0x7fu));
}

/** The next 4 elements' 16-bit patterns; raw4 holds their raw bytes. */
fn next4(r: ptr<function, Reader>, bad: ptr<function, bool>, raw4: u32) -> vec4<u32> {
  let s0 = next_sym(r, bad);
  let s1 = next_sym(r, bad);
  let s2 = next_sym(r, bad);
  let s3 = next_sym(r, bad);
  return join4(vec4<u32>(s0, s1, s2, s3), raw4);
}

/** Flags a malformed chunk; the host reads the count after decoding. */
fn flag_error() {
  atomicAdd(&err[0], 1u);
}
