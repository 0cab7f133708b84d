// huff8 decoder: canonical-code tables, chunk-parallel decode with a portable and an AVX2/BMI2 path.
#include <cstring>
#include <vector>

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HUFF8_X86_SIMD 1
#endif

#include "huff8.h"

namespace huff8 {

constexpr uint64_t kMultiMax = 6;

std::string buildDecodeTable(const uint8_t* codeLengths, DecodeTable* t) {
  uint32_t count[kMaxCodeLength + 1] = {0};
  for (int s = 0; s < 256; s++) {
    if (codeLengths[s] > kMaxCodeLength) return "code length above 16";
    count[codeLengths[s]]++;
  }
  uint64_t kraft = 0;
  for (int l = 1; l <= kMaxCodeLength; l++) kraft += uint64_t(count[l]) << (kMaxCodeLength - l);
  if (kraft > (1u << kMaxCodeLength)) return "code lengths violate the Kraft inequality";
  uint32_t code = 0, idx = 0;
  for (int l = 1; l <= kMaxCodeLength; l++) {
    t->firstCode[l] = code;
    t->firstIndex[l] = uint16_t(idx);
    t->limit[l] = (code + count[l]) << (kMaxCodeLength - l);
    idx += count[l];
    code = (code + count[l]) << 1;
  }
  t->firstCode[0] = 0;
  t->firstIndex[0] = 0;
  t->limit[0] = 0;
  uint32_t next[kMaxCodeLength + 1];
  for (int l = 1; l <= kMaxCodeLength; l++) next[l] = t->firstIndex[l];
  std::memset(t->lut, 0, sizeof(t->lut));
  for (int s = 0; s < 256; s++) {
    int l = codeLengths[s];
    if (l == 0) continue;
    uint32_t rank = next[l]++;
    t->sorted[rank] = uint8_t(s);
    if (l <= kLutBits) {
      uint32_t c = t->firstCode[l] + (rank - t->firstIndex[l]);
      uint32_t base = c << (kLutBits - l);
      uint16_t entry = uint16_t((s << 5) | l);
      for (uint32_t k = 0; k < (1u << (kLutBits - l)); k++) t->lut[base + k] = entry;
    }
  }
  for (uint32_t p = 0; p < (1u << kLutBits); p++) {
    uint64_t syms = 0, count = 0, used = 0;
    while (count < kMultiMax) {
      uint32_t e = t->lut[(p << used) & ((1u << kLutBits) - 1)];
      uint32_t l = e & 31;
      if (e == 0 || used + l > uint32_t(kLutBits)) break;  // the code does not fit in the bits left
      syms |= uint64_t(e >> 5) << (8 * count);
      used += l;
      count++;
    }
    t->multi[p] = syms | (count << 48) | (used << 52);
  }
  return "";
}

bool fastPathAvailable() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
#else
  return false;  // NOTE: other architectures (arm64 edge boxes) use the portable path
#endif
}

