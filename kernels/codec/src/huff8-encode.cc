// huff8 encoder, symbol histogram and CRC-32C (hardware SSE4.2 path with a table fallback).
#include <cstring>
#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define HUFF8_X86 1
#endif

#include "huff8.h"

namespace huff8 {

void histogram(const uint16_t* data, size_t n, double* counts) {
  // NOTE: four sub-histograms break the store-to-load dependency on runs of equal symbols.
  static thread_local uint64_t h[4][256];
  std::memset(h, 0, sizeof(h));
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    h[0][(data[i] >> 7) & 0xFF]++;
    h[1][(data[i + 1] >> 7) & 0xFF]++;
    h[2][(data[i + 2] >> 7) & 0xFF]++;
    h[3][(data[i + 3] >> 7) & 0xFF]++;
  }
  for (; i < n; i++) h[0][(data[i] >> 7) & 0xFF]++;
  for (int s = 0; s < 256; s++) counts[s] += double(h[0][s] + h[1][s] + h[2][s] + h[3][s]);
}

std::string encode(const uint16_t* data, size_t n, const uint8_t* len, uint32_t chunkSize, uint32_t* words,
                   size_t numWords, uint8_t* raw, uint32_t* index, uint64_t* bitLength) {
  DecodeTable t;  // reused for its canonical first codes
  std::string err = buildDecodeTable(len, &t);
  if (!err.empty()) return err;
  uint32_t code[256] = {0};
  uint32_t next[kMaxCodeLength + 1];
  for (int l = 1; l <= kMaxCodeLength; l++) next[l] = t.firstCode[l];
  for (int s = 0; s < 256; s++) {
    if (len[s] != 0) code[s] = next[len[s]]++;
  }
  if (numWords < 2) return "word buffer too small";
  const size_t capacity = numWords - 2;  // words usable for payload; two zero words follow
  uint64_t acc = 0;  // pending bits, left-aligned
  uint32_t accBits = 0;
  size_t wi = 0;
  uint64_t bits = 0;
  for (size_t i = 0; i < n; i++) {
    if (i % chunkSize == 0) {
      if (bits > 0xFFFFFFFFull) return "stream longer than 2^32-1 bits; tensor too large for one stream";
      index[2 * (i / chunkSize)] = uint32_t(bits);
      index[2 * (i / chunkSize) + 1] = uint32_t(i);
    }
    uint16_t w = data[i];
    uint32_t s = (w >> 7) & 0xFF;
    uint32_t l = len[s];
    if (l == 0) return "element " + std::to_string(i) + " has a symbol absent from the codebook";
    raw[i] = uint8_t(((w >> 8) & 0x80) | (w & 0x7F));
    acc |= uint64_t(code[s]) << (64 - accBits - l);
    accBits += l;
    bits += l;
    if (accBits >= 32) {
      if (wi >= capacity) return "word buffer too small";
      words[wi++] = uint32_t(acc >> 32);
      acc <<= 32;
      accBits -= 32;
    }
  }
  if (accBits > 0) {
    if (wi >= capacity) return "word buffer too small";
    words[wi++] = uint32_t(acc >> 32);
  }
  if (bits > 0xFFFFFFFFull) return "stream longer than 2^32-1 bits; tensor too large for one stream";
  while (wi < numWords) words[wi++] = 0;
  *bitLength = bits;
  return "";
}

namespace {

uint32_t crcTable[256];
bool crcTableReady = [] {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    crcTable[i] = c;
  }
  return true;
}();

uint32_t crcPortable(uint32_t crc, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i++) crc = crcTable[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return crc;
}

#ifdef HUFF8_X86
__attribute__((target("sse4.2"))) uint32_t crcHardware(uint32_t crc, const uint8_t* p, size_t n) {
  uint64_t c = crc;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    c = _mm_crc32_u64(c, v);
  }
  uint32_t c32 = uint32_t(c);
  for (; i < n; i++) c32 = _mm_crc32_u8(c32, p[i]);
  return c32;
}
#endif

}  // namespace

uint32_t crc32c(uint32_t crc, const uint8_t* data, size_t n) {
  crc = ~crc;
#ifdef HUFF8_X86
  static const bool hw = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
  }();
  crc = hw ? crcHardware(crc, data, n) : crcPortable(crc, data, n);
#else
  crc = crcPortable(crc, data, n);
#endif
  return ~crc;
}

}  // namespace huff8
