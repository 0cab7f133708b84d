// N-API surface of the huff8 codec addon; the TypeScript wrapper (kernels/codec/native.ts) validates first.
#include <napi.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "huff8.h"
#include "thread-pool.h"

void InitCpuForward(Napi::Env env, Napi::Object exports);  // cpu-forward.cc

namespace {

// NOTE: building the decode tables costs tens of microseconds, as much as decoding a small tensor;
// a block's tensors share one codebook, so tables are kept per thread, keyed by the code lengths.
const huff8::DecodeTable* cachedTable(const uint8_t* lens, std::string* err) {
  static thread_local std::unordered_map<std::string, std::unique_ptr<huff8::DecodeTable>> cache;
  std::string key(reinterpret_cast<const char*>(lens), 256);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second.get();
  auto table = std::make_unique<huff8::DecodeTable>();
  *err = huff8::buildDecodeTable(lens, table.get());
  if (!err->empty()) return nullptr;
  if (cache.size() >= 256) cache.clear();
  return cache.emplace(std::move(key), std::move(table)).first->second.get();
}

template <typename T>
T* dataOf(const Napi::Env& env, const Napi::Value& v, napi_typedarray_type type, const char* what, size_t* length) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    throw Napi::TypeError::New(env, std::string(what) + " has the wrong typed-array type");
  }
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  *length = a.ElementLength();
  return reinterpret_cast<T*>(static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset());
}

uint64_t integerArg(const Napi::Env& env, const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(what) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 9007199254740991.0 || d != double(uint64_t(d))) {
    throw Napi::RangeError::New(env, std::string(what) + " must be a non-negative integer");
  }
  return uint64_t(d);
}

// Runs `job` over its chunks on the pool (one thread below ~32K elements per thread); "" or an error.
std::string runDecode(const huff8::DecodeJob& job, const uint8_t* lens, uint64_t threads, bool allowFast) {
  std::string err;
  const huff8::DecodeTable* cached = cachedTable(lens, &err);
  uint64_t numChunks = (job.numElements + job.chunkSize - 1) / job.chunkSize;
  if (cached == nullptr || numChunks == 0) return err;
  const huff8::DecodeTable& table = *cached;
  // NOTE: below ~32K elements per thread, waking a pool thread costs more than it saves.
  uint64_t byWork = std::max<uint64_t>(1, job.numElements >> 15);
  uint64_t n = std::min<uint64_t>({std::max<uint64_t>(threads, 1), byWork, numChunks, 64});
  if (n <= 1) return huff8::decodeChunks(table, job, 0, numChunks, allowFast);
  std::vector<std::string> errors(n);
  huff8::ThreadPool::instance().run(n, [&](uint64_t k) {
    errors[k] = huff8::decodeChunks(table, job, numChunks * k / n, numChunks * (k + 1) / n, allowFast);
  });
  for (auto& e : errors) {
    if (!e.empty()) return e;
  }
  return "";
}

void* outArg(const Napi::Env& env, const Napi::Value& v, huff8::OutMode mode, size_t* outLen) {
  switch (mode) {
    case huff8::OutMode::kU16: return dataOf<uint16_t>(env, v, napi_uint16_array, "out", outLen);
    case huff8::OutMode::kSymbols: return dataOf<uint8_t>(env, v, napi_uint8_array, "out", outLen);
    default: return dataOf<float>(env, v, napi_float32_array, "out", outLen);
  }
}

// Plane arguments (planeA, planeB, planeC, keepPlanes, isF16) starting at info[at]; checks lengths for n elements.
huff8::Planes planesArg(const Napi::CallbackInfo& info, size_t at, uint64_t n) {
  Napi::Env env = info.Env();
  huff8::Planes p;
  size_t len[3];
  for (int k = 0; k < 3; k++) p.plane[k] = dataOf<uint8_t>(env, info[at + k], napi_uint8_array, "plane", &len[k]);
  uint64_t keep = integerArg(env, info[at + 3], "keepPlanes");
  if (keep < 1 || keep > 3) throw Napi::RangeError::New(env, "keepPlanes must be 1, 2 or 3");
  p.keep = int(keep);
  p.isF16 = info[at + 4].ToBoolean().Value();
  const uint64_t need[3] = {(n + 3) / 4, (n + 3) / 4, (n + 1) / 2};
  for (int k = 0; k < p.keep; k++) {
    if (len[k] < need[k]) throw Napi::RangeError::New(env, "plane " + std::to_string(k) + " is shorter than numElements requires");
  }
  return p;
}