namespace {

#define HUFF8_INLINE inline __attribute__((always_inline))

// 64-bit window whose top bits are the stream bits starting at `pos` (at least 32 valid).
HUFF8_INLINE uint64_t windowAt(const uint32_t* w, uint64_t pos) {
  uint64_t k = pos >> 5;
  uint64_t v = (uint64_t(w[k]) << 32) | w[k + 1];
  return v << (pos & 31);
}

// Canonical decode of one code from the top 16 bits of `win`; returns (symbol << 5) | length or 0.
HUFF8_INLINE uint32_t slowLookup(const DecodeTable& t, uint64_t win) {
  uint32_t peek = uint32_t(win >> 48);
  for (int l = 1; l <= kMaxCodeLength; l++) {
    if (peek < t.limit[l]) {
      uint32_t sym = t.sorted[t.firstIndex[l] + (peek >> (kMaxCodeLength - l)) - t.firstCode[l]];
      return (sym << 5) | uint32_t(l);
    }
  }
  return 0;
}

HUFF8_INLINE uint32_t lookup(const DecodeTable& t, uint64_t win) {
  uint32_t e = t.lut[win >> (64 - kLutBits)];
  if (__builtin_expect(e != 0, 1)) return e;
  return slowLookup(t, win);
}

HUFF8_INLINE uint16_t join16(uint8_t sym, uint8_t raw) {
  return uint16_t(((raw & 0x80u) << 8) | (uint32_t(sym) << 7) | (raw & 0x7Fu));
}

HUFF8_INLINE uint32_t f16ToF32Bits(uint32_t h) {
  uint32_t sign = (h & 0x8000u) << 16;
  uint32_t em = h & 0x7FFFu;
  // NOTE: scaling the shifted pattern by 2^112 rebiases the exponent and normalizes subnormals
  // exactly; both results are computed and selected so that the loop vectorizes.
  float f;
  uint32_t shifted = em << 13;
  std::memcpy(&f, &shifted, 4);
  f *= 5.192296858534828e33f;  // 2^112
  uint32_t finite;
  std::memcpy(&finite, &f, 4);
  uint32_t special = 0x7F800000u | ((em & 0x3FFu) << 13);
  return (em >= 0x7C00u ? special : finite) | sign;
}

HUFF8_INLINE void combine(const uint8_t* sym, const uint8_t* raw, void* out, uint64_t first, size_t n,
                          OutMode mode) {
  if (mode == OutMode::kU16) {
    uint16_t* o = static_cast<uint16_t*>(out) + first;
    for (size_t i = 0; i < n; i++) o[i] = join16(sym[i], raw[i]);
  } else if (mode == OutMode::kBf16ToF32) {
    uint32_t* o = static_cast<uint32_t*>(out) + first;
    for (size_t i = 0; i < n; i++) o[i] = uint32_t(join16(sym[i], raw[i])) << 16;
  } else {
    uint32_t* o = static_cast<uint32_t*>(out) + first;
    for (size_t i = 0; i < n; i++) o[i] = f16ToF32Bits(join16(sym[i], raw[i]));
  }
}

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

// NOTE: BF16 -> FP32 straight from symbols and planes, 16 elements at a time, with the fill of
// the rung: the raw bytes never go through memory, which leaves the lossless just-in-time decode
// within a few percent of the interleaved layout's. Elements [first, first + n) into `out` (already
// offset to `first`); returns how many it wrote (a multiple of 16), the caller does the rest.
__attribute__((target("ssse3"))) static size_t fusedBf16ToF32Ssse3(const uint8_t* sym, const Planes& p, uint64_t first, size_t n,
                                                                    uint32_t* out) {
  const uint8_t* A = p.plane[0] + first / 4;
  const uint8_t* B = p.plane[1] + first / 4;
  const uint8_t* C = p.plane[2] + first / 2;
  const __m128i fill = _mm_set1_epi8(char(p.keep >= 3 ? 0 : p.keep == 2 ? 0x08 : 0x20));
  const __m128i low7 = _mm_set1_epi8(0x7F);
  const __m128i top = _mm_set1_epi8(char(0x80));
  const __m128i zero = _mm_setzero_si128();
  const __m128i ones = _mm_set1_epi8(char(0xFF));
  const size_t blocks = n / 16;
  for (size_t j = 0; j < blocks; j++) {
    __m128i r = raw16(A, B, C, p.keep, j);
    __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(sym + 16 * j));
    if (p.keep < 3) {
      __m128i special = _mm_or_si128(_mm_cmpeq_epi8(s, zero), _mm_cmpeq_epi8(s, ones));
      r = _mm_or_si128(r, _mm_andnot_si128(special, fill));
    }
    // BF16 = ((raw & 0x80) << 8) | (sym << 7) | (raw & 0x7F): low byte (raw & 0x7F) | (sym << 7), high byte (raw & 0x80) | (sym >> 1).
    __m128i lo = _mm_or_si128(_mm_and_si128(r, low7), _mm_and_si128(_mm_slli_epi16(s, 7), top));
    __m128i hi = _mm_or_si128(_mm_and_si128(r, top), _mm_and_si128(_mm_srli_epi16(s, 1), low7));
    __m128i w0 = _mm_unpacklo_epi8(lo, hi);
    __m128i w1 = _mm_unpackhi_epi8(lo, hi);
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

// Writes symbols + raw bytes of [first, first + n) to the output mode; raw from planes when job has no raw.
template <bool kSimd>
HUFF8_INLINE void emit(const uint8_t* sym, const uint8_t* raw, const Planes& planes, uint8_t* rawScratch, void* out,
                       uint64_t first, size_t n, OutMode mode) {
  if (mode == OutMode::kSymbols) {
    std::memcpy(static_cast<uint8_t*>(out) + first, sym, n);
    return;
  }
  if (raw != nullptr) {
    combine(sym, raw + first, out, first, n, mode);
    return;
  }
  size_t done = 0;
#ifdef HUFF8_X86_SIMD
  if (kSimd && mode == OutMode::kBf16ToF32 && !planes.isF16) done = fusedBf16ToF32Ssse3(sym, planes, first, n, static_cast<uint32_t*>(out) + first);
#endif
  if (done == n) return;
  rawFromPlanes<kSimd>(planes, sym + done, first + done, n - done, rawScratch);
  combine(sym + done, rawScratch, out, first + done, n - done, mode);
}

std::string chunkError(uint64_t c, const char* what) {
  return "chunk " + std::to_string(c) + ": " + what;
}

// Decodes one code at `pos` (any length); false on an invalid code.
HUFF8_INLINE bool decodeSingle(const DecodeTable& t, const uint32_t* w, uint64_t& pos, uint8_t* out) {
  uint32_t e = lookup(t, windowAt(w, pos));
  *out = uint8_t(e >> 5);
  pos += e & 31;
  return e != 0;
}

// Decodes G chunks of n codes each in lockstep: independent dependency chains keep the core busy.
// NOTE: each multi-symbol lookup yields up to 6 codes; a window of 32 bits serves two lookups.
template <int G>
HUFF8_INLINE bool decodeGroup(const DecodeTable& t, const uint32_t* w, uint64_t* pos, const uint64_t* end,
                              uint8_t* const* sym, uint32_t n) {
  uint32_t i[G];
  for (int g = 0; g < G; g++) i[g] = 0;
  for (;;) {
    uint32_t left = n;
    for (int g = 0; g < G; g++) left = std::min(left, n - i[g]);
    uint32_t rounds = left / (2 * kMultiMax);  // each round yields at most 12 codes per chain
    if (rounds == 0) break;
    for (uint32_t r = 0; r < rounds; r++) {
      for (int g = 0; g < G; g++) {
        uint64_t win = windowAt(w, pos[g]);
        uint64_t e1 = t.multi[win >> (64 - kLutBits)];
        uint32_t c1 = uint32_t(e1 >> 48) & 0xF, l1 = uint32_t(e1 >> 52);
        if (__builtin_expect(c1 == 0, 0)) {
          if (!decodeSingle(t, w, pos[g], sym[g] + i[g])) return false;
          i[g] += 1;
        } else {
          std::memcpy(sym[g] + i[g], &e1, 8);  // only the first c1 bytes count
          i[g] += c1;
          win <<= l1;
          uint64_t e2 = t.multi[win >> (64 - kLutBits)];
          uint32_t c2 = uint32_t(e2 >> 48) & 0xF;
          std::memcpy(sym[g] + i[g], &e2, 8);
          i[g] += c2;
          pos[g] += l1 + uint32_t(e2 >> 52);
        }
        if (__builtin_expect(pos[g] > end[g], 0)) return false;
      }
    }
  }
  for (int g = 0; g < G; g++) {
    while (i[g] < n) {
      if (!decodeSingle(t, w, pos[g], sym[g] + i[g])) return false;
      i[g]++;
      if (pos[g] > end[g]) return false;
    }
  }
  return true;
}

template <bool kSimd>
HUFF8_INLINE std::string decodeImpl(const DecodeTable& t, const DecodeJob& job, uint64_t cBegin,
                                    uint64_t cEnd) {
  const uint64_t numChunks = (job.numElements + job.chunkSize - 1) / job.chunkSize;
  constexpr int G = 4;
  const size_t stride = job.chunkSize + 64;  // multi-symbol stores may write 7 bytes past the end
  std::vector<uint8_t> scratch(size_t(G) * stride);
  std::vector<uint8_t> rawScratch(job.raw == nullptr ? job.chunkSize : 0);
  uint8_t* sym[G];
  for (int g = 0; g < G; g++) sym[g] = scratch.data() + size_t(g) * stride;
  uint64_t c = cBegin;
  while (c < cEnd) {
    int group = 1;
    // Full chunks go G at a time; the (possibly short) last chunk alone.
    if (c + G <= cEnd && (c + G) * job.chunkSize <= job.numElements) group = G;
    uint64_t pos[G], end[G];
    for (int g = 0; g < group; g++) {
      uint64_t cc = c + g;
      pos[g] = job.index[2 * cc];
      end[g] = cc + 1 < numChunks ? job.index[2 * cc + 2] : job.bitLength;
      if (job.index[2 * cc + 1] != uint32_t(cc * job.chunkSize)) return chunkError(cc, "index names the wrong first element");
      if (pos[g] > end[g] || end[g] > job.bitLength) return chunkError(cc, "bit offsets out of order or out of range");
    }
    uint64_t first = c * job.chunkSize;
    uint32_t n = uint32_t(std::min<uint64_t>(job.chunkSize, job.numElements - first));
    bool ok;
    if (group == G) {
      ok = decodeGroup<G>(t, job.words, pos, end, sym, n);
    } else {
      ok = decodeGroup<1>(t, job.words, pos, end, sym, n);
    }
    if (!ok) return chunkError(c, "invalid code or stream overruns its chunk");
    for (int g = 0; g < group; g++) {
      if (pos[g] != end[g]) return chunkError(c + g, "stream does not end at the next chunk's offset");
      uint64_t f = (c + g) * job.chunkSize;
      emit<kSimd>(sym[g], job.raw, job.planes, rawScratch.data(), job.out, f, n, job.mode);
    }
    c += group;
  }
  return "";
}

std::string decodePortable(const DecodeTable& t, const DecodeJob& job, uint64_t b, uint64_t e) {
  return decodeImpl<false>(t, job, b, e);
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,bmi,bmi2"))) std::string decodeFast(const DecodeTable& t, const DecodeJob& job,
                                                                 uint64_t b, uint64_t e) {
  return decodeImpl<true>(t, job, b, e);
}
#else
std::string decodeFast(const DecodeTable& t, const DecodeJob& job, uint64_t b, uint64_t e) {
  return decodeImpl<false>(t, job, b, e);
}
#endif

constexpr uint64_t kExpandBlock = 4096;

template <bool kSimd>
HUFF8_INLINE void expandImpl(const uint8_t* sym, const Planes& p, OutMode mode, void* out, uint64_t first, uint64_t n) {
  uint8_t raw[kExpandBlock];
  for (uint64_t at = first; at < first + n; at += kExpandBlock) {
    size_t m = size_t(std::min<uint64_t>(kExpandBlock, first + n - at));
    size_t done = 0;
#ifdef HUFF8_X86_SIMD
    if (kSimd && mode == OutMode::kBf16ToF32 && !p.isF16) done = fusedBf16ToF32Ssse3(sym + at, p, at, m, static_cast<uint32_t*>(out) + at);
#endif
    if (done == m) continue;
    rawFromPlanes<kSimd>(p, sym + at + done, at + done, m - done, raw);
    combine(sym + at + done, raw, out, at + done, m - done, mode);
  }
}

void expandPortable(const uint8_t* sym, const Planes& p, OutMode mode, void* out, uint64_t first, uint64_t n) {
  expandImpl<false>(sym, p, mode, out, first, n);
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,bmi,bmi2"))) void expandFast(const uint8_t* sym, const Planes& p, OutMode mode, void* out,
                                                          uint64_t first, uint64_t n) {
  expandImpl<true>(sym, p, mode, out, first, n);
}
#else
void expandFast(const uint8_t* sym, const Planes& p, OutMode mode, void* out, uint64_t first, uint64_t n) {
  expandImpl<false>(sym, p, mode, out, first, n);
}
#endif

}  // namespace

void expandRange(const uint8_t* sym, const Planes& planes, OutMode mode, void* out, uint64_t first, uint64_t n,
                 bool allowFast) {
  static const bool fast = fastPathAvailable();
  if (allowFast && fast) expandFast(sym, planes, mode, out, first, n);
  else expandPortable(sym, planes, mode, out, first, n);
}

std::string decodeChunks(const DecodeTable& table, const DecodeJob& job, uint64_t chunkBegin, uint64_t chunkEnd,
                         bool allowFast) {
  if (job.numWords < 2 || job.bitLength > uint64_t(job.numWords - 2) * 32) {
    return "bit length exceeds the stream's words";
  }
  static const bool fast = fastPathAvailable();
  if (allowFast && fast) return decodeFast(table, job, chunkBegin, chunkEnd);
  return decodePortable(table, job, chunkBegin, chunkEnd);
}

}  // namespace huff8
