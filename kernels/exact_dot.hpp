#pragma once
// Exact sums of products of float32 values: dot products and squared norms
// over whole tensors (slerp's angle). A product of two float32 values is a
// 48-bit integer times 2^(Ex + Ey - 300); it is added, signed, into the bin
// of its exponent sum, its high and low 24 bits into two separate 64-bit
// counters (two's complement, so the counters of any number of units and
// ranks add as unsigned integers, in any order, to the same bits). The value
// is rounded once, at the end. Like ExactSum, but signed and for products.
#include <cstdint>
#include <vector>

#include "element_math.hpp"
#include "exact_sum.hpp"

namespace cocktail {

struct ExactDot {
  // Exponent sums 2..508 (an exponent field of 0, a subnormal, counts as 1);
  // bins[2b] the high halves, bins[2b + 1] the low halves; then the counts
  // of +Inf, -Inf and NaN products. A signed sum of 24-bit halves stays
  // inside int64 below 2^39 products per tensor.
  static constexpr int kExponents = 509;
  static constexpr int kPosInf = 2 * kExponents, kNegInf = kPosInf + 1, kNaN = kPosInf + 2;
  static constexpr int kSize = kNaN + 1;

  // bins += x * y, exactly. On the device `add` is an atomic add.
  template <typename Add>
  COCKTAIL_HD static void add_product(uint64_t* bins, float x, float y, Add add) {
    const uint32_t ux = f32_bits(x), uy = f32_bits(y);
    const uint32_t ex = (ux >> 23) & 0xFF, ey = (uy >> 23) & 0xFF;
    const uint32_t mx = ux & 0x7FFFFF, my = uy & 0x7FFFFF;
    const bool negative = ((ux ^ uy) >> 31) != 0;
    if (ex == 255 || ey == 255) {
      const bool nan = (ex == 255 && mx) || (ey == 255 && my) || (ex != 255 && (ux & 0x7FFFFFFFu) == 0) ||
                       (ey != 255 && (uy & 0x7FFFFFFFu) == 0);  // NaN, or Inf times 0
      add(&bins[nan ? kNaN : negative ? kNegInf : kPosInf], 1);
      return;
    }
    const uint64_t p = uint64_t(ex ? (mx | 0x800000u) : mx) * uint64_t(ey ? (my | 0x800000u) : my);
    if (!p) return;
    const uint32_t b = (ex ? ex : 1) + (ey ? ey : 1);
    const uint64_t hi = p >> 24, lo = p & 0xFFFFFFu;
    add(&bins[2 * b], negative ? uint64_t(0) - hi : hi);
    add(&bins[2 * b + 1], negative ? uint64_t(0) - lo : lo);
  }

  COCKTAIL_HD static void add_product(uint64_t* bins, float x, float y) {
    add_product(bins, x, y, [](uint64_t* to, uint64_t v) { *to += v; });
  }

  // The CPU's fast path (`sums` sums side by side, e.g. <a,a>, <b,b>, <a,b>):
  // whole 48-bit products added into int64 bins, up to kBlock per bin
  // before flush() (2^14 x 2^48 < 2^63), kCopies copies taken in turn so
  // that consecutive products into one bin do not wait on each other; rare
  // non-finite products go straight to the state. The same integers as
  // add_product, so the same bits.
  struct Block {
    static constexpr size_t kBlock = size_t(1) << 14;
    static constexpr int kCopies = 2;
    explicit Block(int sums) : sums(sums), acc(size_t(kCopies) * sums * kExponents, 0) {}

    // Adds x * y to sum `sum`, into copy `copy` of its bins.
    void add(int copy, int sum, uint64_t* state, float x, float y) {
      const uint32_t ux = f32_bits(x), uy = f32_bits(y);
      const uint32_t ex = (ux >> 23) & 0xFF, ey = (uy >> 23) & 0xFF;
      if (ex == 255 || ey == 255) return add_product(state + sum * kSize, x, y);
      const uint64_t mx = ex ? ((ux & 0x7FFFFF) | 0x800000u) : (ux & 0x7FFFFF);
      const uint64_t my = ey ? ((uy & 0x7FFFFF) | 0x800000u) : (uy & 0x7FFFFF);
      const int64_t p = int64_t(mx * my), sign = -int64_t((ux ^ uy) >> 31);
      acc[(size_t(copy) * sums + sum) * kExponents + (ex ? ex : 1) + (ey ? ey : 1)] += (p ^ sign) - sign;
    }

    // Adds x[j] * y[j] for j < n to sum `sum` (n <= kBlock since the last flush).
    void add(int sum, const float* x, const float* y, size_t n, uint64_t* state) {
      for (size_t j = 0; j < n; ++j) add(int(j % kCopies), sum, state, x[j], y[j]);
    }

    // Adds the bins into `state` (`sums` states of kSize) and clears them.
    void flush(uint64_t* state) {
      for (int k = 0; k < sums; ++k)
        for (int b = 0; b < kExponents; ++b) {
          int64_t v = 0;
          for (int c = 0; c < kCopies; ++c) {
            int64_t& part = acc[(size_t(c) * sums + k) * kExponents + b];
            v += part;
            part = 0;
          }
          if (!v) continue;
          state[k * kSize + 2 * b] += uint64_t(v >> 24);  // v = (v >> 24) * 2^24 + (v & 0xFFFFFF)
          state[k * kSize + 2 * b + 1] += uint64_t(v & 0xFFFFFF);
        }
    }

    int sums;
    std::vector<int64_t> acc;  // [copy][sum][exponent]
  };

  // The sum rounded to the nearest double: NaN when a product was NaN or
  // Infs of both signs met, +-Inf when Infs of one sign were added.
  static double value(const uint64_t* bins) {
    if (bins[kNaN] || (bins[kPosInf] && bins[kNegInf])) return std::nan("");
    if (bins[kPosInf]) return INFINITY;
    if (bins[kNegInf]) return -INFINITY;
    // In units of 2^-300, as a 640-bit two's complement integer: the true
    // sum is far inside it, so the wrap-around of the addition is harmless.
    constexpr int kLimbs = 10;
    uint64_t limb[kLimbs] = {};
    auto add_shifted = [&](int64_t v, int shift) {
      const int word = shift / 64, bit = shift % 64;
      const uint64_t fill = v < 0 ? ~uint64_t(0) : 0;  // the sign extension
      const uint64_t parts[3] = {uint64_t(v) << bit, bit ? (uint64_t(v) >> (64 - bit)) | (fill << bit) : fill, fill};
      unsigned __int128 carry = 0;
      for (int w = word; w < kLimbs; ++w) {
        const uint64_t part = w - word < 3 ? parts[w - word] : fill;
        carry += (unsigned __int128)limb[w] + part;
        limb[w] = uint64_t(carry);
        carry >>= 64;
      }
    };
    for (int b = 0; b < kExponents; ++b) {
      if (bins[2 * b]) add_shifted(int64_t(bins[2 * b]), b + 24);
      if (bins[2 * b + 1]) add_shifted(int64_t(bins[2 * b + 1]), b);
    }
    const bool negative = limb[kLimbs - 1] >> 63;
    if (negative) {  // two's complement negation
      unsigned __int128 carry = 1;
      for (uint64_t& l : limb) {
        carry += ~l;
        l = uint64_t(carry);
        carry >>= 64;
      }
    }
    const double m = limbs_to_double(limb, kLimbs, -300);
    return negative ? -m : m;
  }
};

}  // namespace cocktail