// The stream arguments both decoders take first: (words, index, codeLengths, numElements, chunkSize,
// bitLength, out, mode) at info[0..7]. Fills `job` (not raw/planes), checks them; returns the code lengths.
const uint8_t* streamArgs(const Napi::CallbackInfo& info, uint64_t maxMode, huff8::DecodeJob* job) {
  Napi::Env env = info.Env();
  size_t indexLen, lensLen, outLen;
  job->words = dataOf<uint32_t>(env, info[0], napi_uint32_array, "words", &job->numWords);
  job->index = dataOf<uint32_t>(env, info[1], napi_uint32_array, "index", &indexLen);
  const uint8_t* lens = dataOf<uint8_t>(env, info[2], napi_uint8_array, "codeLengths", &lensLen);
  job->numElements = integerArg(env, info[3], "numElements");
  job->chunkSize = uint32_t(integerArg(env, info[4], "chunkSize"));
  job->bitLength = integerArg(env, info[5], "bitLength");
  uint64_t mode = integerArg(env, info[7], "mode");
  if (mode > maxMode) throw Napi::RangeError::New(env, "mode must be 0.." + std::to_string(maxMode));
  job->mode = huff8::OutMode(mode);
  job->out = outArg(env, info[6], job->mode, &outLen);
  if (lensLen != 256) throw Napi::RangeError::New(env, "codeLengths must hold 256 entries");
  if (job->chunkSize == 0 || job->chunkSize % 4 != 0) throw Napi::RangeError::New(env, "chunkSize must be a positive multiple of 4");
  uint64_t numChunks = (job->numElements + job->chunkSize - 1) / job->chunkSize;
  if (outLen < job->numElements || indexLen < 2 * numChunks) throw Napi::RangeError::New(env, "out or index is shorter than numElements requires");
  return lens;
}

// decode(words, index, codeLengths, numElements, chunkSize, bitLength, out, mode, raw, threads, allowFast):
// the version-1 layout (interleaved sign+mantissa bytes), as the webgpu lossless view and tests use it.
Napi::Value Decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 11) throw Napi::TypeError::New(env, "decode expects 11 arguments");
  huff8::DecodeJob job;
  const uint8_t* lens = streamArgs(info, 2, &job);
  size_t rawLen;
  job.raw = dataOf<uint8_t>(env, info[8], napi_uint8_array, "raw", &rawLen);
  job.planes = huff8::Planes{{nullptr, nullptr, nullptr}, 3, false};
  if (rawLen < job.numElements) throw Napi::RangeError::New(env, "raw is shorter than numElements requires");
  std::string err = runDecode(job, lens, integerArg(env, info[9], "threads"), info[10].ToBoolean().Value());
  if (!err.empty()) throw Napi::Error::New(env, "huff8 decode: " + err);
  return env.Undefined();
}

// decodePlanes(words, index, codeLengths, numElements, chunkSize, bitLength, out, mode,
//              planeA, planeB, planeC, keepPlanes, isF16, threads, allowFast)
Napi::Value DecodePlanes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 15) throw Napi::TypeError::New(env, "decodePlanes expects 15 arguments");
  huff8::DecodeJob job;
  const uint8_t* lens = streamArgs(info, 3, &job);
  job.raw = nullptr;
  job.planes = planesArg(info, 8, job.numElements);
  std::string err = runDecode(job, lens, integerArg(env, info[13], "threads"), info[14].ToBoolean().Value());
  if (!err.empty()) throw Napi::Error::New(env, "huff8 decode: " + err);
  return env.Undefined();
}

// expandPlanes(symbols, numElements, out, mode, planeA, planeB, planeC, keepPlanes, isF16, threads, allowFast):
// the compact cached form (symbols + planes) widened to 16-bit patterns or FP32.
Napi::Value ExpandPlanes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 11) throw Napi::TypeError::New(env, "expandPlanes expects 11 arguments");
  size_t symLen, outLen;
  const uint8_t* sym = dataOf<uint8_t>(env, info[0], napi_uint8_array, "symbols", &symLen);
  uint64_t n = integerArg(env, info[1], "numElements");
  uint64_t mode = integerArg(env, info[3], "mode");
  if (mode > 2) throw Napi::RangeError::New(env, "mode must be 0, 1 or 2");
  void* out = outArg(env, info[2], huff8::OutMode(mode), &outLen);
  huff8::Planes planes = planesArg(info, 4, n);
  uint64_t threads = integerArg(env, info[9], "threads");
  bool allowFast = info[10].ToBoolean().Value();
  if (symLen < n || outLen < n) throw Napi::RangeError::New(env, "symbols or out is shorter than numElements");
  // Ranges start on multiples of 4096 elements (plane bytes stay aligned); threads from 256K elements.
  uint64_t blocks = (n + 4095) / 4096;
  uint64_t k = std::min<uint64_t>({std::max<uint64_t>(threads, 1), std::max<uint64_t>(1, n >> 18), blocks, 64});
  auto range = [&](uint64_t j) {
    uint64_t b = blocks * j / k * 4096, e = std::min<uint64_t>(n, blocks * (j + 1) / k * 4096);
    if (e > b) huff8::expandRange(sym, planes, huff8::OutMode(mode), out, b, e - b, allowFast);
  };
  if (k <= 1) range(0);
  else huff8::ThreadPool::instance().run(k, range);
  return env.Undefined();
}

