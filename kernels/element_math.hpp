#pragma once
// Per-element math of the merge kernels, written once for the CPU (scalar and
// SIMD paths) and the CUDA kernels. Invariant 1 (same bytes at any scale, CPU
// or GPU) holds because every path calls these functions or is tested bit for
// bit against them.
//
// Conversions are pure bit arithmetic, so they do not depend on the host's
// rounding mode, _Float16 support or the GPU's conversion instructions.
// Sums are float32 in model order, acc = w0*x0, then acc = acc + wi*xi, with
// multiply and add rounded separately (no FMA; the build uses
// -ffp-contract=off and the device path uses __fmul_rn/__fadd_rn).
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/dtype.hpp"

#if defined(__CUDACC__)
#define COCKTAIL_HD __host__ __device__ inline
#else
#define COCKTAIL_HD inline
#endif

namespace cocktail {

COCKTAIL_HD uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

COCKTAIL_HD float f32_from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

COCKTAIL_HD bool is_nonfinite(float x) { return (f32_bits(x) & 0x7F800000u) == 0x7F800000u; }

COCKTAIL_HD float mul_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

COCKTAIL_HD float add_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

COCKTAIL_HD float sub_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

COCKTAIL_HD float div_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

// One step of the model-order sum; the first model uses mul_rn(w, x) alone,
// since 0 + w*x would turn a -0 product into +0.
COCKTAIL_HD float accumulate(float acc, float w, float x) { return add_rn(acc, mul_rn(w, x)); }

// NaN payloads and signs differ by hardware (x86 keeps the first operand's
// payload and may see operands swapped by the compiler; CUDA returns
// 0x7FFFFFFF; x86 Inf-Inf is negative), so a sum that is NaN is stored as this
// one pattern. It narrows to the canonical NaN of every output type.
constexpr uint32_t kCanonicalNanF32 = 0x7FC00000u;

COCKTAIL_HD float canonicalize_nan(float x) {
  return (f32_bits(x) & 0x7FFFFFFFu) > 0x7F800000u ? f32_from_bits(kCanonicalNanF32) : x;
}

// ---- bfloat16: the top half of a float32 ----

COCKTAIL_HD float bf16_to_f32(uint16_t h) { return f32_from_bits(uint32_t(h) << 16); }

// Round to nearest even by adding 0x7FFF plus the lowest kept bit; a carry out
// of the mantissa bumps the exponent, which also rounds the largest finite
// values to Inf exactly when IEEE says so. NaN is kept quiet with its sign and
// top payload bits (what AVX512-BF16 and most libraries do), since the add
// could otherwise carry a NaN into Inf.
COCKTAIL_HD uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((u >> 16) | 0x0040u);
  return uint16_t((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// ---- small IEEE-like formats (f16, f8) ----

// Rounds |x| (bits a, finite, below the format's overflow threshold) to the
// nearest even value of a format with `man` mantissa bits and exponent `bias`,
// returning its magnitude bits. Subnormal results are computed in units of the
// smallest subnormal, 2^(1 - bias - man); a carry from the largest subnormal
// into the smallest normal, or between binades, falls out of the encoding.
COCKTAIL_HD uint32_t round_to_small_float(uint32_t a, int man, int bias) {
  const int drop = 23 - man;  // float32 mantissa bits that are rounded away
  if (a >= uint32_t(128 - bias) << 23) {  // normal result
    uint32_t r = a - (uint32_t(127 - bias) << 23);
    r += ((1u << (drop - 1)) - 1u) + ((r >> drop) & 1u);
    return r >> drop;
  }
  // q = |x| / 2^(1-bias-man) = m24 * 2^(e - 150 - (1 - bias - man))
  const int shift = 151 - bias - man - int(a >> 23);
  if (shift > 24) return 0;  // below half the smallest subnormal (or f32 subnormal)
  const uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
  uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1u))) ++q;
  return q;
}

// Widens a small-format magnitude (exponent field e, mantissa field m) that is
// finite to float32; exact. Subnormals are m * 2^(1-bias-man), exact in float.
COCKTAIL_HD float small_float_to_f32(uint32_t e, uint32_t m, int man, int bias) {
  if (e != 0) return f32_from_bits(((e + uint32_t(127 - bias)) << 23) | (m << (23 - man)));
  // 2^(1-bias-man) is a normal float32 for every format here.
  return float(m) * f32_from_bits(uint32_t(128 - bias - man) << 23);
}

// ---- float16 (IEEE binary16) ----

// Exact. A NaN gets the quiet bit set and keeps sign and payload, which is what
// F16C vcvtph2ps returns (the tests compare all 65536 patterns).
COCKTAIL_HD float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
  if (e == 0x1F) return f32_from_bits(sign | 0x7F800000u | (m ? 0x400000u | (m << 13) : 0u));
  return f32_from_bits(sign | f32_bits(small_float_to_f32(e, m, 10, 15)));
}

