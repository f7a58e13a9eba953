// element_math.hpp against independent references: F16C for float16, an
// integer formulation for bfloat16, a brute-force nearest search for float8.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "element_math.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

namespace cocktail {
namespace {

float from_bits(uint32_t u) { return f32_from_bits(u); }
uint32_t bits(float f) { return f32_bits(f); }

#ifdef HAVE_X86
bool have_f16c() { return __builtin_cpu_supports("f16c"); }
__attribute__((target("f16c"))) float f16c_widen(uint16_t h) { return _cvtsh_ss(h); }
__attribute__((target("f16c"))) uint16_t f16c_narrow(float f) {
  return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
#else
bool have_f16c() { return false; }
float f16c_widen(uint16_t) { return 0; }
uint16_t f16c_narrow(float) { return 0; }
#endif

// Floats worth checking for any narrowing: signed zeros, infinities, NaNs with
// payloads, extremes and subnormals of float32.
std::vector<float> special_floats() {
  std::vector<uint32_t> u = {0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000,
                             0xFFC00000, 0x7F800001, 0xFF800001, 0x7FA12345, 0xFFFFFFFF,
                             0x7FBFFFFF, 0x7F7FFFFF, 0xFF7FFFFF, 0x00000001, 0x80000001,
                             0x007FFFFF, 0x00800000, 0x3F800000, 0xBF800000};
  std::vector<float> out;
  for (uint32_t x : u) out.push_back(from_bits(x));
  return out;
}

// Every float32 near the halfway point between consecutive values of a narrow
// format, given the ascending non-negative values of that format (including
// the first value past the largest finite one, for overflow).
std::vector<float> near_midpoints(const std::vector<float>& ascending) {
  std::vector<float> out;
  for (size_t i = 0; i + 1 < ascending.size(); ++i) {
    const float mid = (ascending[i] + ascending[i + 1]) / 2;  // exact: one more bit
    for (int d = -2; d <= 2; ++d) {
      const float f = from_bits(uint32_t(int64_t(bits(mid)) + d));
      out.push_back(f);
      out.push_back(-f);
    }
  }
  return out;
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> out;
  for (size_t i = 0; i < n; ++i) out.push_back(from_bits(rng()));
  return out;
}

// ---- bfloat16 ----

TEST(ElementMath, Bf16WidenIsShiftForAllPatterns) {
  for (uint32_t h = 0; h < 65536; ++h) EXPECT_EQ(bits(bf16_to_f32(uint16_t(h))), h << 16) << h;
}

// Independent formulation: compare the dropped half with exactly one half.
uint16_t bf16_reference(float f) {
  const uint32_t u = bits(f);
  if (std::isnan(f)) return uint16_t((u >> 16) | 0x40);
  uint32_t hi = u >> 16;
  const uint32_t lo = u & 0xFFFF;
  if (lo > 0x8000 || (lo == 0x8000 && (hi & 1))) ++hi;
  return uint16_t(hi);
}

TEST(ElementMath, Bf16NarrowHandPickedTies) {
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F808000)), 0x3F80);  // tie, even below
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F818000)), 0x3F82);  // tie, odd below: up
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F808001)), 0x3F81);  // just above the tie
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F817FFF)), 0x3F81);  // just below the tie
  EXPECT_EQ(f32_to_bf16(from_bits(0x7F7F8000)), 0x7F80);  // tie above max: Inf
  EXPECT_EQ(f32_to_bf16(from_bits(0x7F7F7FFF)), 0x7F7F);  // largest finite stays
  EXPECT_EQ(f32_to_bf16(from_bits(0xFF7FFFFF)), 0xFF80);  // -overflow: -Inf
  EXPECT_EQ(f32_to_bf16(from_bits(0x7F800000)), 0x7F80);
  EXPECT_EQ(f32_to_bf16(from_bits(0x80000000)), 0x8000);
  EXPECT_EQ(f32_to_bf16(from_bits(0x00008000)), 0x0000);  // subnormal tie, even
  EXPECT_EQ(f32_to_bf16(from_bits(0x00018000)), 0x0002);
  EXPECT_EQ(f32_to_bf16(from_bits(0x7F800001)), 0x7FC0);  // sNaN quieted
  EXPECT_EQ(f32_to_bf16(from_bits(0xFFA10000)), 0xFFE1);  // sign and payload kept
  EXPECT_EQ(f32_to_bf16(from_bits(0x7FFFFFFF)), 0x7FFF);  // no carry into Inf
}

