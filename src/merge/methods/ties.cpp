// TIES (Yadav et al. 2023, arXiv 2306.01708): per tensor keep each task
// vector's top density * n magnitudes, elect each entry's sign by the sum of
// the weighted task vectors, and average the agreeing entries (normalize on
// by default).
#include "merge/methods/registry.hpp"
#include "merge/methods/task_vector.hpp"

namespace cocktail {

const Method& ties_method() {
  static const auto m = make_task_vector_method({"ties", Sparsifier::Magnitude, true, true, false});
  return *m;
}

}  // namespace cocktail
