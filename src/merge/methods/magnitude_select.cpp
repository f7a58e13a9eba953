#include "merge/methods/magnitude_select.hpp"

#include "core/error.hpp"

namespace cocktail {

MagnitudeCut MagnitudeCut::at(uint64_t c, uint64_t n) {
  MagnitudeCut cut;
  cut.count = c;
  cut.kind = c == 0 ? Kind::Nothing : c >= n ? Kind::Everything : Kind::Threshold;
  return cut;
}

void MagnitudeCut::choose_bin(const uint64_t* high_histogram) {
  uint64_t seen = 0;
  for (uint32_t b = kHighBins; b-- > 0;) {
    if (seen + high_histogram[b] >= count) {
      high_bin = b;
      above_bin = seen;
      return;
    }
    seen += high_histogram[b];
  }
  throw Error("internal: magnitude histogram holds fewer elements than the cut");
}

void MagnitudeCut::choose_threshold(const uint64_t* low_histogram) {
  uint64_t seen = above_bin;
  kept_sum = above_bin_sum;
  for (uint32_t l = kLowBins; l-- > 0;) {
    const uint32_t key = (high_bin << 16) | l;
    if (seen + low_histogram[l] >= count) {
      threshold = key;
      above = seen;
      equal = low_histogram[l];
      need = count - seen;
      kept_sum.add(f32_from_bits(key), need);
      return;
    }
    seen += low_histogram[l];
    kept_sum.add(f32_from_bits(key), low_histogram[l]);
  }
  throw Error("internal: magnitude histogram holds fewer elements than the cut");
}

}  // namespace cocktail
