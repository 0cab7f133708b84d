// Bit-plane helpers of the huff8 decoder (format version 2): raw sign+mantissa bytes rebuilt from the planes a rung keeps.
// Included once, inside huff8-decode.cc's anonymous namespace (it uses HUFF8_INLINE and Planes from there);
// that file includes <immintrin.h> at the top and defines HUFF8_X86_SIMD on x86.
#pragma once

// Spread tables: one plane byte -> the raw-byte bits of the 2 or 4 elements it holds, as little-endian lanes
// (byte k of the u32 = element k; stored with memcpy, so this assumes a little-endian host, as x86-64 and arm64 are).
struct SpreadTables {
  uint32_t a[256];  // 4 elements, bits 7..6 of each byte
  uint32_t b[256];  // 4 elements, bits 5..4
  uint16_t c[256];  // 2 elements, bits 3..0
  SpreadTables() {
    for (uint32_t v = 0; v < 256; v++) {
      a[v] = b[v] = 0;
      for (uint32_t k = 0; k < 4; k++) {
        a[v] |= ((v >> (2 * k)) & 3u) << (8 * k + 6);
        b[v] |= ((v >> (2 * k)) & 3u) << (8 * k + 4);
      }
      c[v] = uint16_t((v & 15u) | (((v >> 4) & 15u) << 8));
    }
  }
};
const SpreadTables kSpread;

#ifdef HUFF8_X86_SIMD
// One plane of 2-bit fields (4 per byte, element i at bits 2*(i&3)) for 16 elements -> 16 bytes holding each
// field at the bits `table` puts it (pshufb lookup of the field's nibble after masking, see spreadTables).
__attribute__((target("ssse3"))) static inline __m128i spread2(const uint8_t* src, __m128i table) {
  uint32_t word;
  std::memcpy(&word, src, 4);
  const __m128i lowNibble = _mm_set1_epi8(0x0F);
  // Each source byte to its 4 lanes; lanes k = 2, 3 read the high nibble, k = 0, 1 the low one.
  __m128i b = _mm_shuffle_epi8(_mm_cvtsi32_si128(int(word)), _mm_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3));
  const __m128i hiLanes = _mm_setr_epi8(0, 0, -1, -1, 0, 0, -1, -1, 0, 0, -1, -1, 0, 0, -1, -1);
  __m128i lo = _mm_and_si128(b, lowNibble);
  __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), lowNibble);
  __m128i nib = _mm_or_si128(_mm_andnot_si128(hiLanes, lo), _mm_and_si128(hiLanes, hi));
  // Lanes k = 0, 2 keep bits 0-1 (values 0..3), k = 1, 3 bits 2-3 (values 0, 4, 8, 12): the table maps both.
  __m128i field = _mm_and_si128(nib, _mm_setr_epi8(3, 12, 3, 12, 3, 12, 3, 12, 3, 12, 3, 12, 3, 12, 3, 12));
  return _mm_shuffle_epi8(table, field);
}

// Raw bytes of 16 elements (block j of the planes) as one vector.
__attribute__((target("ssse3"))) static inline __m128i raw16(const uint8_t* A, const uint8_t* B, const uint8_t* C, int keep, size_t j) {
  // Field value (1..3 at bits 0-1, or 4, 8, 12 at bits 2-3) -> field << 6 (plane A) or << 4 (plane B).
  const __m128i tableA = _mm_setr_epi8(0, 0x40, char(0x80), char(0xC0), 0x40, 0, 0, 0, char(0x80), 0, 0, 0, char(0xC0), 0, 0, 0);
  const __m128i tableB = _mm_setr_epi8(0, 0x10, 0x20, 0x30, 0x10, 0, 0, 0, 0x20, 0, 0, 0, 0x30, 0, 0, 0);
  const __m128i lowNibble = _mm_set1_epi8(0x0F);
  __m128i r = spread2(A + 4 * j, tableA);
  if (keep >= 2) r = _mm_or_si128(r, spread2(B + 4 * j, tableB));
  if (keep >= 3) {
    __m128i c = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(C + 8 * j));
    __m128i lo = _mm_and_si128(c, lowNibble);
    __m128i hi = _mm_and_si128(_mm_srli_epi16(c, 4), lowNibble);
    r = _mm_or_si128(r, _mm_unpacklo_epi8(lo, hi));  // element 2m: low nibble of byte m, 2m+1: high
  }
  return r;
}

