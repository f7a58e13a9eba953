#pragma once
// The apply of a method whose merged value is a float32 function of the
// element's sources, in torch's order of operations: what every method
// here does except the task-vector family's vectorised combine. Loads the
// sources as float32, counts NaN/Inf in each and in the output, stores the
// value in the output dtype (NaN canonical).
#include <cstdint>
#include <mutex>
#include <vector>

#include "element_math.hpp"
#include "merge/tensor_method.hpp"
#include "plan/tensor_plan.hpp"

namespace cocktail {

// make_value() gives each thread its own value(x, j) -> float, x[s] being
// source s at element j. Threads take whole rows of `row` elements (1: any
// split; a unit holds whole rows), each row in element order, so a value
// may set per-row state at j % row == 0.
template <typename MakeValue>
void apply_elementwise(const PlannedTensor& pt, const WorkUnit& unit, UnitInputs in, std::byte* out,
                       ThreadPool& pool, uint64_t* nonfinite, MakeValue make_value, uint64_t row = 1) {
  const size_t sources = pt.sources.size();
  std::mutex mu;
  pool.parallel_for(unit.count / row, [&](size_t first_row, size_t last_row) {
    auto value = make_value();
    std::vector<uint64_t> bad(sources + 1, 0);
    std::vector<float> x(sources);
    for (size_t j = first_row * row; j < last_row * row; ++j) {
      for (size_t s = 0; s < sources; ++s) {
        x[s] = load_as_f32(in[s], pt.sources[s].tensor->info.dtype, j);
        bad[s] += is_nonfinite(x[s]);
      }
      store_from_f32(out, pt.out_dtype, j, canonicalize_nan(value(x.data(), j)));
      bad[sources] += is_nonfinite(load_as_f32(out, pt.out_dtype, j));
    }
    std::lock_guard lock(mu);
    for (size_t s = 0; s <= sources; ++s) nonfinite[s] += bad[s];
  });
}

}  // namespace cocktail
