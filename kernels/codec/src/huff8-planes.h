// Bit-plane helpers of the huff8 decoder (format version 2): raw sign+mantissa bytes rebuilt from the planes a rung keeps.
// Included once, inside huff8-decode.cc's anonymous namespace (it uses HUFF8_INLINE and Planes from there);
// that file includes <immintrin.h> at the top and defines HUFF8_X86_SIMD on x86 with SSE2 (every x86-64).
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
// NOTE: the kernels below are SSE2 only (every x86-64 has it), so they need no target attribute and inline
// into the decode loop of the fast path (decodeFast/expandFast), which compiles them with AVX2's encodings;
// only the fast path calls them, the portable path stays scalar.

// One plane of 2-bit fields (A or B, 4 per byte) for 32 elements (8 bytes) -> 16 bytes in plane C's nibble
// layout (element i in bits 4*(i&1) of byte i>>1): each 16-bit lane spreads one plane byte's four fields
// to its four nibbles, bits 1..0 of each nibble.
HUFF8_INLINE __m128i spreadFields(const uint8_t* src) {
  __m128i x = _mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src)), _mm_setzero_si128());
  x = _mm_and_si128(_mm_or_si128(x, _mm_slli_epi16(x, 4)), _mm_set1_epi16(0x0F0F));
  return _mm_and_si128(_mm_or_si128(x, _mm_slli_epi16(x, 2)), _mm_set1_epi16(0x3333));
}

// Raw bytes of the 32 elements of block j from the planes a rung keeps (dropped planes read as zero bits):
// elements 0..15 into *r0, 16..31 into *r1.
// NOTE: planes A and B interleave into one nibble per element (the raw byte's high nibble), which lines up
// byte for byte with plane C's nibbles (the low one); about 25 instructions per 32 elements, where a pshufb
// spread per plane took about 45 and left the lossless planes decode to BF16 ~5% behind the interleaved layout.
template <int kKeep>
HUFF8_INLINE void raw32(const uint8_t* A, const uint8_t* B, const uint8_t* C, size_t j, __m128i* r0, __m128i* r1) {
  const __m128i lowNibbles = _mm_set1_epi8(0x0F);
  __m128i hi = _mm_slli_epi16(spreadFields(A + 8 * j), 2);
  if (kKeep >= 2) hi = _mm_or_si128(hi, spreadFields(B + 8 * j));
  // Byte m of `hi` (and of plane C) holds element 2m in bits 3..0 and element 2m+1 in bits 7..4.
  __m128i even = _mm_slli_epi16(_mm_and_si128(hi, lowNibbles), 4);
  __m128i odd = _mm_andnot_si128(lowNibbles, hi);
  if (kKeep >= 3) {
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(C + 16 * j));
    even = _mm_or_si128(even, _mm_and_si128(c, lowNibbles));
    odd = _mm_or_si128(odd, _mm_and_si128(_mm_srli_epi16(c, 4), lowNibbles));
  }
  *r0 = _mm_unpacklo_epi8(even, odd);
  *r1 = _mm_unpackhi_epi8(even, odd);
}

// Dropped-bit fill of 16 raw bytes (docs/format.md 2.6): `fill` where the symbol's exponent is neither 0 nor all
// ones. `expMask` is the exponent's bits within the symbol (0xFF for BF16, 0xF8 for FP16).
HUFF8_INLINE __m128i fillRaw16(__m128i r, __m128i s, __m128i fill, __m128i expMask) {
  __m128i e = _mm_and_si128(s, expMask);
  __m128i special = _mm_or_si128(_mm_cmpeq_epi8(e, _mm_setzero_si128()), _mm_cmpeq_epi8(e, expMask));
  return _mm_or_si128(r, _mm_andnot_si128(special, fill));
}

// FP16 -> FP32 bits of 4 patterns in the low 16 bits of each u32 lane, exactly as f16ToF32Bits (docs/format.md 2.5):
// the exponent and mantissa shifted into place and scaled by 2^112 (rebias, subnormals normalized), inf/NaN built
// directly so that a NaN keeps its payload without a forced quiet bit.
HUFF8_INLINE __m128i f16x4ToF32Bits(__m128i h) {
  const __m128i emMask = _mm_set1_epi32(0x7FFF);
  __m128i em = _mm_and_si128(h, emMask);
  __m128i sign = _mm_slli_epi32(_mm_andnot_si128(emMask, h), 16);
  __m128i shifted = _mm_slli_epi32(em, 13);
  __m128i finite = _mm_castps_si128(_mm_mul_ps(_mm_castsi128_ps(shifted), _mm_set1_ps(5.192296858534828e33f)));  // 2^112
  __m128i special = _mm_or_si128(_mm_set1_epi32(0x7F800000), _mm_and_si128(shifted, _mm_set1_epi32(0x3FF << 13)));
  __m128i isSpecial = _mm_cmpgt_epi32(em, _mm_set1_epi32(0x7BFF));
  return _mm_or_si128(_mm_or_si128(_mm_and_si128(isSpecial, special), _mm_andnot_si128(isSpecial, finite)), sign);
}

