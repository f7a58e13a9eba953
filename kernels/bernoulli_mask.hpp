#pragma once
// DARE's random mask over a range of elements: keep[j] = 1 when element
// (first + j)'s Philox draw (philox_uniform) is below p. The AVX2 path runs
// eight generator calls at once; it gives the bytes of the portable path,
// which are those of philox_uniform element by element (integer arithmetic
// only), so the mask depends on the element index alone.
#include <cstddef>
#include <cstdint>

#include "philox.hpp"

namespace cocktail {

void bernoulli_mask(PhiloxKey key, uint32_t model, uint64_t first, size_t n, float p, uint8_t* keep);

// The portable path alone, for tests.
void bernoulli_mask_portable(PhiloxKey key, uint32_t model, uint64_t first, size_t n, float p, uint8_t* keep);

}  // namespace cocktail