// NOTE: 16 elements per iteration with SSSE3 byte shuffles (about 20 instructions where the
// spread tables take about 40 loads and ors); returns how many elements it wrote (a multiple of 16).
__attribute__((target("ssse3"))) static size_t rawFromPlanesSsse3(const uint8_t* A, const uint8_t* B, const uint8_t* C,
                                                                   int keep, size_t n, uint8_t* raw) {
  const size_t blocks = n / 16;
  for (size_t j = 0; j < blocks; j++) _mm_storeu_si128(reinterpret_cast<__m128i*>(raw + 16 * j), raw16(A, B, C, keep, j));
  return 16 * blocks;
}

// Dropped-bit fill of 16 raw bytes (docs/format.md 2.6): `fill` where the symbol's exponent is neither 0 nor all
// ones. `expMask` is the exponent's bits within the symbol (0xFF for BF16, 0xF8 for FP16).
__attribute__((target("ssse3"))) static inline __m128i fillRaw16(__m128i r, __m128i s, __m128i fill, __m128i expMask) {
  __m128i e = _mm_and_si128(s, expMask);
  __m128i special = _mm_or_si128(_mm_cmpeq_epi8(e, _mm_setzero_si128()), _mm_cmpeq_epi8(e, expMask));
  return _mm_or_si128(r, _mm_andnot_si128(special, fill));
}

// The two bytes of 16 16-bit patterns: BF16/FP16 = ((raw & 0x80) << 8) | (sym << 7) | (raw & 0x7F), so the low byte is
// (raw & 0x7F) | (sym << 7) and the high byte (raw & 0x80) | (sym >> 1). Elements 0..7 into *w0, 8..15 into *w1.
__attribute__((target("ssse3"))) static inline void join16x16(__m128i r, __m128i s, __m128i* w0, __m128i* w1) {
  const __m128i low7 = _mm_set1_epi8(0x7F);
  const __m128i top = _mm_set1_epi8(char(0x80));
  __m128i lo = _mm_or_si128(_mm_and_si128(r, low7), _mm_and_si128(_mm_slli_epi16(s, 7), top));
  __m128i hi = _mm_or_si128(_mm_and_si128(r, top), _mm_and_si128(_mm_srli_epi16(s, 1), low7));
  *w0 = _mm_unpacklo_epi8(lo, hi);
  *w1 = _mm_unpackhi_epi8(lo, hi);
}

// NOTE: 16-bit patterns (BF16 or FP16) straight from symbols and planes, 16 elements at a time, right after a
// chunk's symbols are decoded (still in L1): the raw bytes never go through a scratch buffer, which had cost the
// lossless BF16 decode ~15% against the interleaved layout. Same contract as fusedBf16ToF32Ssse3 below.
__attribute__((target("ssse3"))) static size_t fusedU16Ssse3(const uint8_t* sym, const Planes& p, uint64_t first, size_t n,
                                                              uint16_t* out) {
  const uint8_t* A = p.plane[0] + first / 4;
  const uint8_t* B = p.plane[1] + first / 4;
  const uint8_t* C = p.plane[2] + first / 2;
  const __m128i fill = _mm_set1_epi8(char(p.keep == 2 ? 0x08 : 0x20));
  const __m128i expMask = _mm_set1_epi8(char(p.isF16 ? 0xF8 : 0xFF));
  const size_t blocks = n / 16;
  for (size_t j = 0; j < blocks; j++) {
    __m128i r = raw16(A, B, C, p.keep, j);
    __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(sym + 16 * j));
    if (p.keep < 3) r = fillRaw16(r, s, fill, expMask);
    __m128i w0, w1;
    join16x16(r, s, &w0, &w1);
    __m128i* o = reinterpret_cast<__m128i*>(out + 16 * j);
    _mm_storeu_si128(o, w0);
    _mm_storeu_si128(o + 1, w1);
  }
  return 16 * blocks;
}

