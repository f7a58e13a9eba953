// CPU weighted sum. The n elements are processed in blocks that stay in L1:
// each input is widened to float32, its non-finite values counted and
// w*x added into the accumulator in model order; the block is then narrowed to
// the output type. Bf16 inputs to a bf16 output, the common checkpoint case,
// take the same steps one vector at a time in registers (a third of the
// blocked path's time: kernel_bench). Every step is the element_math.hpp
// function applied lane by lane (or a vector instruction that is
// bit-identical to it), so the output does not depend on the path, the
// block size or how callers split n.
//
// The vector paths are compiled with __attribute__((target)) and chosen at run
// time, so the file builds without -march flags and runs on any x86-64.
#include <algorithm>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "element_math.hpp"
#include "weighted_sum.hpp"
#include "weighted_sum_dispatch.hpp"

#if defined(__x86_64__) || defined(__i386__)
// GCC 12 warns that _mm512_undefined_*() values are uninitialized (bug 105593,
// fixed in 13); they are by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#define COCKTAIL_X86 1
#define COCKTAIL_AVX2 __attribute__((target("avx2,f16c")))
#define COCKTAIL_AVX512 __attribute__((target("avx512f,avx512bw")))
#endif

namespace cocktail {
namespace {

constexpr size_t kBlock = 1024;  // floats; acc and x are 8 KiB together

const unsigned char* byte_ptr(const void* base, DType t, size_t i) {
  return static_cast<const unsigned char*>(base) + i * dtype_size(t);
}
unsigned char* byte_ptr(void* base, DType t, size_t i) {
  return static_cast<unsigned char*>(base) + i * dtype_size(t);
}

// ---- portable path: element_math.hpp in loops; also the tails and the rare
// dtypes (f8, f64) of the vector paths ----

template <DType T>
void widen_t(const void* base, size_t start, size_t count, float* x) {
  for (size_t j = 0; j < count; ++j) x[j] = load_as_f32(base, T, start + j);
}

template <DType T>
void narrow_t(const float* acc, void* base, size_t start, size_t count) {
  for (size_t j = 0; j < count; ++j) store_from_f32(base, T, start + j, canonicalize_nan(acc[j]));
}

void widen_portable(const void* base, DType t, size_t start, size_t count, float* x) {
  switch (t) {
    case DType::F32: memcpy(x, byte_ptr(base, t, start), count * sizeof(float)); break;
    case DType::BF16: widen_t<DType::BF16>(base, start, count, x); break;
    case DType::F16: widen_t<DType::F16>(base, start, count, x); break;
    case DType::F64: widen_t<DType::F64>(base, start, count, x); break;
    case DType::F8_E4M3: widen_t<DType::F8_E4M3>(base, start, count, x); break;
    case DType::F8_E5M2: widen_t<DType::F8_E5M2>(base, start, count, x); break;
    default: break;  // rejected by check_dtypes
  }
}

void narrow_portable(const float* acc, void* base, DType t, size_t start, size_t count) {
  switch (t) {
    case DType::F32: narrow_t<DType::F32>(acc, base, start, count); break;
    case DType::BF16: narrow_t<DType::BF16>(acc, base, start, count); break;
    case DType::F16: narrow_t<DType::F16>(acc, base, start, count); break;
    case DType::F64: narrow_t<DType::F64>(acc, base, start, count); break;
    case DType::F8_E4M3: narrow_t<DType::F8_E4M3>(acc, base, start, count); break;
    case DType::F8_E5M2: narrow_t<DType::F8_E5M2>(acc, base, start, count); break;
    default: break;
  }
}

uint64_t count_nonfinite(const float* x, size_t count) {
  uint64_t bad = 0;
  for (size_t j = 0; j < count; ++j) bad += is_nonfinite(x[j]);
  return bad;
}

// acc = w*x (first model) or acc + w*x; returns how many x are NaN or Inf.
uint64_t accumulate_portable(float* acc, float w, const float* x, size_t count, bool first) {
  uint64_t bad = 0;
  for (size_t j = 0; j < count; ++j) {
    bad += is_nonfinite(x[j]);
    acc[j] = first ? mul_rn(w, x[j]) : accumulate(acc[j], w, x[j]);
  }
  return bad;
}

#ifdef COCKTAIL_X86

// ---- AVX2 + F16C, 8 lanes ----

// The lane steps the blocked loops and the fused bf16 loop share.
COCKTAIL_AVX2 __m256 bf16_to_f32_avx2(__m128i h) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

COCKTAIL_AVX2 int nonfinite_lanes_avx2(__m256 x) {
  const __m256i exp = _mm256_set1_epi32(0x7F800000);
  const __m256i e = _mm256_and_si256(_mm256_castps_si256(x), exp);
  return __builtin_popcount(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(e, exp))));
}