// Round to nearest even; overflow (>= 65520, the tie above 65504) gives Inf;
// NaN gives sign | 0x7E00 | top payload bits. Identical to F16C vcvtps2ph with
// _MM_FROUND_TO_NEAREST_INT, which the SIMD path uses.
COCKTAIL_HD uint16_t f32_to_f16(float f) {
  const uint32_t u = f32_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return uint16_t(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
  if (a >= 0x477FF000u) return uint16_t(sign | 0x7C00u);
  return uint16_t(sign | round_to_small_float(a, 10, 15));
}

// ---- float8 e4m3fn (OCP FP8 E4M3): bias 7, no Inf, NaN = S.1111.111, max 448 ----
//
// Narrowing follows PyTorch's float8_e4m3fn cast rather than saturating: a
// value that rounds above 448 (|x| > 464; 464 itself ties to even 448), Inf and
// NaN all become NaN with the input's sign. Merged weights should never get
// there; when they do, NaN is counted and visible instead of silently clipped.

COCKTAIL_HD float f8e4m3_to_f32(uint8_t b) {
  const uint32_t sign = uint32_t(b & 0x80u) << 24;
  const uint32_t e = (b >> 3) & 0xFu, m = b & 0x7u;
  if (e == 0xF && m == 0x7) return f32_from_bits(sign | 0x7FC00000u);
  return f32_from_bits(sign | f32_bits(small_float_to_f32(e, m, 3, 7)));
}

COCKTAIL_HD uint8_t f32_to_f8e4m3(float f) {
  const uint32_t u = f32_bits(f);
  const uint32_t sign = (u >> 24) & 0x80u, a = u & 0x7FFFFFFFu;
  if (a > 0x43E80000u) return uint8_t(sign | 0x7Fu);  // > 464, Inf, NaN
  return uint8_t(sign | round_to_small_float(a, 3, 7));
}

// ---- float8 e5m2 (OCP FP8 E5M2): bias 15, IEEE-like Inf and NaN, max 57344 ----
//
// Overflow rounds to Inf like IEEE (|x| >= 61440, the tie above 57344); NaN
// becomes the quiet NaN S.11111.11 with the input's sign, as in PyTorch.

COCKTAIL_HD float f8e5m2_to_f32(uint8_t b) {
  const uint32_t sign = uint32_t(b & 0x80u) << 24;
  const uint32_t e = (b >> 2) & 0x1Fu, m = b & 0x3u;
  if (e == 0x1F) return f32_from_bits(sign | 0x7F800000u | (m ? 0x400000u | (m << 21) : 0u));
  return f32_from_bits(sign | f32_bits(small_float_to_f32(e, m, 2, 15)));
}

COCKTAIL_HD uint8_t f32_to_f8e5m2(float f) {
  const uint32_t u = f32_bits(f);
  const uint32_t sign = (u >> 24) & 0x80u, a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return uint8_t(sign | 0x7Fu);
  if (a >= 0x47700000u) return uint8_t(sign | 0x7Cu);
  return uint8_t(sign | round_to_small_float(a, 2, 15));
}

// ---- float64 ----

// Round to nearest like a C cast; finite values beyond float range become Inf.
COCKTAIL_HD float f64_to_f32(double d) { return float(d); }
COCKTAIL_HD double f32_to_f64(float f) { return double(f); }

// ---- typed access to raw tensor bytes (any alignment) ----

template <typename T>
COCKTAIL_HD T load_raw(const void* base, size_t i) {
  T v;
  memcpy(&v, static_cast<const unsigned char*>(base) + i * sizeof(T), sizeof(T));
  return v;
}

template <typename T>
COCKTAIL_HD void store_raw(void* base, size_t i, T v) {
  memcpy(static_cast<unsigned char*>(base) + i * sizeof(T), &v, sizeof(T));
}

// Element i of a mergeable float tensor, widened to float32. Other dtypes are
// never merged (the planner copies them); they read as 0.
COCKTAIL_HD float load_as_f32(const void* base, DType t, size_t i) {
  switch (t) {
    case DType::F32: return load_raw<float>(base, i);
    case DType::BF16: return bf16_to_f32(load_raw<uint16_t>(base, i));
    case DType::F16: return f16_to_f32(load_raw<uint16_t>(base, i));
    case DType::F64: return f64_to_f32(load_raw<double>(base, i));
    case DType::F8_E4M3: return f8e4m3_to_f32(load_raw<uint8_t>(base, i));
    case DType::F8_E5M2: return f8e5m2_to_f32(load_raw<uint8_t>(base, i));
    default: return 0.0f;
  }
}

COCKTAIL_HD void store_from_f32(void* base, DType t, size_t i, float v) {
  switch (t) {
    case DType::F32: store_raw<float>(base, i, v); break;
    case DType::BF16: store_raw<uint16_t>(base, i, f32_to_bf16(v)); break;
    case DType::F16: store_raw<uint16_t>(base, i, f32_to_f16(v)); break;
    case DType::F64: store_raw<double>(base, i, f32_to_f64(v)); break;
    case DType::F8_E4M3: store_raw<uint8_t>(base, i, f32_to_f8e4m3(v)); break;
    case DType::F8_E5M2: store_raw<uint8_t>(base, i, f32_to_f8e5m2(v)); break;
    default: break;
  }
}

}  // namespace cocktail
