#pragma once
// Internal: the instruction-set paths of weighted_sum, exposed so tests can run
// every path this CPU supports against weighted_sum_scalar.
#include "weighted_sum.hpp"

namespace cocktail {

// kPortable is the portable blocked path (plain C++ over element_math.hpp).
enum class Isa : uint8_t { kPortable, kAvx2, kAvx512 };

const char* isa_name(Isa isa);
bool isa_supported(Isa isa);  // by this CPU and this build
Isa best_isa();               // what weighted_sum uses

// weighted_sum on a chosen path; throws std::invalid_argument if unsupported.
void weighted_sum_with(Isa isa, std::span<const WeightedInput> in, void* out,
                       DType out_dtype, size_t n, uint64_t* nonfinite);

}  // namespace cocktail