COCKTAIL_AVX2 void widen_avx2(const void* base, DType t, size_t start, size_t count, float* x) {
  const unsigned char* p = byte_ptr(base, t, start);
  size_t j = 0;
  if (t == DType::BF16) {
    for (; j + 8 <= count; j += 8)
      _mm256_storeu_ps(x + j, bf16_to_f32_avx2(_mm_loadu_si128((const __m128i*)(p + 2 * j))));
  } else if (t == DType::F16) {
    for (; j + 8 <= count; j += 8)
      _mm256_storeu_ps(x + j, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(p + 2 * j))));
  }
  widen_portable(base, t, start + j, count - j, x + j);
}

COCKTAIL_AVX2 uint64_t accumulate_avx2(float* acc, float w, const float* x, size_t count,
                                       bool first) {
  const __m256 wv = _mm256_set1_ps(w);
  uint64_t bad = 0;
  size_t j = 0;
  for (; j + 8 <= count; j += 8) {
    __m256 xv = _mm256_loadu_ps(x + j);
    bad += nonfinite_lanes_avx2(xv);
    __m256 prod = _mm256_mul_ps(wv, xv);
    _mm256_storeu_ps(acc + j, first ? prod : _mm256_add_ps(_mm256_loadu_ps(acc + j), prod));
  }
  return bad + accumulate_portable(acc + j, w, x + j, count - j, first);
}

COCKTAIL_AVX2 __m256 canonicalize_nan_avx2(__m256 v) {
  __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
  return _mm256_blendv_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(kCanonicalNanF32)), nan);
}

// f32_to_bf16 on finite, Inf and canonical NaN lanes (the only ones left
// after canonicalize_nan): no NaN branch needed.
COCKTAIL_AVX2 __m256i bf16_rne_avx2(__m256 v) {
  __m256i u = _mm256_castps_si256(v);
  __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  u = _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7FFF)), lsb);
  return _mm256_srli_epi32(u, 16);
}

COCKTAIL_AVX2 __m128i narrow_bf16_avx2(__m256 acc) {
  const __m256i r = bf16_rne_avx2(canonicalize_nan_avx2(acc));
  // Values are below 0x10000, so the unsigned saturating pack is exact.
  return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}