// FP16 -> FP32 bits of 4 patterns in the low 16 bits of each u32 lane, exactly as f16ToF32Bits (docs/format.md 2.5):
// the exponent and mantissa shifted into place and scaled by 2^112 (rebias, subnormals normalized), inf/NaN built
// directly so that a NaN keeps its payload without a forced quiet bit.
__attribute__((target("ssse3"))) static inline __m128i f16x4ToF32Bits(__m128i h) {
  const __m128i emMask = _mm_set1_epi32(0x7FFF);
  __m128i em = _mm_and_si128(h, emMask);
  __m128i sign = _mm_slli_epi32(_mm_andnot_si128(emMask, h), 16);
  __m128i shifted = _mm_slli_epi32(em, 13);
  __m128i finite = _mm_castps_si128(_mm_mul_ps(_mm_castsi128_ps(shifted), _mm_set1_ps(5.192296858534828e33f)));  // 2^112
  __m128i special = _mm_or_si128(_mm_set1_epi32(0x7F800000), _mm_and_si128(shifted, _mm_set1_epi32(0x3FF << 13)));
  __m128i isSpecial = _mm_cmpgt_epi32(em, _mm_set1_epi32(0x7BFF));
  return _mm_or_si128(_mm_or_si128(_mm_and_si128(isSpecial, special), _mm_andnot_si128(isSpecial, finite)), sign);
}

// FP16 -> FP32 straight from symbols and planes, 16 elements at a time; same contract as fusedU16Ssse3.
// NOTE: explicit rather than left to the auto-vectorizer, whose take on the scalar join + convert
// loop changed with unrelated edits (0.55 to 0.8 GB/s on the same machine).
__attribute__((target("ssse3"))) static size_t fusedF16ToF32Ssse3(const uint8_t* sym, const Planes& p, uint64_t first, size_t n,
                                                                   uint32_t* out) {
  const uint8_t* A = p.plane[0] + first / 4;
  const uint8_t* B = p.plane[1] + first / 4;
  const uint8_t* C = p.plane[2] + first / 2;
  const __m128i fill = _mm_set1_epi8(char(p.keep == 2 ? 0x08 : 0x20));
  const __m128i expMask = _mm_set1_epi8(char(0xF8));  // FP16: the exponent is the symbol's top 5 bits
  const __m128i zero = _mm_setzero_si128();
  const size_t blocks = n / 16;
  for (size_t j = 0; j < blocks; j++) {
    __m128i r = raw16(A, B, C, p.keep, j);
    __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(sym + 16 * j));
    if (p.keep < 3) r = fillRaw16(r, s, fill, expMask);
    __m128i w0, w1;
    join16x16(r, s, &w0, &w1);
    __m128i* o = reinterpret_cast<__m128i*>(out + 16 * j);
    _mm_storeu_si128(o, f16x4ToF32Bits(_mm_unpacklo_epi16(w0, zero)));
    _mm_storeu_si128(o + 1, f16x4ToF32Bits(_mm_unpackhi_epi16(w0, zero)));
    _mm_storeu_si128(o + 2, f16x4ToF32Bits(_mm_unpacklo_epi16(w1, zero)));
    _mm_storeu_si128(o + 3, f16x4ToF32Bits(_mm_unpackhi_epi16(w1, zero)));
  }
  return 16 * blocks;
}

