// huff8 decoder: canonical-code tables, chunk-parallel decode with a portable and an AVX2/BMI2 path.
#include <cstring>
#include <vector>

#include "huff8.h"

namespace huff8 {

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
  return "";
}

bool fastPathAvailable() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
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
  uint32_t bits;
  if (em >= 0x7C00u) {
    bits = 0x7F800000u | ((em & 0x3FFu) << 13);
  } else {
    // NOTE: scaling the shifted pattern by 2^112 rebias the exponent and normalizes subnormals exactly.
    float f;
    uint32_t shifted = em << 13;
    std::memcpy(&f, &shifted, 4);
    f *= 5.192296858534828e33f;  // 2^112
    std::memcpy(&bits, &f, 4);
  }
  return bits | sign;
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

std::string chunkError(uint64_t c, const char* what) {
  return "chunk " + std::to_string(c) + ": " + what;
}

// Decodes G full chunks in lockstep: independent dependency chains keep the core busy.
template <int G>
HUFF8_INLINE bool decodeGroup(const DecodeTable& t, const uint32_t* w, uint64_t* pos, const uint64_t* end,
                              uint8_t* const* sym, uint32_t n) {
  for (uint32_t i = 0; i < n; i += 2) {
    for (int g = 0; g < G; g++) {
      uint64_t win = windowAt(w, pos[g]);
      uint32_t e1 = lookup(t, win);
      uint32_t l1 = e1 & 31;
      uint32_t e2 = lookup(t, win << l1);
      if (__builtin_expect(e1 == 0 || e2 == 0, 0)) return false;
      pos[g] += l1 + (e2 & 31);
      sym[g][i] = uint8_t(e1 >> 5);
      sym[g][i + 1] = uint8_t(e2 >> 5);
      if (__builtin_expect(pos[g] > end[g], 0)) return false;
    }
  }
  return true;
}

HUFF8_INLINE std::string decodeImpl(const DecodeTable& t, const DecodeJob& job, uint64_t cBegin,
                                    uint64_t cEnd) {
  const uint64_t numChunks = (job.numElements + job.chunkSize - 1) / job.chunkSize;
  constexpr int G = 4;
  std::vector<uint8_t> scratch(size_t(G) * job.chunkSize);
  uint8_t* sym[G];
  for (int g = 0; g < G; g++) sym[g] = scratch.data() + size_t(g) * job.chunkSize;
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
    } else if ((n & 1) == 0) {
      ok = decodeGroup<1>(t, job.words, pos, end, sym, n);
    } else {
      ok = decodeGroup<1>(t, job.words, pos, end, sym, n - 1);
      if (ok) {
        uint32_t e = lookup(t, windowAt(job.words, pos[0]));
        ok = e != 0;
        pos[0] += e & 31;
        sym[0][n - 1] = uint8_t(e >> 5);
      }
    }
    if (!ok) return chunkError(c, "invalid code or stream overruns its chunk");
    for (int g = 0; g < group; g++) {
      if (pos[g] != end[g]) return chunkError(c + g, "stream does not end at the next chunk's offset");
      uint64_t f = (c + g) * job.chunkSize;
      combine(sym[g], job.raw + f, job.out, f, n, job.mode);
    }
    c += group;
  }
  return "";
}

std::string decodePortable(const DecodeTable& t, const DecodeJob& job, uint64_t b, uint64_t e) {
  return decodeImpl(t, job, b, e);
}

__attribute__((target("avx2,bmi,bmi2"))) std::string decodeFast(const DecodeTable& t, const DecodeJob& job,
                                                                 uint64_t b, uint64_t e) {
  return decodeImpl(t, job, b, e);
}

}  // namespace

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