COCKTAIL_AVX2 void narrow_avx2(const float* acc, void* base, DType t, size_t start,
                               size_t count) {
  unsigned char* p = byte_ptr(base, t, start);
  size_t j = 0;
  if (t == DType::F32) {
    for (; j + 8 <= count; j += 8)
      _mm256_storeu_ps((float*)(p + 4 * j), canonicalize_nan_avx2(_mm256_loadu_ps(acc + j)));
  } else if (t == DType::BF16) {
    for (; j + 8 <= count; j += 8)
      _mm_storeu_si128((__m128i*)(p + 2 * j), narrow_bf16_avx2(_mm256_loadu_ps(acc + j)));
  } else if (t == DType::F16) {
    for (; j + 8 <= count; j += 8) {
      __m256 v = canonicalize_nan_avx2(_mm256_loadu_ps(acc + j));
      _mm_storeu_si128((__m128i*)(p + 2 * j),
                       _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
  }
  narrow_portable(acc + j, base, t, start + j, count - j);
}

// bf16 inputs to a bf16 output: the blocked path's lane steps on one vector
// held in registers, no block buffers, one pass over memory. Returns where
// the vector loop stopped; the blocked path does the rest.
COCKTAIL_AVX2 size_t sum_bf16_avx2(std::span<const WeightedInput> in, void* out, size_t n,
                                   uint64_t* bad) {
  unsigned char* o = static_cast<unsigned char*>(out);
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256 acc = _mm256_setzero_ps();
    for (size_t i = 0; i < in.size(); ++i) {
      const auto* p = (const __m128i*)byte_ptr(in[i].data, DType::BF16, j);
      const __m256 x = bf16_to_f32_avx2(_mm_loadu_si128(p));
      bad[i] += nonfinite_lanes_avx2(x);
      const __m256 prod = _mm256_mul_ps(_mm256_set1_ps(in[i].weight), x);
      acc = i == 0 ? prod : _mm256_add_ps(acc, prod);
    }
    const __m128i h = narrow_bf16_avx2(acc);
    // What was stored, read back as the blocked path does.
    bad[in.size()] += nonfinite_lanes_avx2(bf16_to_f32_avx2(h));
    _mm_storeu_si128((__m128i*)(o + 2 * j), h);
  }
  return j;
}

// ---- AVX-512 (F, BW), 16 lanes ----

// As the AVX2 lane helpers.
COCKTAIL_AVX512 __m512 bf16_to_f32_avx512(__m256i h) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

COCKTAIL_AVX512 int nonfinite_lanes_avx512(__m512 x) {
  const __m512i exp = _mm512_set1_epi32(0x7F800000);
  const __m512i e = _mm512_and_si512(_mm512_castps_si512(x), exp);
  return __builtin_popcount(_mm512_cmpeq_epi32_mask(e, exp));
}

COCKTAIL_AVX512 void widen_avx512(const void* base, DType t, size_t start, size_t count,
                                  float* x) {
  const unsigned char* p = byte_ptr(base, t, start);
  size_t j = 0;
  if (t == DType::BF16) {
    for (; j + 16 <= count; j += 16)
      _mm512_storeu_ps(x + j, bf16_to_f32_avx512(_mm256_loadu_si256((const __m256i*)(p + 2 * j))));
  } else if (t == DType::F16) {
    for (; j + 16 <= count; j += 16)
      _mm512_storeu_ps(x + j, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(p + 2 * j))));
  }
  widen_portable(base, t, start + j, count - j, x + j);
}

COCKTAIL_AVX512 uint64_t accumulate_avx512(float* acc, float w, const float* x, size_t count,
                                           bool first) {
  const __m512 wv = _mm512_set1_ps(w);
  uint64_t bad = 0;
  size_t j = 0;
  for (; j + 16 <= count; j += 16) {
    __m512 xv = _mm512_loadu_ps(x + j);
    bad += nonfinite_lanes_avx512(xv);
    __m512 prod = _mm512_mul_ps(wv, xv);
    _mm512_storeu_ps(acc + j, first ? prod : _mm512_add_ps(_mm512_loadu_ps(acc + j), prod));
  }
  return bad + accumulate_portable(acc + j, w, x + j, count - j, first);
}

COCKTAIL_AVX512 __m512 canonicalize_nan_avx512(__m512 v) {
  __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  return _mm512_mask_blend_ps(nan, v, _mm512_castsi512_ps(_mm512_set1_epi32(kCanonicalNanF32)));
}

// As bf16_rne_avx2: lanes are finite, Inf or the canonical NaN.
COCKTAIL_AVX512 __m512i bf16_rne_avx512(__m512 v) {
  __m512i u = _mm512_castps_si512(v);
  __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  u = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)), lsb);
  return _mm512_srli_epi32(u, 16);
}

COCKTAIL_AVX512 __m256i narrow_bf16_avx512(__m512 acc) {
  return _mm512_cvtepi32_epi16(bf16_rne_avx512(canonicalize_nan_avx512(acc)));
}

