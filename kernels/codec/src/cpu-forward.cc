// Native decode step of one Llama block on the CPU: every sequence of the batch adds one token.
//
// NOTE: why this exists. onnxruntime prepacks only constant weights; with block weights fed as
// graph inputs (as just-in-time decompression requires) a batch-1 decode step ran its GEMVs
// through MLAS's unpacked M=1 path and paid ~36 µs of onnxruntime-node overhead per run, which
// held block-wise decoding to ~0.7 of a monolithic graph (runtime/engine/ort-runner.ts). A
// decode step is a handful of GEMVs plus attention over one query row per head; done here in
// one synchronous call per block it reads each weight once for the whole batch with AVX2 FMA.
// Prefill and mixed batches stay on onnxruntime. Semantics are transformers' LlamaDecoderLayer
// in fp32 (RMSNorm, rotate-half RoPE from host tables, GQA, SiLU-gated MLP), the same as the
// ONNX block graph; only the order of floating-point sums differs (checked against the PyTorch
// fixtures by the parity tests).

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "thread-pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EDGEWISE_X86 1
#endif

namespace {

// Order of the weights array (must match WEIGHT_ORDER in runtime/engine/native-decode.ts).
enum WeightSlot {
  kInputNorm, kQ, kK, kV, kQBias, kKBias, kVBias, kO, kOBias,
  kPostNorm, kGate, kUp, kDown, kGateBias, kUpBias, kDownBias, kNumSlots,
};

struct Dims {
  int hidden, heads, kvHeads, headDim, inter;
};

// Y[b][j] = X[b] · W[j] (+ bias[j]) for rows j in [rowBegin, rowEnd); W is [N, K] row-major.
struct Linear {
  const float* w;
  const float* bias;  // may be null
  int n, k;
};

void linearRowsPortable(const Linear& L, const float* x, int batch, float* y, int rowBegin, int rowEnd) {
  for (int j = rowBegin; j < rowEnd; j++) {
    const float* wr = L.w + size_t(j) * L.k;
    for (int b = 0; b < batch; b++) {
      const float* xb = x + size_t(b) * L.k;
      float s = 0.f;
      for (int i = 0; i < L.k; i++) s += wr[i] * xb[i];
      y[size_t(b) * L.n + j] = s + (L.bias ? L.bias[j] : 0.f);
    }
  }
}

#ifdef EDGEWISE_X86
__attribute__((target("avx2,fma"))) inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// R weight rows times BG batch rows at once: R*BG independent FMA chains, each weight vector
// loaded once for BG batch rows (so a batch reads the weights once).
template <int R, int BG>
__attribute__((target("avx2,fma"))) void tileAvx2(const Linear& L, const float* x, float* y, int j, int b) {
  const int K = L.k;
  const int k8 = K & ~7;
  __m256 acc[R][BG];
  for (int r = 0; r < R; r++)
    for (int c = 0; c < BG; c++) acc[r][c] = _mm256_setzero_ps();
  const float* wr[R];
  for (int r = 0; r < R; r++) wr[r] = L.w + size_t(j + r) * K;
  const float* xb[BG];
  for (int c = 0; c < BG; c++) xb[c] = x + size_t(b + c) * K;
  for (int i = 0; i < k8; i += 8) {
    __m256 w[R];
    for (int r = 0; r < R; r++) w[r] = _mm256_loadu_ps(wr[r] + i);
    for (int c = 0; c < BG; c++) {
      const __m256 xv = _mm256_loadu_ps(xb[c] + i);
      for (int r = 0; r < R; r++) acc[r][c] = _mm256_fmadd_ps(w[r], xv, acc[r][c]);
    }
  }
  for (int r = 0; r < R; r++) {
    for (int c = 0; c < BG; c++) {
      float s = hsum(acc[r][c]);
      for (int i = k8; i < K; i++) s += wr[r][i] * xb[c][i];
      y[size_t(b + c) * L.n + j + r] = s + (L.bias ? L.bias[j + r] : 0.f);
    }
  }
}

template <int R>
__attribute__((target("avx2,fma"))) void rowsAvx2(const Linear& L, const float* x, int batch, float* y, int j) {
  int b = 0;
  for (; b + 4 <= batch; b += 4) tileAvx2<R, 4>(L, x, y, j, b);
  for (; b + 2 <= batch; b += 2) tileAvx2<R, 2>(L, x, y, j, b);
  for (; b < batch; b++) tileAvx2<R, 1>(L, x, y, j, b);
}

__attribute__((target("avx2,fma"))) void linearRowsAvx2(const Linear& L, const float* x, int batch, float* y, int rowBegin, int rowEnd) {
  int j = rowBegin;
  if (batch >= 4) {
    for (; j + 2 <= rowEnd; j += 2) rowsAvx2<2>(L, x, batch, y, j);
  } else {
    for (; j + 4 <= rowEnd; j += 4) rowsAvx2<4>(L, x, batch, y, j);
  }
  for (; j < rowEnd; j++) rowsAvx2<1>(L, x, batch, y, j);
}

// The same tiles 16 wide for CPUs with AVX-512 (twice the multiply-adds per instruction).
template <int R, int BG>
__attribute__((target("avx512f"))) void tileAvx512(const Linear& L, const float* x, float* y, int j, int b) {
  const int K = L.k;
  const int k16 = K & ~15;
  __m512 acc[R][BG];
  for (int r = 0; r < R; r++)
    for (int c = 0; c < BG; c++) acc[r][c] = _mm512_setzero_ps();
  const float* wr[R];
  for (int r = 0; r < R; r++) wr[r] = L.w + size_t(j + r) * K;
  const float* xb[BG];
  for (int c = 0; c < BG; c++) xb[c] = x + size_t(b + c) * K;
  for (int i = 0; i < k16; i += 16) {
    __m512 w[R];
    for (int r = 0; r < R; r++) w[r] = _mm512_loadu_ps(wr[r] + i);
    for (int c = 0; c < BG; c++) {
      const __m512 xv = _mm512_loadu_ps(xb[c] + i);
      for (int r = 0; r < R; r++) acc[r][c] = _mm512_fmadd_ps(w[r], xv, acc[r][c]);
    }
  }
  if (k16 < K) {  // masked tail: the same fused multiply-adds on the last K % 16 columns
    const __mmask16 m = __mmask16((1u << (K - k16)) - 1);
    __m512 w[R];
    for (int r = 0; r < R; r++) w[r] = _mm512_maskz_loadu_ps(m, wr[r] + k16);
    for (int c = 0; c < BG; c++) {
      const __m512 xv = _mm512_maskz_loadu_ps(m, xb[c] + k16);
      for (int r = 0; r < R; r++) acc[r][c] = _mm512_fmadd_ps(w[r], xv, acc[r][c]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int c = 0; c < BG; c++) y[size_t(b + c) * L.n + j + r] = _mm512_reduce_add_ps(acc[r][c]) + (L.bias ? L.bias[j + r] : 0.f);
}

template <int R>
__attribute__((target("avx512f"))) void rowsAvx512(const Linear& L, const float* x, int batch, float* y, int j) {
  int b = 0;
  for (; b + 4 <= batch; b += 4) tileAvx512<R, 4>(L, x, y, j, b);
  for (; b + 2 <= batch; b += 2) tileAvx512<R, 2>(L, x, y, j, b);
  for (; b < batch; b++) tileAvx512<R, 1>(L, x, y, j, b);
}

__attribute__((target("avx512f"))) void linearRowsAvx512(const Linear& L, const float* x, int batch, float* y, int rowBegin, int rowEnd) {
  int j = rowBegin;
  for (; j + 4 <= rowEnd; j += 4) rowsAvx512<4>(L, x, batch, y, j);
  for (; j < rowEnd; j++) rowsAvx512<1>(L, x, batch, y, j);
}

// NOTE: for batches of 8 or more the dot-product tiles above spend up to half their cycles in
// horizontal reductions (one per output, against K/16 multiply-adds). This kernel instead
// broadcasts one weight at a time against 16 batch rows of x, packed column-major ([K][16]),
// so each accumulator holds one weight row's outputs for 16 sequences and needs no reduction.
constexpr int kBatchLanes = 16;

// Packs batch rows [b0, b0 + nb) of x ([batch, K]) as xt[k][lane], lanes past nb zero.
void packColumns(const float* x, int K, int b0, int nb, float* xt) {
  for (int k = 0; k < K; k++) {
    float* row = xt + size_t(k) * kBatchLanes;
    for (int c = 0; c < kBatchLanes; c++) row[c] = c < nb ? x[size_t(b0 + c) * K + k] : 0.f;
  }
}

template <int R>
__attribute__((target("avx512f"))) void broadcastTileAvx512(const Linear& L, const float* xt, int nb, int b0, float* y, int j) {
  const int K = L.k;
  __m512 acc[R];
  for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
  const float* w = L.w + size_t(j) * K;
  for (int k = 0; k < K; k++) {
    const __m512 xv = _mm512_loadu_ps(xt + size_t(k) * kBatchLanes);
    for (int r = 0; r < R; r++) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(w[size_t(r) * K + k]), xv, acc[r]);
  }
  alignas(64) float lanes[kBatchLanes];
  for (int r = 0; r < R; r++) {
    _mm512_store_ps(lanes, acc[r]);
    const float bias = L.bias ? L.bias[j + r] : 0.f;
    for (int c = 0; c < nb; c++) y[size_t(b0 + c) * L.n + j + r] = lanes[c] + bias;
  }
}

__attribute__((target("avx512f"))) void linearRowsBroadcastAvx512(const Linear& L, const float* xt, int nb, int b0, float* y, int rowBegin, int rowEnd) {
  int j = rowBegin;
  for (; j + 8 <= rowEnd; j += 8) broadcastTileAvx512<8>(L, xt, nb, b0, y, j);
  for (; j < rowEnd; j++) broadcastTileAvx512<1>(L, xt, nb, b0, y, j);
}

__attribute__((target("avx2,fma"))) float dotAvx2(const float* a, const float* b, int n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  if (i + 8 <= n) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    i += 8;
  }
  float s = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

// y += p * x over n floats.
__attribute__((target("avx2,fma"))) void axpyAvx2(float p, const float* x, float* y, int n) {
  const __m256 pv = _mm256_set1_ps(p);
  int i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(pv, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] += p * x[i];
}
#endif

enum class Isa { kPortable = 0, kAvx2 = 1, kAvx512 = 2 };

Isa detectIsa() {
#ifdef EDGEWISE_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return Isa::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
#endif
  return Isa::kPortable;
}

const Isa kBestIsa = detectIsa();
// The kernels in use: the best the CPU has, or a lower one chosen by setDecodeIsa (tests, A/B benchmarks).
Isa gIsa = kBestIsa;

bool useAvx512() { return gIsa == Isa::kAvx512; }
bool useAvx2() { return gIsa >= Isa::kAvx2; }

// NOTE: a plain `s += a[i] * b[i]` loop is one serial chain of dependent adds (the compiler may
// not reorder float sums), ~4 cycles per element; attention scores are such dot products.
float dot(const float* a, const float* b, int n) {
#ifdef EDGEWISE_X86
  if (useAvx2()) return dotAvx2(a, b, n);
#endif
  float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; i++) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

void axpy(float p, const float* x, float* y, int n) {
#ifdef EDGEWISE_X86
  if (useAvx2()) return axpyAvx2(p, x, y, n);
#endif
  for (int i = 0; i < n; i++) y[i] += p * x[i];
}

/** Multiply-adds below which splitting rows over threads costs more than it saves. */
constexpr double kMinParallelWork = 1 << 20;

/** Batches from this size on take the broadcast kernel (where the CPU has AVX-512). */
constexpr int kMinBroadcastBatch = 8;

// Runs rows(begin, end) over [0, n), split across the pool when the work pays for it.
template <typename Rows>
void splitRows(int n, double work, int threads, const Rows& rows) {
  if (threads <= 1 || work < kMinParallelWork) return rows(0, n);
  // Split on multiples of 8 rows so every part keeps whole tiles.
  const int parts = threads;
  const int per = ((n + parts - 1) / parts + 7) & ~7;
  huff8::ThreadPool::instance().run(uint64_t(parts), [&](uint64_t p) {
    const int begin = int(p) * per;
    const int end = std::min(n, begin + per);
    if (begin < end) rows(begin, end);
  });
}

void linear(const Linear& L, const float* x, int batch, float* y, int threads) {
  const double work = double(L.n) * L.k * batch;
#ifdef EDGEWISE_X86
  if (useAvx512() && batch >= kMinBroadcastBatch) {
    thread_local std::vector<float> xt;
    xt.resize(size_t(L.k) * kBatchLanes);
    for (int b0 = 0; b0 < batch; b0 += kBatchLanes) {
      const int nb = std::min(kBatchLanes, batch - b0);
      packColumns(x, L.k, b0, nb, xt.data());
      const float* packed = xt.data();
      splitRows(L.n, double(L.n) * L.k * nb, threads, [&](int begin, int end) { linearRowsBroadcastAvx512(L, packed, nb, b0, y, begin, end); });
    }
    return;
  }
#endif
  splitRows(L.n, work, threads, [&](int begin, int end) {
#ifdef EDGEWISE_X86
    if (useAvx512()) return linearRowsAvx512(L, x, batch, y, begin, end);
    if (useAvx2()) return linearRowsAvx2(L, x, batch, y, begin, end);
#endif
    linearRowsPortable(L, x, batch, y, begin, end);
  });
}

// transformers' LlamaRMSNorm: weight * (x * rsqrt(mean(x²) + eps)), in fp32.
void rmsNorm(const float* x, const float* weight, int batch, int H, float eps, float* out) {
  for (int b = 0; b < batch; b++) {
    const float* xb = x + size_t(b) * H;
    const float ss = dot(xb, xb, H);
    const float inv = 1.f / std::sqrt(ss / float(H) + eps);
    for (int i = 0; i < H; i++) out[size_t(b) * H + i] = weight[i] * (xb[i] * inv);
  }
}

// Rotate-half RoPE in place on [heads, hd] with the row's cos/sin ([2, hd]).
void rope(float* v, int heads, int hd, const float* cosSin) {
  const int half = hd / 2;
  const float* c = cosSin;
  const float* s = cosSin + hd;
  for (int h = 0; h < heads; h++) {
    float* x = v + size_t(h) * hd;
    for (int i = 0; i < half; i++) {
      const float x1 = x[i], x2 = x[i + half];
      x[i] = x1 * c[i] - x2 * s[i];
      x[i + half] = x2 * c[i + half] + x1 * s[i + half];
    }
  }
}

struct Sequence {
  float* keys;    // token-major [len+1, kvH, hd]
  float* values;
  int pastLen;
};

#ifdef EDGEWISE_X86
// Scores q·k_t for n keys, head width 8*HD8, keys `stride` floats apart: no call or reduction
// loop per key beyond one horizontal add.
template <int HD8>
__attribute__((target("avx2,fma"))) void scoresAvx2(const float* q, const float* k, size_t stride, int n, float scale, float* scores) {
  __m256 qv[HD8];
  for (int i = 0; i < HD8; i++) qv[i] = _mm256_loadu_ps(q + 8 * i);
  for (int t = 0; t < n; t++) {
    const float* kt = k + size_t(t) * stride;
    __m256 acc = _mm256_mul_ps(qv[0], _mm256_loadu_ps(kt));
    for (int i = 1; i < HD8; i++) acc = _mm256_fmadd_ps(qv[i], _mm256_loadu_ps(kt + 8 * i), acc);
    scores[t] = hsum(acc) * scale;
  }
}

// out = Σ_t p_t v_t with the output row held in registers.
template <int HD8>
__attribute__((target("avx2,fma"))) void weightedSumAvx2(const float* p, const float* v, size_t stride, int n, float* out) {
  __m256 acc[HD8];
  for (int i = 0; i < HD8; i++) acc[i] = _mm256_setzero_ps();
  for (int t = 0; t < n; t++) {
    const __m256 pt = _mm256_set1_ps(p[t]);
    const float* vt = v + size_t(t) * stride;
    for (int i = 0; i < HD8; i++) acc[i] = _mm256_fmadd_ps(pt, _mm256_loadu_ps(vt + 8 * i), acc[i]);
  }
  for (int i = 0; i < HD8; i++) _mm256_storeu_ps(out + 8 * i, acc[i]);
}
#endif

// Head widths with a register-blocked kernel (8 floats per AVX2 vector); 0 for the generic loop.
int fastHeadBlocks(int hd) {
#ifdef EDGEWISE_X86
  if (useAvx2() && (hd == 32 || hd == 64 || hd == 128)) return hd / 8;
#endif
  (void)hd;
  return 0;
}

// scores[t] = q·k_t × scale over n keys `stride` floats apart.
void headScores(int hd, const float* q, const float* k, size_t stride, int n, float scale, float* scores) {
#ifdef EDGEWISE_X86
  switch (fastHeadBlocks(hd)) {
    case 4: return scoresAvx2<4>(q, k, stride, n, scale, scores);
    case 8: return scoresAvx2<8>(q, k, stride, n, scale, scores);
    case 16: return scoresAvx2<16>(q, k, stride, n, scale, scores);
    default: break;
  }
#endif
  for (int t = 0; t < n; t++) scores[t] = dot(q, k + size_t(t) * stride, hd) * scale;
}

// out = Σ_t p[t] v_t over n value rows `stride` floats apart.
void headWeightedSum(int hd, const float* p, const float* v, size_t stride, int n, float* out) {
#ifdef EDGEWISE_X86
  switch (fastHeadBlocks(hd)) {
    case 4: return weightedSumAvx2<4>(p, v, stride, n, out);
    case 8: return weightedSumAvx2<8>(p, v, stride, n, out);
    case 16: return weightedSumAvx2<16>(p, v, stride, n, out);
    default: break;
  }
#endif
  for (int i = 0; i < hd; i++) out[i] = 0.f;
  for (int t = 0; t < n; t++) axpy(p[t], v + size_t(t) * stride, out, hd);
}

// One query row per head over keys 0..pastLen (the new token's key already stored).
void attend(const Dims& d, const Sequence& s, const float* q, float* out, std::vector<float>& scores) {
  const int group = d.heads / d.kvHeads;
  const size_t row = size_t(d.kvHeads) * d.headDim;
  const int n = s.pastLen + 1;
  const float scale = 1.f / std::sqrt(float(d.headDim));
  scores.resize(size_t(n));
  for (int h = 0; h < d.heads; h++) {
    const size_t kvOffset = size_t(h / group) * d.headDim;
    const float* qh = q + size_t(h) * d.headDim;
    const float* keys = s.keys + kvOffset;
    const float* values = s.values + kvOffset;
    float* oh = out + size_t(h) * d.headDim;
    headScores(d.headDim, qh, keys, row, n, scale, scores.data());
    float maxScore = -INFINITY;
    for (int t = 0; t < n; t++) maxScore = std::max(maxScore, scores[t]);
    float sum = 0.f;
    for (int t = 0; t < n; t++) {
      scores[t] = std::exp(scores[t] - maxScore);
      sum += scores[t];
    }
    const float inv = 1.f / sum;
    for (int t = 0; t < n; t++) scores[t] *= inv;
    headWeightedSum(d.headDim, scores.data(), values, row, n, oh);
  }
}

/** Sequences per thread below which splitting a batch over threads does not pay. */
constexpr int kMinSequencesPerThread = 4;

// One block for B sequences (one new token each): hidden [B, H] updated in place, new K/V
// rows written after each sequence's stored ones. Scratch is per calling thread.
void runBlock(const Dims& d, const float* const* w, float* hidden, const float* ropeRows, const Sequence* seqs, int B, float eps, int threads) {
  const int H = d.hidden, Q = d.heads * d.headDim, KV = d.kvHeads * d.headDim, I = d.inter;
  thread_local std::vector<float> xn, q, k, v, attn, proj, gate, up, scores;
  xn.resize(size_t(B) * H);
  q.resize(size_t(B) * Q);
  k.resize(size_t(B) * KV);
  v.resize(size_t(B) * KV);
  attn.resize(size_t(B) * Q);
  proj.resize(size_t(B) * H);
  gate.resize(size_t(B) * I);
  up.resize(size_t(B) * I);

  // Attention half: x + o_proj(attention(rope(q), rope(k), v)).
  rmsNorm(hidden, w[kInputNorm], B, H, eps, xn.data());
  linear({w[kQ], w[kQBias], Q, H}, xn.data(), B, q.data(), threads);
  linear({w[kK], w[kKBias], KV, H}, xn.data(), B, k.data(), threads);
  linear({w[kV], w[kVBias], KV, H}, xn.data(), B, v.data(), threads);
  for (int b = 0; b < B; b++) {
    const float* cs = ropeRows + size_t(b) * 2 * d.headDim;
    rope(q.data() + size_t(b) * Q, d.heads, d.headDim, cs);
    rope(k.data() + size_t(b) * KV, d.kvHeads, d.headDim, cs);
    const Sequence& s = seqs[b];
    std::memcpy(s.keys + size_t(s.pastLen) * KV, k.data() + size_t(b) * KV, sizeof(float) * KV);
    std::memcpy(s.values + size_t(s.pastLen) * KV, v.data() + size_t(b) * KV, sizeof(float) * KV);
    attend(d, s, q.data() + size_t(b) * Q, attn.data() + size_t(b) * Q, scores);
  }
  linear({w[kO], w[kOBias], H, Q}, attn.data(), B, proj.data(), threads);
  for (size_t i = 0; i < size_t(B) * H; i++) hidden[i] += proj[i];

  // MLP half: x + down(silu(gate(x)) * up(x)).
  rmsNorm(hidden, w[kPostNorm], B, H, eps, xn.data());
  linear({w[kGate], w[kGateBias], I, H}, xn.data(), B, gate.data(), threads);
  linear({w[kUp], w[kUpBias], I, H}, xn.data(), B, up.data(), threads);
  for (size_t i = 0; i < size_t(B) * I; i++) {
    const float g = gate[i];
    gate[i] = g * (1.f / (1.f + std::exp(-g))) * up[i];
  }
  linear({w[kDown], w[kDownBias], H, I}, gate.data(), B, proj.data(), threads);
  for (size_t i = 0; i < size_t(B) * H; i++) hidden[i] += proj[i];
}

const float* floatArg(Napi::Env env, Napi::Value v, size_t minLength, const std::string& name, bool optional = false) {
  if (optional && (v.IsNull() || v.IsUndefined())) return nullptr;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(env, name + " must be a Float32Array");
  }
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  if (a.ElementLength() < minLength) {
    throw Napi::RangeError::New(env, name + " has " + std::to_string(a.ElementLength()) + " elements, needs " + std::to_string(minLength));
  }
  return a.Data();
}

// decodeStep(hidden, rope, weights[16], keys[B], values[B], pastLengths Int32Array[B],
//            dims Int32Array[hidden, heads, kvHeads, headDim, inter], eps, threads)
// Updates hidden ([B, H]) in place and writes each sequence's new K/V row at pastLength.
Napi::Value DecodeStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 9) throw Napi::TypeError::New(env, "decodeStep takes 9 arguments");
  if (!info[6].IsTypedArray() || info[6].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      info[6].As<Napi::Int32Array>().ElementLength() != 5) {
    throw Napi::TypeError::New(env, "dims must be an Int32Array of 5");
  }
  const int32_t* dv = info[6].As<Napi::Int32Array>().Data();
  const Dims d{dv[0], dv[1], dv[2], dv[3], dv[4]};
  if (d.hidden <= 0 || d.heads <= 0 || d.kvHeads <= 0 || d.headDim <= 0 || d.headDim % 2 || d.inter <= 0 || d.heads % d.kvHeads) {
    throw Napi::RangeError::New(env, "bad dims");
  }
  if (!info[5].IsTypedArray() || info[5].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(env, "pastLengths must be an Int32Array");
  }
  Napi::Int32Array lengths = info[5].As<Napi::Int32Array>();
  const int B = int(lengths.ElementLength());
  if (B < 1) throw Napi::RangeError::New(env, "empty batch");
  const int H = d.hidden, Q = d.heads * d.headDim, KV = d.kvHeads * d.headDim, I = d.inter;
  float* hidden = const_cast<float*>(floatArg(env, info[0], size_t(B) * H, "hidden"));
  const float* ropeRows = floatArg(env, info[1], size_t(B) * 2 * d.headDim, "rope");
  if (!info[2].IsArray() || info[2].As<Napi::Array>().Length() != kNumSlots) throw Napi::TypeError::New(env, "weights must be an array of 16");
  if (!info[3].IsArray() || !info[4].IsArray() || info[3].As<Napi::Array>().Length() != uint32_t(B) ||
      info[4].As<Napi::Array>().Length() != uint32_t(B)) {
    throw Napi::TypeError::New(env, "keys and values must be arrays with one buffer per sequence");
  }
  Napi::Array wa = info[2].As<Napi::Array>();
  const size_t sizes[kNumSlots] = {size_t(H), size_t(Q) * H, size_t(KV) * H, size_t(KV) * H, size_t(Q), size_t(KV), size_t(KV),
                                   size_t(H) * Q, size_t(H), size_t(H), size_t(I) * H, size_t(I) * H, size_t(H) * I,
                                   size_t(I), size_t(I), size_t(H)};
  const bool optional[kNumSlots] = {false, false, false, false, true, true, true, false, true,
                                    false, false, false, false, true, true, true};
  const float* w[kNumSlots];
  for (int i = 0; i < kNumSlots; i++) w[i] = floatArg(env, wa.Get(uint32_t(i)), sizes[i], "weights[" + std::to_string(i) + "]", optional[i]);
  std::vector<Sequence> seqs(static_cast<size_t>(B));
  for (int b = 0; b < B; b++) {
    const int past = lengths[size_t(b)];
    if (past < 0) throw Napi::RangeError::New(env, "negative past length");
    const size_t need = size_t(past + 1) * KV;
    seqs[size_t(b)] = {const_cast<float*>(floatArg(env, info[3].As<Napi::Array>().Get(uint32_t(b)), need, "keys")),
                       const_cast<float*>(floatArg(env, info[4].As<Napi::Array>().Get(uint32_t(b)), need, "values")), past};
  }
  const float eps = info[7].As<Napi::Number>().FloatValue();
  const int threads = info[8].As<Napi::Number>().Int32Value();

  // NOTE: splitting each GEMM's rows over threads costs a pool wake-up per product (7 per
  // block), which ate the gain at batch 16 on 2 cores; for batches of 8+ each thread instead
  // runs the whole block for its share of the sequences (one wake-up per block).
  if (threads > 1 && B >= 2 * kMinSequencesPerThread) {
    const int parts = std::min(threads, B / kMinSequencesPerThread);
    const int per = (B + parts - 1) / parts;
    huff8::ThreadPool::instance().run(uint64_t(parts), [&](uint64_t p) {
      const int b0 = int(p) * per;
      const int nb = std::min(B, b0 + per) - b0;
      if (nb > 0) runBlock(d, w, hidden + size_t(b0) * H, ropeRows + size_t(b0) * 2 * d.headDim, seqs.data() + b0, nb, eps, 1);
    });
  } else {
    runBlock(d, w, hidden, ropeRows, seqs.data(), B, eps, threads);
  }
  return env.Undefined();
}

const char* isaName(Isa isa) { return isa == Isa::kAvx512 ? "avx512" : isa == Isa::kAvx2 ? "avx2" : "portable"; }

// setDecodeIsa(name?) -> the kernels in use after the call ("avx512" | "avx2" | "portable");
// naming one the CPU lacks throws. Without an argument it only reports.
Napi::Value SetDecodeIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    const std::string want = info[0].As<Napi::String>().Utf8Value();
    Isa isa;
    if (want == "avx512") isa = Isa::kAvx512;
    else if (want == "avx2") isa = Isa::kAvx2;
    else if (want == "portable") isa = Isa::kPortable;
    else throw Napi::RangeError::New(env, "unknown ISA " + want);
    if (isa > kBestIsa) throw Napi::RangeError::New(env, want + " is not supported by this CPU");
    gIsa = isa;
  }
  return Napi::String::New(env, isaName(gIsa));
}

}  // namespace

// Registered by addon.cc's Init.
void InitCpuForward(Napi::Env env, Napi::Object exports) {
  exports.Set("decodeStep", Napi::Function::New(env, DecodeStep));
  exports.Set("setDecodeIsa", Napi::Function::New(env, SetDecodeIsa));
}
