// Shared declarations of the huff8 codec kernels (decode, encode, crc32c); layout in docs/format.md.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace huff8 {

constexpr int kMaxCodeLength = 16;
// NOTE: 12-bit primary tables (8 + 32 KiB) stay in L1/L2; longer codes are rare by construction
// (probability < 2^-12 each) and take the canonical slow path.
constexpr int kLutBits = 12;

// Decode tables built from 256 code lengths (canonical code, docs/format.md 2.2).
struct DecodeTable {
  uint16_t lut[1 << kLutBits];  // (symbol << 5) | length for codes <= kLutBits bits; 0 otherwise
  // Up to 6 whole codes per kLutBits-bit prefix: symbols in bits 0..47 (8 each), count in bits
  // 48..51, total code bits in 52..57. Count 0: the first code is longer than kLutBits.
  uint64_t multi[1 << kLutBits];
  uint32_t limit[kMaxCodeLength + 1];  // left-justified (16-bit) exclusive upper bound per length
  uint32_t firstCode[kMaxCodeLength + 1];
  uint16_t firstIndex[kMaxCodeLength + 1];
  uint8_t sorted[256];  // symbols ordered by (length, symbol)
};

// Returns an empty string on success, else why the lengths are invalid.
std::string buildDecodeTable(const uint8_t* codeLengths, DecodeTable* table);

// kSymbols writes only the decoded 8-bit symbols (one byte per element; the compact cache form).
enum class OutMode { kU16 = 0, kBf16ToF32 = 1, kF16ToF32 = 2, kSymbols = 3 };

// Sign+mantissa bit-planes of format version 2 (docs/format.md 2.6): A = raw bits 7..6 (2 bits per
// element, 4 per byte, element i at bit 2*(i&3)), B = bits 5..4 (same packing), C = bits 3..0 (2
// per byte, element i at bit 4*(i&1)). A precision rung keeps planes 0..keep-1.
struct Planes {
  const uint8_t* plane[3];
  int keep;    // 1, 2 or 3
  bool isF16;  // where the exponent sits in the symbol (for the fill rule)
};

struct DecodeJob {
  const uint32_t* words;
  size_t numWords;
  const uint8_t* raw;  // interleaved sign+mantissa bytes (version 1), or null: take `planes`
  Planes planes;
  const uint32_t* index;  // numChunks pairs (bitOffset, firstElement)
  uint64_t numElements;
  uint32_t chunkSize;
  uint64_t bitLength;
  void* out;
  OutMode mode;
};

// Decodes chunks [chunkBegin, chunkEnd). Returns "" or an error message naming the chunk.
std::string decodeChunks(const DecodeTable& table, const DecodeJob& job, uint64_t chunkBegin,
                         uint64_t chunkEnd, bool allowFast);
bool fastPathAvailable();

// Joins symbols and planes into 16-bit patterns or FP32 for elements [first, first + n); `first`
// must be a multiple of 4. Dropped planes are filled as in docs/format.md 2.6.
void expandRange(const uint8_t* sym, const Planes& planes, OutMode mode, void* out, uint64_t first, uint64_t n,
                 bool allowFast);

// Adds the symbol histogram of `n` 16-bit values into counts[256].
void histogram(const uint16_t* data, size_t n, double* counts);

// Encodes `n` values; returns "" or an error. *bitLength receives the stream length in bits.
std::string encode(const uint16_t* data, size_t n, const uint8_t* codeLengths, uint32_t chunkSize,
                   uint32_t* words, size_t numWords, uint8_t* raw, uint32_t* index,
                   uint64_t* bitLength);

uint32_t crc32c(uint32_t crc, const uint8_t* data, size_t n);

}  // namespace huff8