COCKTAIL_AVX512 void narrow_avx512(const float* acc, void* base, DType t, size_t start,
                                   size_t count) {
  unsigned char* p = byte_ptr(base, t, start);
  size_t j = 0;
  if (t == DType::F32) {
    for (; j + 16 <= count; j += 16)
      _mm512_storeu_ps((float*)(p + 4 * j), canonicalize_nan_avx512(_mm512_loadu_ps(acc + j)));
  } else if (t == DType::BF16) {
    for (; j + 16 <= count; j += 16)
      _mm256_storeu_si256((__m256i*)(p + 2 * j), narrow_bf16_avx512(_mm512_loadu_ps(acc + j)));
  } else if (t == DType::F16) {
    for (; j + 16 <= count; j += 16) {
      __m512 v = canonicalize_nan_avx512(_mm512_loadu_ps(acc + j));
      _mm256_storeu_si256((__m256i*)(p + 2 * j),
                          _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
  }
  narrow_portable(acc + j, base, t, start + j, count - j);
}

// As sum_bf16_avx2, 16 lanes.
COCKTAIL_AVX512 size_t sum_bf16_avx512(std::span<const WeightedInput> in, void* out, size_t n,
                                       uint64_t* bad) {
  unsigned char* o = static_cast<unsigned char*>(out);
  size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m512 acc = _mm512_setzero_ps();
    for (size_t i = 0; i < in.size(); ++i) {
      const auto* p = (const __m256i*)byte_ptr(in[i].data, DType::BF16, j);
      const __m512 x = bf16_to_f32_avx512(_mm256_loadu_si256(p));
      bad[i] += nonfinite_lanes_avx512(x);
      const __m512 prod = _mm512_mul_ps(_mm512_set1_ps(in[i].weight), x);
      acc = i == 0 ? prod : _mm512_add_ps(acc, prod);
    }
    const __m256i h = narrow_bf16_avx512(acc);
    bad[in.size()] += nonfinite_lanes_avx512(bf16_to_f32_avx512(h));
    _mm256_storeu_si256((__m256i*)(o + 2 * j), h);
  }
  return j;
}

#endif  // COCKTAIL_X86

// The three steps of a block on one instruction set, and the fused loop for
// the common checkpoint case (bf16 in, bf16 out), where the set has one.
struct Path {
  void (*widen)(const void* base, DType t, size_t start, size_t count, float* x);
  uint64_t (*accumulate)(float* acc, float w, const float* x, size_t count, bool first);
  void (*narrow)(const float* acc, void* base, DType t, size_t start, size_t count);
  size_t (*sum_bf16)(std::span<const WeightedInput> in, void* out, size_t n, uint64_t* bad);
};

Path path_for(Isa isa) {
  switch (isa) {
#ifdef COCKTAIL_X86
    case Isa::kAvx2: return {widen_avx2, accumulate_avx2, narrow_avx2, sum_bf16_avx2};
    case Isa::kAvx512: return {widen_avx512, accumulate_avx512, narrow_avx512, sum_bf16_avx512};
#endif
    default: return {widen_portable, accumulate_portable, narrow_portable, nullptr};
  }
}

void check_dtypes(std::span<const WeightedInput> in, DType out_dtype) {
  bool ok = is_mergeable_float(out_dtype);
  for (const WeightedInput& x : in) ok = ok && is_mergeable_float(x.dtype);
  if (!ok) throw std::invalid_argument("weighted_sum: dtype is not a mergeable float type");
}

void run_blocked(const Path& path, std::span<const WeightedInput> in, void* out,
                 DType out_dtype, size_t n, uint64_t* nonfinite) {
  alignas(64) float acc[kBlock];
  alignas(64) float x[kBlock];
  for (size_t start = 0; start < n; start += kBlock) {
    const size_t count = std::min(kBlock, n - start);
    if (in.empty()) std::fill_n(acc, count, 0.0f);  // the empty sum, as in the scalar path
    for (size_t i = 0; i < in.size(); ++i) {
      path.widen(in[i].data, in[i].dtype, start, count, x);
      uint64_t bad = path.accumulate(acc, in[i].weight, x, count, i == 0);
      if (nonfinite) nonfinite[i] += bad;
    }
    path.narrow(acc, out, out_dtype, start, count);
    if (nonfinite) {
      // Read back what was stored: exactly the values that became NaN or Inf
      // in out_dtype, overflow included, without a threshold per dtype.
      path.widen(out, out_dtype, start, count, x);
      nonfinite[in.size()] += count_nonfinite(x, count);
    }
  }
}

// The fused loop where it applies, then the blocked path for the tail and
// every other case.
void run(const Path& path, std::span<const WeightedInput> in, void* out, DType out_dtype, size_t n,
         uint64_t* nonfinite) {
  const bool bf16 = out_dtype == DType::BF16 && !in.empty() &&
                    std::all_of(in.begin(), in.end(),
                                [](const WeightedInput& x) { return x.dtype == DType::BF16; });
  if (!path.sum_bf16 || !bf16) return run_blocked(path, in, out, out_dtype, n, nonfinite);
  std::vector<uint64_t> bad(in.size() + 1, 0);
  const size_t done = path.sum_bf16(in, out, n, bad.data());
  if (nonfinite)
    for (size_t i = 0; i < bad.size(); ++i) nonfinite[i] += bad[i];
  if (done == n) return;
  std::vector<WeightedInput> rest(in.begin(), in.end());
  for (WeightedInput& x : rest) x.data = byte_ptr(x.data, DType::BF16, done);
  run_blocked(path, rest, byte_ptr(out, DType::BF16, done), out_dtype, n - done, nonfinite);
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx2: return "avx2";
    default: return "portable";
  }
}

