// Joins decoded symbols with the raw sign+mantissa bits (interleaved bytes or planes) into the output, at once
// (emit) or spread over the next group's decode (PendingJoin). Included once, inside huff8-decode.cc's
// anonymous namespace, after huff8-planes.h (it uses combine, rawFromPlanes and fusedPlanes from there).
#pragma once

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
  if (kSimd) done = fusedPlanesAny(sym, planes, mode, first, n, out);
#endif
  if (done == n) return;
  rawFromPlanes(planes, sym + done, first + done, n - done, rawScratch);
  combine(sym + done, rawScratch, out, first + done, n - done, mode);
}

constexpr uint32_t kJoinStep = 32;  // elements per PendingJoin::step(), a multiple of 32

// How PendingJoin::step() joins kJoinStep elements: not at all (every output but the planes layout's on the
// fast path, written by finish()), or with the fused join of one rung and output mode, inlined.
struct NoJoinStep {
  static constexpr bool kSteps = false;
  static void run(const uint8_t*, const Planes&, uint64_t, void*) {}
};
#ifdef HUFF8_X86_SIMD
template <int kKeep, OutMode kMode>
struct FusedJoinStep {
  static constexpr bool kSteps = true;
  static HUFF8_INLINE void run(const uint8_t* sym, const Planes& p, uint64_t first, void* out) {
    fusedPlanes<kKeep, kMode>(sym, p, first, kJoinStep, out);
  }
};
#endif

// A decoded group of chunks whose symbols still wait to be joined into the output. While the next group
// decodes, step() joins kJoinStep elements of it per decode round; finish() writes whatever is left.
// NOTE: the decode rounds are latency-bound (each table lookup waits on the previous code's length), so the
// join's independent SIMD work fills idle issue slots instead of running as a pass of its own: side by side at
// 1 thread, the lossless planes decode went from ~0.98 to ~1.03-1.07 of the interleaved layout's speed to BF16,
// and from ~0.97 to ~1.15 to FP32 (the interleaved path still joins in a pass of its own).
template <bool kSimd, int G, typename Step>
class PendingJoin {
 public:
  PendingJoin(const DecodeJob& job, uint8_t* rawScratch) : job_(job), rawScratch_(rawScratch) {}

  // Takes `count` chunks of n elements each, chunk g's symbols in sym[g], its first element at first + g * n.
  void reset(uint8_t* const* sym, int count, uint64_t first, uint32_t n) {
    for (int g = 0; g < count; g++) sym_[g] = sym[g];
    count_ = count;
    first_ = first;
    n_ = n;
    blocksEnd_ = n & ~(kJoinStep - 1);
    g_ = 0;
    at_ = 0;
    if (blocksEnd_ == 0) g_ = count_;  // nothing for step()
    if (!Step::kSteps) finish();  // the other outputs are written at once, while the symbols are in L1
  }

  HUFF8_INLINE void step() {
    if (!Step::kSteps || g_ >= count_) return;
    Step::run(sym_[g_] + at_, job_.planes, first_ + uint64_t(g_) * n_ + at_, job_.out);
    at_ += kJoinStep;
    if (at_ == blocksEnd_) {
      g_++;
      at_ = 0;
    }
  }

  void finish() {
    for (int g = 0; g < count_; g++) {
      uint32_t from = g < g_ ? blocksEnd_ : g == g_ ? at_ : 0;  // what step() has written of chunk g
      if (from < n_) emit<kSimd>(sym_[g] + from, job_.raw, job_.planes, rawScratch_, job_.out, first_ + uint64_t(g) * n_ + from, n_ - from, job_.mode);
    }
    count_ = 0;
    g_ = 0;
    at_ = 0;
  }

 private:
  const DecodeJob& job_;
  uint8_t* rawScratch_;
  const uint8_t* sym_[G] = {};
  int count_ = 0;
  uint64_t first_ = 0;
  uint32_t n_ = 0, blocksEnd_ = 0;
  int g_ = 0;        // chunk step() works on
  uint32_t at_ = 0;  // its next element (a multiple of kJoinStep)
};