// NOTE: BF16 -> FP32 straight from symbols and planes, 16 elements at a time, with the fill of
// the rung: the raw bytes never go through memory, which leaves the lossless just-in-time decode
// within a few percent of the interleaved layout's. Elements [first, first + n) into `out` (already
// offset to `first`); returns how many it wrote (a multiple of 16), the caller does the rest.
__attribute__((target("ssse3"))) static size_t fusedBf16ToF32Ssse3(const uint8_t* sym, const Planes& p, uint64_t first, size_t n,
                                                                    uint32_t* out) {
  const uint8_t* A = p.plane[0] + first / 4;
  const uint8_t* B = p.plane[1] + first / 4;
  const uint8_t* C = p.plane[2] + first / 2;
  const __m128i fill = _mm_set1_epi8(char(p.keep == 2 ? 0x08 : 0x20));
  const __m128i expMask = _mm_set1_epi8(char(0xFF));  // BF16 only: the symbol is the exponent
  const __m128i zero = _mm_setzero_si128();
  const size_t blocks = n / 16;
  for (size_t j = 0; j < blocks; j++) {
    __m128i r = raw16(A, B, C, p.keep, j);
    __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(sym + 16 * j));
    if (p.keep < 3) r = fillRaw16(r, s, fill, expMask);
    __m128i w0, w1;
    join16x16(r, s, &w0, &w1);
    __m128i* o = reinterpret_cast<__m128i*>(out + 16 * j);
    _mm_storeu_si128(o, _mm_unpacklo_epi16(zero, w0));  // FP32 bits = BF16 << 16
    _mm_storeu_si128(o + 1, _mm_unpackhi_epi16(zero, w0));
    _mm_storeu_si128(o + 2, _mm_unpacklo_epi16(zero, w1));
    _mm_storeu_si128(o + 3, _mm_unpackhi_epi16(zero, w1));
  }
  return 16 * blocks;
}
#endif

// Raw bytes (sign + 7 mantissa bits) of elements [first, first + n) from the planes a rung keeps.
// NOTE: dropped bits are filled with the midpoint of the interval they span (0b1000 for C,
// 0b100000 for B+C): the reconstruction error is then at most half a step and unbiased when
// the dropped bits are uniform, where zero fill would shrink every magnitude by half a step on
// average. Exponent 0 (zeros, subnormals) and the all-ones exponent (inf, NaN) take zero fill,
// so zeros stay zero and infinities stay infinite.
// NOTE: four elements per table lookup (one plane-A/B byte, two plane-C bytes) instead of a
// variable shift per element: the per-element loops did not vectorize and cost ~3 ns/weight.
template <bool kSimd>
HUFF8_INLINE void rawFromPlanes(const Planes& p, const uint8_t* sym, uint64_t first, size_t n, uint8_t* raw) {
  const uint8_t* A = p.plane[0] + first / 4;
  const uint8_t* B = p.plane[1] + first / 4;
  const uint8_t* C = p.plane[2] + first / 2;
  const size_t quads = n / 4;
  size_t done = 0;  // quads written by the SIMD path
#ifdef HUFF8_X86_SIMD
  if (kSimd) done = rawFromPlanesSsse3(A, B, C, p.keep, n, raw) / 4;
#endif
  if (p.keep >= 3) {
    for (size_t j = done; j < quads; j++) {
      uint32_t v = kSpread.a[A[j]] | kSpread.b[B[j]] | uint32_t(kSpread.c[C[2 * j]]) | (uint32_t(kSpread.c[C[2 * j + 1]]) << 16);
      std::memcpy(raw + 4 * j, &v, 4);
    }
  } else if (p.keep == 2) {
    for (size_t j = done; j < quads; j++) {
      uint32_t v = kSpread.a[A[j]] | kSpread.b[B[j]];
      std::memcpy(raw + 4 * j, &v, 4);
    }
  } else {
    for (size_t j = done; j < quads; j++) std::memcpy(raw + 4 * j, &kSpread.a[A[j]], 4);
  }
  for (size_t i = 4 * quads; i < n; i++) {  // the tail of a short last chunk
    uint8_t r = uint8_t(((A[i >> 2] >> (2 * (i & 3))) & 3u) << 6);
    if (p.keep >= 2) r |= uint8_t(((B[i >> 2] >> (2 * (i & 3))) & 3u) << 4);
    if (p.keep >= 3) r |= uint8_t((C[i >> 1] >> (4 * (i & 1))) & 15u);
    raw[i] = r;
  }
  if (p.keep >= 3) return;
  // Dropped bits: midpoint fill for normal exponents, zero for exponent 0 and all ones (NOTE above).
  const uint8_t fill = p.keep == 2 ? 0x08 : 0x20;
  if (p.isF16) {
    for (size_t i = 0; i < n; i++) {
      uint8_t e = sym[i] >> 3;
      raw[i] |= (e != 0 && e != 31) ? fill : 0;
    }
  } else {
    for (size_t i = 0; i < n; i++) raw[i] |= (sym[i] != 0 && sym[i] != 255) ? fill : 0;
  }
}