bool isa_supported(Isa isa) {
#ifdef COCKTAIL_X86
  __builtin_cpu_init();
  if (isa == Isa::kAvx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
  if (isa == Isa::kAvx512)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
#endif
  return isa == Isa::kPortable;
}

Isa best_isa() {
  static const Isa best = isa_supported(Isa::kAvx512) ? Isa::kAvx512
                          : isa_supported(Isa::kAvx2) ? Isa::kAvx2
                                                      : Isa::kPortable;
  return best;
}

void weighted_sum_with(Isa isa, std::span<const WeightedInput> in, void* out, DType out_dtype,
                       size_t n, uint64_t* nonfinite) {
  if (!isa_supported(isa))
    throw std::invalid_argument(std::string("weighted_sum: ") + isa_name(isa) +
                                " is not supported by this CPU");
  check_dtypes(in, out_dtype);
  run(path_for(isa), in, out, out_dtype, n, nonfinite);
}

void weighted_sum(std::span<const WeightedInput> in, void* out, DType out_dtype, size_t n,
                  uint64_t* nonfinite) {
  check_dtypes(in, out_dtype);
  run(path_for(best_isa()), in, out, out_dtype, n, nonfinite);
}

void weighted_sum_scalar(std::span<const WeightedInput> in, void* out, DType out_dtype,
                         size_t n, uint64_t* nonfinite) {
  check_dtypes(in, out_dtype);
  for (size_t j = 0; j < n; ++j) {
    float acc = 0.0f;
    for (size_t i = 0; i < in.size(); ++i) {
      const float x = load_as_f32(in[i].data, in[i].dtype, j);
      if (nonfinite) nonfinite[i] += is_nonfinite(x);
      acc = i == 0 ? mul_rn(in[i].weight, x) : accumulate(acc, in[i].weight, x);
    }
    store_from_f32(out, out_dtype, j, canonicalize_nan(acc));
    if (nonfinite) nonfinite[in.size()] += is_nonfinite(load_as_f32(out, out_dtype, j));
  }
}

const char* weighted_sum_isa() { return isa_name(best_isa()); }

}  // namespace cocktail