TEST(ElementMath, Bf16NarrowMatchesReference) {
  std::vector<float> xs = special_floats();
  for (float f : random_floats(1 << 20, 1)) xs.push_back(f);
  for (uint64_t u = 0; u < (1ull << 32); u += 4099) xs.push_back(from_bits(uint32_t(u)));
  for (uint32_t h = 0; h < 0x7F80; ++h)  // around every bf16 midpoint
    for (uint32_t low : {0x7FFFu, 0x8000u, 0x8001u})
      for (uint32_t s : {0u, 0x80000000u}) xs.push_back(from_bits(s | (h << 16) | low));
  for (float f : xs) ASSERT_EQ(f32_to_bf16(f), bf16_reference(f)) << std::hex << bits(f);
}

// ---- float16 ----

TEST(ElementMath, F16WidenMatchesF16CForAllPatterns) {
  if (!have_f16c()) GTEST_SKIP() << "no F16C";
  for (uint32_t h = 0; h < 65536; ++h)
    ASSERT_EQ(bits(f16_to_f32(uint16_t(h))), bits(f16c_widen(uint16_t(h)))) << std::hex << h;
}

TEST(ElementMath, F16WidenHandPicked) {
  EXPECT_EQ(f16_to_f32(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(f16_to_f32(0x7BFF), 65504.0f);
  EXPECT_EQ(bits(f16_to_f32(0x8000)), 0x80000000u);
  EXPECT_EQ(bits(f16_to_f32(0xFC00)), 0xFF800000u);
  EXPECT_EQ(bits(f16_to_f32(0x7E00)), 0x7FC00000u);
}

TEST(ElementMath, F16NarrowMatchesF16C) {
  if (!have_f16c()) GTEST_SKIP() << "no F16C";
  std::vector<float> ascending;
  for (uint32_t h = 0; h <= 0x7C00; ++h)
    ascending.push_back(h == 0x7C00 ? 65536.0f : f16_to_f32(uint16_t(h)));
  std::vector<float> xs = near_midpoints(ascending);
  for (float f : special_floats()) xs.push_back(f);
  for (float f : random_floats(1 << 20, 2)) xs.push_back(f);
  for (uint64_t u = 0; u < (1ull << 32); u += 4099) xs.push_back(from_bits(uint32_t(u)));
  for (float f : {65504.0f, 65519.99f, 65520.0f, 65536.0f, 1e10f, -65520.0f}) xs.push_back(f);
  for (float f : xs) ASSERT_EQ(f32_to_f16(f), f16c_narrow(f)) << std::hex << bits(f);
}

TEST(ElementMath, F16NarrowHandPicked) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);  // tie above max rounds to even: Inf
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // half the smallest: even 0
  EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 units: tie to even 2
  EXPECT_EQ(f32_to_f16(std::ldexp(2047.0f, -25)), 0x0400);  // carry into normal
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(from_bits(0xFF800001)), 0xFE00);
  EXPECT_EQ(f32_to_f16(from_bits(0x7FABCDEF)), 0x7E00 | (0x2BCDEF >> 13));
}

// ---- float8 ----

struct F8Format {
  int man, bias;
  uint8_t max_code;     // largest finite magnitude
  double beyond;        // the value the code after max_code would have
  uint8_t beyond_code;  // what values rounding to `beyond` (and Inf) become
  float (*widen)(uint8_t);
  uint8_t (*narrow)(float);
};
const F8Format kE4M3{3, 7, 0x7E, 480.0, 0x7F, f8e4m3_to_f32, f32_to_f8e4m3};
const F8Format kE5M2{2, 15, 0x7B, 65536.0, 0x7C, f8e5m2_to_f32, f32_to_f8e5m2};

