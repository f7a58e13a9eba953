#pragma once
// CPU fused K-way weighted sum: out[j] = round_to(out_dtype, sum_i w_i * x_i[j])
// accumulated in float32 in model order, multiply and add rounded separately
// (see element_math.hpp). Vectorised with runtime dispatch; single-threaded:
// callers split a chunk across threads, which cannot change any output byte
// because every element is computed independently.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/dtype.hpp"

namespace cocktail {

struct WeightedInput {
  const void* data;  // n elements of dtype, any alignment
  DType dtype;       // a mergeable float type
  float weight;
};

// Adds, per input, the number of NaN or Inf elements read to nonfinite[i],
// and the number of NaN or Inf elements written (inputs that were, and sums
// too large for out_dtype) to nonfinite[in.size()]. nonfinite has
// in.size() + 1 entries, or is nullptr.
void weighted_sum(std::span<const WeightedInput> in, void* out, DType out_dtype, size_t n,
                  uint64_t* nonfinite);

// Same result computed one element at a time with element_math.hpp only; the
// reference the vector paths are tested against.
void weighted_sum_scalar(std::span<const WeightedInput> in, void* out, DType out_dtype,
                         size_t n, uint64_t* nonfinite);

// Name of the instruction set the dispatcher picked ("avx512", "avx2", "portable").
const char* weighted_sum_isa();

}  // namespace cocktail