// Stores 16 joined 16-bit patterns (elements 0..7 in w0, 8..15 in w1) at out[at..at+16) in the output's form.
template <OutMode kMode>
HUFF8_INLINE void store16(void* out, uint64_t at, __m128i w0, __m128i w1) {
  const __m128i zero = _mm_setzero_si128();
  if (kMode == OutMode::kU16) {
    __m128i* o = reinterpret_cast<__m128i*>(static_cast<uint16_t*>(out) + at);
    _mm_storeu_si128(o, w0);
    _mm_storeu_si128(o + 1, w1);
  } else if (kMode == OutMode::kBf16ToF32) {  // FP32 bits = BF16 << 16
    __m128i* o = reinterpret_cast<__m128i*>(static_cast<uint32_t*>(out) + at);
    _mm_storeu_si128(o, _mm_unpacklo_epi16(zero, w0));
    _mm_storeu_si128(o + 1, _mm_unpackhi_epi16(zero, w0));
    _mm_storeu_si128(o + 2, _mm_unpacklo_epi16(zero, w1));
    _mm_storeu_si128(o + 3, _mm_unpackhi_epi16(zero, w1));
  } else {
    __m128i* o = reinterpret_cast<__m128i*>(static_cast<uint32_t*>(out) + at);
    _mm_storeu_si128(o, f16x4ToF32Bits(_mm_unpacklo_epi16(w0, zero)));
    _mm_storeu_si128(o + 1, f16x4ToF32Bits(_mm_unpackhi_epi16(w0, zero)));
    _mm_storeu_si128(o + 2, f16x4ToF32Bits(_mm_unpacklo_epi16(w1, zero)));
    _mm_storeu_si128(o + 3, f16x4ToF32Bits(_mm_unpackhi_epi16(w1, zero)));
  }
}

// Joins symbols and the rung's planes for elements [first, first + n) straight into `out` (indexed from 0,
// element `first` at out[first]), 32 at a time: the raw bytes never go through memory. Returns how many it
// wrote (a multiple of 32); the caller does the rest.
// NOTE: the decoder runs it from PendingJoin (huff8-join.h) while the next chunks decode, the symbols still in
// L1/L2; the raw-byte scratch pass it replaced had cost the lossless decode to BF16 ~15% against the
// interleaved layout.
template <int kKeep, OutMode kMode>
HUFF8_INLINE size_t fusedPlanes(const uint8_t* sym, const Planes& p, uint64_t first, size_t n, void* out) {
  const uint8_t* A = p.plane[0] + first / 4;
  const uint8_t* B = p.plane[1] + first / 4;
  const uint8_t* C = p.plane[2] + first / 2;
  const __m128i fill = _mm_set1_epi8(char(kKeep == 2 ? 0x08 : 0x20));
  const __m128i expMask = _mm_set1_epi8(char(p.isF16 ? 0xF8 : 0xFF));
  const __m128i low7 = _mm_set1_epi8(0x7F);
  const __m128i top = _mm_set1_epi8(char(0x80));
  const size_t blocks = n / 32;
  for (size_t j = 0; j < blocks; j++) {
    __m128i r[2];
    raw32<kKeep>(A, B, C, j, &r[0], &r[1]);
    for (int h = 0; h < 2; h++) {
      __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(sym + 32 * j + 16 * h));
      if (kKeep < 3) r[h] = fillRaw16(r[h], s, fill, expMask);
      // ((raw & 0x80) << 8) | (sym << 7) | (raw & 0x7F): low byte (raw & 0x7F) | (sym << 7), high byte (raw & 0x80) | (sym >> 1).
      __m128i lo = _mm_or_si128(_mm_and_si128(r[h], low7), _mm_and_si128(_mm_slli_epi16(s, 7), top));
      __m128i hi = _mm_or_si128(_mm_and_si128(r[h], top), _mm_and_si128(_mm_srli_epi16(s, 1), low7));
      store16<kMode>(out, first + 32 * j + 16 * h, _mm_unpacklo_epi8(lo, hi), _mm_unpackhi_epi8(lo, hi));
    }
  }
  return 32 * blocks;
}

template <OutMode kMode>
__attribute__((target("avx2"))) size_t fusedPlanesKeep(const uint8_t* sym, const Planes& p, uint64_t first, size_t n, void* out) {
  if (p.keep >= 3) return fusedPlanes<3, kMode>(sym, p, first, n, out);
  if (p.keep == 2) return fusedPlanes<2, kMode>(sym, p, first, n, out);
  return fusedPlanes<1, kMode>(sym, p, first, n, out);
}

// The fused join for the output modes it serves (every one but kSymbols); returns elements written. Fast path only.
__attribute__((target("avx2"))) size_t fusedPlanesAny(const uint8_t* sym, const Planes& p, OutMode mode, uint64_t first, size_t n, void* out) {
  switch (mode) {
    case OutMode::kU16: return fusedPlanesKeep<OutMode::kU16>(sym, p, first, n, out);
    case OutMode::kBf16ToF32: return fusedPlanesKeep<OutMode::kBf16ToF32>(sym, p, first, n, out);
    case OutMode::kF16ToF32: return fusedPlanesKeep<OutMode::kF16ToF32>(sym, p, first, n, out);
    default: return 0;
  }
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
HUFF8_INLINE void rawFromPlanes(const Planes& p, const uint8_t* sym, uint64_t first, size_t n, uint8_t* raw) {
  const uint8_t* A = p.plane[0] + first / 4;
  const uint8_t* B = p.plane[1] + first / 4;
  const uint8_t* C = p.plane[2] + first / 2;
  const size_t quads = n / 4;
  if (p.keep >= 3) {
    for (size_t j = 0; j < quads; j++) {
      uint32_t v = kSpread.a[A[j]] | kSpread.b[B[j]] | uint32_t(kSpread.c[C[2 * j]]) | (uint32_t(kSpread.c[C[2 * j + 1]]) << 16);
      std::memcpy(raw + 4 * j, &v, 4);
    }
  } else if (p.keep == 2) {
    for (size_t j = 0; j < quads; j++) {
      uint32_t v = kSpread.a[A[j]] | kSpread.b[B[j]];
      std::memcpy(raw + 4 * j, &v, 4);
    }
  } else {
    for (size_t j = 0; j < quads; j++) std::memcpy(raw + 4 * j, &kSpread.a[A[j]], 4);
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