double f8_value(const F8Format& f, int code) {
  const int e = code >> f.man, m = code & ((1 << f.man) - 1);
  if (e == 0) return std::ldexp(double(m), 1 - f.bias - f.man);
  return std::ldexp(1.0 + std::ldexp(double(m), -f.man), e - f.bias);
}

// Nearest code by search, ties to the even code (the mantissa's low bit).
uint8_t f8_reference(const F8Format& f, float x) {
  const uint8_t sign = std::signbit(x) ? 0x80 : 0;
  if (std::isnan(x)) return sign | 0x7F;
  const double a = std::fabs(double(x));
  if (a > f.beyond) return sign | f.beyond_code;
  int best = 0;
  double best_d = a;
  for (int c = 1; c <= f.max_code + 1; ++c) {
    const double v = c == f.max_code + 1 ? f.beyond : f8_value(f, c);
    const double d = std::fabs(a - v);
    if (d < best_d || (d == best_d && (c & 1) == 0)) best = c, best_d = d;
  }
  return sign | (best == f.max_code + 1 ? f.beyond_code : uint8_t(best));
}

void check_f8_format(const F8Format& f, uint32_t seed) {
  for (int c = 0; c < 256; ++c) {
    const float v = f.widen(uint8_t(c));
    const bool inf = f.man == 2 && (c & 0x7F) == 0x7C;
    const bool nan = (c & 0x7F) > f.max_code && !inf;
    if (nan) {
      ASSERT_TRUE(std::isnan(v)) << c;
      ASSERT_EQ(f.narrow(v), (c & 0x80) | 0x7F) << c;  // canonical NaN, sign kept
      continue;
    }
    if ((c & 0x7F) <= f.max_code) {
      ASSERT_EQ(double(std::fabs(v)), f8_value(f, c & 0x7F)) << c;
    }
    ASSERT_EQ(std::signbit(v), (c & 0x80) != 0) << c;
    ASSERT_EQ(f.narrow(v), c) << c;  // exact widening, lossless round trip
  }
  std::vector<float> ascending;
  for (int c = 0; c <= f.max_code; ++c) ascending.push_back(float(f8_value(f, c)));
  ascending.push_back(float(f.beyond));
  std::vector<float> xs = near_midpoints(ascending);
  for (float x : special_floats()) xs.push_back(x);
  std::mt19937 rng(seed);
  for (int i = 0; i < 200000; ++i) {  // magnitudes around the format's range
    const int e = int(rng() % 48) - 30;
    xs.push_back(from_bits((rng() & 0x807FFFFF) | uint32_t(127 + e) << 23));
  }
  for (float x : xs) ASSERT_EQ(f.narrow(x), f8_reference(f, x)) << std::hex << bits(x);
}

TEST(ElementMath, F8E4M3MatchesNearestSearch) { check_f8_format(kE4M3, 3); }
TEST(ElementMath, F8E5M2MatchesNearestSearch) { check_f8_format(kE5M2, 4); }

TEST(ElementMath, F8HandPicked) {
  EXPECT_EQ(f32_to_f8e4m3(448.0f), 0x7E);
  EXPECT_EQ(f32_to_f8e4m3(0.001953125f), 0x01);  // 2^-9, smallest subnormal
  EXPECT_EQ(f32_to_f8e4m3(464.0f), 0x7E);        // tie between 448 and 480: even
  EXPECT_EQ(f32_to_f8e4m3(464.5f), 0x7F);        // rounds past 448: NaN, as PyTorch
  EXPECT_EQ(f32_to_f8e4m3(-1e9f), 0xFF);
  EXPECT_EQ(f32_to_f8e4m3(std::numeric_limits<float>::infinity()), 0x7F);
  EXPECT_EQ(f32_to_f8e4m3(1.0f), 0x38);
  EXPECT_EQ(f8e4m3_to_f32(0x7E), 448.0f);
  EXPECT_EQ(f8e4m3_to_f32(0x01), 0.001953125f);
  EXPECT_TRUE(std::isnan(f8e4m3_to_f32(0x7F)));
  EXPECT_TRUE(std::isnan(f8e4m3_to_f32(0xFF)));
  EXPECT_EQ(f32_to_f8e5m2(57344.0f), 0x7B);
  EXPECT_EQ(f32_to_f8e5m2(61439.0f), 0x7B);
  EXPECT_EQ(f32_to_f8e5m2(61440.0f), 0x7C);  // tie above max: even, Inf
  EXPECT_EQ(f32_to_f8e5m2(-std::numeric_limits<float>::infinity()), 0xFC);
  EXPECT_EQ(f32_to_f8e5m2(std::nanf("")), 0x7F);
  EXPECT_EQ(f32_to_f8e5m2(std::ldexp(1.0f, -16)), 0x01);
  EXPECT_EQ(f32_to_f8e5m2(std::ldexp(1.0f, -17)), 0x00);  // tie with 0: even
  EXPECT_EQ(f32_to_f8e5m2(std::ldexp(1.5f, -17)), 0x01);
  EXPECT_EQ(f8e5m2_to_f32(0x7B), 57344.0f);
  EXPECT_EQ(f8e5m2_to_f32(0x7C), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f8e5m2_to_f32(0x7D)));
}

