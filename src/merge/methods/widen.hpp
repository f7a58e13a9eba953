#pragma once
// A block of a tensor's elements as float32, for the methods that compute on
// whole blocks (vector code) rather than one element at a time.
#include <cstddef>

#include "core/dtype.hpp"

namespace cocktail {

// out[j] = element first + j of the bytes `p` of type `t`, for j < n.
void widen(const std::byte* p, DType t, size_t first, size_t n, float* out);

}  // namespace cocktail
