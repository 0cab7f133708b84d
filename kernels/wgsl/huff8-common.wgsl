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
  raw_off: u32, // u32 offset of the sign/mantissa bytes in `seg` (64-byte aligned)
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
  pad1: u32,
  pad2: u32,
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

/** The raw (sign + 7 low bits) byte of element e; one load per 4 elements (chunks start at multiples of 256). */
fn raw_byte(r: ptr<function, Reader>, e: u32) -> u32 {
  if ((e & 3u) == 0u) {
    (*r).raw4 = seg[hp.raw_off + (e >> 2u)];
  }
  return ((*r).raw4 >> ((e & 3u) * 8u)) & 0xffu;
}

/** The 16-bit pattern of a decoded symbol and its raw byte. */
fn join16(sym: u32, raw: u32) -> u32 {
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
  let raw = (vec4<u32>(raw4) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xffu);
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