// ---- float64, dispatch, sums ----

TEST(ElementMath, F64Conversions) {
  EXPECT_EQ(f64_to_f32(1.0 + std::ldexp(1.0, -24)), 1.0f);  // tie to even
  EXPECT_EQ(f64_to_f32(1.0 + std::ldexp(3.0, -24)), 1.0f + std::ldexp(1.0f, -22));
  EXPECT_EQ(f64_to_f32(1e300), std::numeric_limits<float>::infinity());
  EXPECT_EQ(f64_to_f32(1e-300), 0.0f);
  EXPECT_TRUE(std::isnan(f64_to_f32(std::nan(""))));
  EXPECT_EQ(f32_to_f64(0.1f), double(0.1f));
}

TEST(ElementMath, LoadStoreAtAnyAlignment) {
  const DType types[] = {DType::F32,     DType::F64,     DType::BF16,
                         DType::F16,     DType::F8_E4M3, DType::F8_E5M2};
  const float values[] = {1.5f, -0.25f, 3.0f, -448.0f};
  for (DType t : types) {
    for (size_t offset = 0; offset < 8; ++offset) {
      std::vector<unsigned char> buf(offset + 4 * 8 + 8, 0xAB);
      void* base = buf.data() + offset;
      for (size_t i = 0; i < 4; ++i) store_from_f32(base, t, i, values[i]);
      for (size_t i = 0; i < 4; ++i) EXPECT_EQ(load_as_f32(base, t, i), values[i]);
      for (size_t i = 0; i < offset; ++i) EXPECT_EQ(buf[i], 0xAB);  // nothing before
      EXPECT_EQ(buf[offset + 4 * dtype_size(t)], 0xAB);             // nor after
    }
  }
}

TEST(ElementMath, AccumulateAndHelpers) {
  EXPECT_EQ(accumulate(1.0f, 2.0f, 3.0f), 7.0f);
  // Separate roundings: w*w = 1 + 2^-22 + 2^-46 rounds to 1 + 2^-22 first; a
  // fused multiply-add would keep the 2^-46.
  const float w = 1.0f + std::ldexp(1.0f, -23);
  EXPECT_EQ(accumulate(-w, w, w), std::ldexp(1.0f, -23));
  EXPECT_TRUE(is_nonfinite(std::numeric_limits<float>::infinity()));
  EXPECT_TRUE(is_nonfinite(std::nanf("")));
  EXPECT_FALSE(is_nonfinite(std::numeric_limits<float>::max()));
  EXPECT_EQ(bits(canonicalize_nan(from_bits(0xFFA12345))), kCanonicalNanF32);
  EXPECT_EQ(bits(canonicalize_nan(-std::numeric_limits<float>::infinity())), 0xFF800000u);
  EXPECT_EQ(f32_to_bf16(from_bits(kCanonicalNanF32)), 0x7FC0);
  EXPECT_EQ(f32_to_f16(from_bits(kCanonicalNanF32)), 0x7E00);
}

}  // namespace
}  // namespace cocktail
