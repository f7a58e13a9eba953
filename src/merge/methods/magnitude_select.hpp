#pragma once
// Exact selection by magnitude over a whole tensor, in passes over its
// chunks (TIES' top-k, breadcrumbs' two cut points). Elements are ordered by
// the float32 bit pattern of |delta| (for non-negative floats the same order
// as their values; NaN above Inf), largest first, and among equal magnitudes
// the lower element index first: that rule decides ties at a cut.
//
// A cut at c keeps the c first elements of that order. Two histograms of
// the bit patterns (integers, so summed across units and ranks in any order
// to the same counts) find the c-th largest pattern T exactly: pass 0 counts
// the top 15 bits, pass 1 the low 16 bits inside the chosen bin. If only
// some of the elements equal to T are kept, pass 2 counts them per unit, so
// that each unit knows how many come before it.
#include <cstdint>
#include <vector>

#include "exact_sum.hpp"
#include "task_vector_unit.hpp"  // magnitude_key

namespace cocktail {

constexpr uint32_t kHighBins = 1u << 15;  // magnitude bits 30..16
constexpr uint32_t kLowBins = 1u << 16;   // bits 15..0

struct MagnitudeCut {
  enum class Kind { Nothing, Everything, Threshold };
  Kind kind = Kind::Nothing;
  uint64_t count = 0;      // c
  uint32_t high_bin = 0;   // after pass 0
  uint64_t above_bin = 0;  // elements in higher bins
  uint32_t threshold = 0;  // after pass 1: the c-th largest key
  uint64_t above = 0;      // elements with a larger key
  uint64_t equal = 0;      // elements equal to the threshold
  uint64_t need = 0;       // of those, how many are kept (the first ones)
  ExactSum above_bin_sum;  // L1 of the elements in higher bins (pass 1)
  ExactSum kept_sum;       // L1 of the c kept elements (after pass 1)
  std::vector<uint64_t> ties_before_unit;  // pass 2, when 0 < need < equal

  static MagnitudeCut at(uint64_t c, uint64_t n);
  bool counts_ties() const { return kind == Kind::Threshold && need < equal; }

  // Pass 0 and 1 results from their histograms.
  void choose_bin(const uint64_t* high_histogram);
  void choose_threshold(const uint64_t* low_histogram);

  // Whether an element is among the kept ones; tie_index = elements equal
  // to the threshold before it in the tensor.
  bool keeps(uint32_t key, uint64_t tie_index) const {
    switch (kind) {
      case Kind::Nothing: return false;
      case Kind::Everything: return true;
      case Kind::Threshold: return key > threshold || (key == threshold && (!counts_ties() || tie_index < need));
    }
    return false;
  }
};

}  // namespace cocktail
