// huff8 decoder: canonical-code tables, chunk-parallel decode with a portable and an AVX2/BMI2 path.
#include <cstring>
#include <vector>

#include <algorithm>

#if defined(__SSE2__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define HUFF8_X86_SIMD 1  // fused plane join in huff8-planes.h (SSE2, fast path only)
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

#include "huff8-planes.h"  // rawFromPlanes, fusedPlanes (inside this anonymous namespace)
#include "huff8-join.h"    // emit, PendingJoin

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
template <int G, typename Background>
HUFF8_INLINE bool decodeGroup(const DecodeTable& t, const uint32_t* w, uint64_t* pos, const uint64_t* end,
                              uint8_t* const* sym, uint32_t n, Background& background) {
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
      background.step();
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

template <bool kSimd, typename Step>
HUFF8_INLINE std::string decodeImpl(const DecodeTable& t, const DecodeJob& job, uint64_t cBegin,
                                    uint64_t cEnd) {
  const uint64_t numChunks = (job.numElements + job.chunkSize - 1) / job.chunkSize;
  constexpr int G = 4;
  const size_t stride = job.chunkSize + 64;  // multi-symbol stores may write 7 bytes past the end
  // Two sets of G symbol buffers: one group decodes into one set while the previous group's is joined.
  std::vector<uint8_t> scratch(size_t(2 * G) * stride);
  std::vector<uint8_t> rawScratch(job.raw == nullptr ? job.chunkSize : 0);
  uint8_t* sym[2][G];
  for (int k = 0; k < 2 * G; k++) sym[k / G][k % G] = scratch.data() + size_t(k) * stride;
  int cur = 0;
  PendingJoin<kSimd, G, Step> pending(job, rawScratch.data());
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
      ok = decodeGroup<G>(t, job.words, pos, end, sym[cur], n, pending);
    } else {
      ok = decodeGroup<1>(t, job.words, pos, end, sym[cur], n, pending);
    }
    if (!ok) return chunkError(c, "invalid code or stream overruns its chunk");
    for (int g = 0; g < group; g++) {
      if (pos[g] != end[g]) return chunkError(c + g, "stream does not end at the next chunk's offset");
    }
    pending.finish();
    pending.reset(sym[cur], group, first, n);
    cur ^= 1;
    c += group;
  }
  pending.finish();
  return "";
}

std::string decodePortable(const DecodeTable& t, const DecodeJob& job, uint64_t b, uint64_t e) {
  return decodeImpl<false, NoJoinStep>(t, job, b, e);
}

#ifdef HUFF8_X86_SIMD
// The planes layout's decode for one output mode, with the rung's fused join inlined into the decode loop.
template <OutMode kMode>
HUFF8_INLINE std::string decodeFusedFor(const DecodeTable& t, const DecodeJob& job, uint64_t b, uint64_t e) {
  if (job.planes.keep >= 3) return decodeImpl<true, FusedJoinStep<3, kMode>>(t, job, b, e);
  if (job.planes.keep == 2) return decodeImpl<true, FusedJoinStep<2, kMode>>(t, job, b, e);
  return decodeImpl<true, FusedJoinStep<1, kMode>>(t, job, b, e);
}

// NOTE: one copy of the decode loop per rung and output (9 in all, ~110 KB of code) so that the join step is
// inlined into it (PendingJoin): a call per step was 4-9% slower (measured, 1 thread).
__attribute__((target("avx2,bmi,bmi2"))) std::string decodeFast(const DecodeTable& t, const DecodeJob& job,
                                                                 uint64_t b, uint64_t e) {
  if (job.raw == nullptr) {
    switch (job.mode) {
      case OutMode::kU16: return decodeFusedFor<OutMode::kU16>(t, job, b, e);
      case OutMode::kBf16ToF32: return decodeFusedFor<OutMode::kBf16ToF32>(t, job, b, e);
      case OutMode::kF16ToF32: return decodeFusedFor<OutMode::kF16ToF32>(t, job, b, e);
      default: break;
    }
  }
  return decodeImpl<true, NoJoinStep>(t, job, b, e);
}
#else
std::string decodeFast(const DecodeTable& t, const DecodeJob& job, uint64_t b, uint64_t e) {
  return decodeImpl<false, NoJoinStep>(t, job, b, e);
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
    if (kSimd) done = fusedPlanesAny(sym + at, p, mode, at, m, out);
#endif
    if (done == m) continue;
    rawFromPlanes(p, sym + at + done, at + done, m - done, raw);
    combine(sym + at + done, raw, out, at + done, m - done, mode);
  }
}

void expandPortable(const uint8_t* sym, const Planes& p, OutMode mode, void* out, uint64_t first, uint64_t n) {
  expandImpl<false>(sym, p, mode, out, first, n);
}

#ifdef HUFF8_X86_SIMD
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