// encode(data, codeLengths, chunkSize, words, raw, index) -> bitLength
Napi::Value Encode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 6) throw Napi::TypeError::New(env, "encode expects 6 arguments");
  size_t n, lensLen, numWords, rawLen, indexLen;
  const uint16_t* data = dataOf<uint16_t>(env, info[0], napi_uint16_array, "data", &n);
  const uint8_t* lens = dataOf<uint8_t>(env, info[1], napi_uint8_array, "codeLengths", &lensLen);
  uint64_t chunkSize = integerArg(env, info[2], "chunkSize");
  uint32_t* words = dataOf<uint32_t>(env, info[3], napi_uint32_array, "words", &numWords);
  uint8_t* raw = dataOf<uint8_t>(env, info[4], napi_uint8_array, "raw", &rawLen);
  uint32_t* index = dataOf<uint32_t>(env, info[5], napi_uint32_array, "index", &indexLen);
  if (lensLen != 256) throw Napi::RangeError::New(env, "codeLengths must hold 256 entries");
  if (chunkSize == 0 || chunkSize > 0xFFFFFFFFull) throw Napi::RangeError::New(env, "chunkSize out of range");
  if (rawLen < n || indexLen < 2 * ((n + chunkSize - 1) / chunkSize)) {
    throw Napi::RangeError::New(env, "raw or index is too short for data");
  }
  uint64_t bits = 0;
  std::string err = huff8::encode(data, n, lens, uint32_t(chunkSize), words, numWords, raw, index, &bits);
  if (!err.empty()) throw Napi::Error::New(env, "huff8 encode: " + err);
  return Napi::Number::New(env, double(bits));
}

// histogram(data, counts): adds symbol counts into a Float64Array(256)
Napi::Value Histogram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2) throw Napi::TypeError::New(env, "histogram expects 2 arguments");
  size_t n, countsLen;
  const uint16_t* data = dataOf<uint16_t>(env, info[0], napi_uint16_array, "data", &n);
  double* counts = dataOf<double>(env, info[1], napi_float64_array, "counts", &countsLen);
  if (countsLen != 256) throw Napi::RangeError::New(env, "counts must hold 256 entries");
  huff8::histogram(data, n, counts);
  return env.Undefined();
}

// crc32c(bytes, previousCrc) -> crc
Napi::Value Crc32c(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2) throw Napi::TypeError::New(env, "crc32c expects 2 arguments");
  size_t n;
  const uint8_t* data = dataOf<uint8_t>(env, info[0], napi_uint8_array, "data", &n);
  uint64_t prev = integerArg(env, info[1], "previousCrc");
  if (prev > 0xFFFFFFFFull) throw Napi::RangeError::New(env, "previousCrc must fit in 32 bits");
  return Napi::Number::New(env, double(huff8::crc32c(uint32_t(prev), data, n)));
}

Napi::Value Features(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
#endif
  Napi::Object o = Napi::Object::New(env);
#if defined(__x86_64__) || defined(__i386__)
  o.Set("avx2", Napi::Boolean::New(env, __builtin_cpu_supports("avx2")));
  o.Set("bmi2", Napi::Boolean::New(env, __builtin_cpu_supports("bmi2")));
  o.Set("sse42", Napi::Boolean::New(env, __builtin_cpu_supports("sse4.2")));
#else
  o.Set("avx2", Napi::Boolean::New(env, false));
  o.Set("bmi2", Napi::Boolean::New(env, false));
  o.Set("sse42", Napi::Boolean::New(env, false));
#endif
  o.Set("fastPath", Napi::Boolean::New(env, huff8::fastPathAvailable()));
  o.Set("hardwareThreads", Napi::Number::New(env, double(std::thread::hardware_concurrency())));
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("decode", Napi::Function::New(env, Decode));
  exports.Set("decodePlanes", Napi::Function::New(env, DecodePlanes));
  exports.Set("expandPlanes", Napi::Function::New(env, ExpandPlanes));
  exports.Set("encode", Napi::Function::New(env, Encode));
  exports.Set("histogram", Napi::Function::New(env, Histogram));
  exports.Set("crc32c", Napi::Function::New(env, Crc32c));
  exports.Set("features", Napi::Function::New(env, Features));
  InitCpuForward(env, exports);  // kernels/codec/src/cpu-forward.cc: native decode step
  return exports;
}

}  // namespace

NODE_API_MODULE(edgewise_codec, Init)
