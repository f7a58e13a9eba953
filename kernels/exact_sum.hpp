#pragma once
// Exact sums of float32 magnitudes, for whole-tensor norms (DARE's and
// DELLA's L1 rescale). Each value's 24-bit significand is added, as an
// integer, into the bin of its exponent, so a sum is a vector of integers:
// the same whatever order the elements, chunks, threads or ranks came in,
// and summed across ranks as integers. The value is rounded once, at the end.
#include <cmath>
#include <cstdint>
#include <cstddef>
#include <span>

#include "element_math.hpp"

namespace cocktail {

// A non-negative big integer (`n` little-endian 64-bit limbs) times
// 2^exponent, rounded once to the nearest double: the top 64 bits, every
// lower bit folded into the lowest as a sticky bit, convert with one
// correct rounding.
inline double limbs_to_double(const uint64_t* limb, int n, int exponent) {
  int top = n - 1;
  while (top >= 0 && !limb[top]) --top;
  if (top < 0) return 0.0;
  const int lead = 63 - __builtin_clzll(limb[top]);
  const int low_bit = top * 64 + lead - 63;  // weight of bit 0 of `m`
  uint64_t m = 0;
  bool sticky = false;
  for (int b = 0; b < 64; ++b) {
    const int pos = low_bit + b;
    if (pos < 0) continue;
    if ((limb[pos / 64] >> (pos % 64)) & 1) m |= uint64_t(1) << b;
  }
  for (int pos = 0; pos < low_bit; ++pos)
    if ((limb[pos / 64] >> (pos % 64)) & 1) { sticky = true; break; }
  if (sticky) m |= 1;
  return std::ldexp(double(m), low_bit + exponent);
}

struct ExactSum {
  // bins[e] for exponent field e in [0, 254]; bins[255] counts Inf and
  // bins[256] NaN. A tensor below 2^40 elements cannot overflow a bin.
  static constexpr int kSize = 257;
  uint64_t bins[kSize] = {};

  // |x| is taken by the caller; `count` copies of it.
  void add(float magnitude, uint64_t count = 1) {
    const uint32_t u = f32_bits(magnitude) & 0x7FFFFFFFu;
    const uint32_t e = u >> 23, m = u & 0x7FFFFFu;
    if (e == 255) {
      bins[m ? 256 : 255] += count;
      return;
    }
    bins[e] += uint64_t(e ? (m | 0x800000u) : m) * count;
  }

  // Adds |x[j]| for every j, and into `kept` those with keep[j] (0 or 1)
  // when it is given. Four interleaved copies of the bins keep consecutive
  // elements of one exponent from waiting on each other, and the mask is
  // applied by arithmetic, not a branch.
  void add_magnitudes(const float* x, size_t n, const uint8_t* keep = nullptr, ExactSum* kept = nullptr) {
    uint64_t all[4][kSize] = {}, sel[4][kSize] = {};
    for (size_t j = 0; j < n; ++j) {
      const uint32_t u = f32_bits(x[j]) & 0x7FFFFFFFu;
      const uint32_t e = u >> 23, m = u & 0x7FFFFFu;
      const bool special = e == 255;
      const uint32_t bin = special ? (m ? 256u : 255u) : e;
      const uint64_t value = special ? 1u : (e ? (m | 0x800000u) : m);
      all[j & 3][bin] += value;
      if (kept) sel[j & 3][bin] += value & (uint64_t(0) - keep[j]);
    }
    for (int c = 0; c < 4; ++c)
      for (int i = 0; i < kSize; ++i) {
        bins[i] += all[c][i];
        if (kept) kept->bins[i] += sel[c][i];
      }
  }

  void add(const ExactSum& o) {
    for (int i = 0; i < kSize; ++i) bins[i] += o.bins[i];
  }

  // The sum rounded to the nearest double (a NaN in the input gives NaN, an
  // Inf gives Inf): a pure function of the bins.
  double value() const {
    if (bins[256]) return std::nan("");
    if (bins[255]) return INFINITY;
    // The sum in units of 2^-149 (the smallest float32 subnormal) as a big
    // integer: exponent field e >= 1 weighs a significand 2^(e-1) units.
    constexpr int kLimbs = 6;  // 254 + 64 bits of shift and count < 384
    uint64_t limb[kLimbs] = {};
    for (int e = 0; e < 255; ++e) {
      if (!bins[e]) continue;
      const int shift = e ? e - 1 : 0;
      const int word = shift / 64, bit = shift % 64;
      unsigned __int128 carry = (unsigned __int128)bins[e] << bit;
      for (int w = word; w < kLimbs && carry; ++w) {
        carry += limb[w];
        limb[w] = uint64_t(carry);
        carry >>= 64;
      }
    }
    return limbs_to_double(limb, kLimbs, -149);
  }
};

}  // namespace cocktail
