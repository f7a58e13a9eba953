// DARE (Yu et al. 2024, arXiv 2311.03099): keep each task vector entry with
// probability density and rescale what is kept (on by default). mergekit
// rescales to the task vector's L1 norm, the paper divides by the density
// (rescale_norm: density). dare_ties adds TIES' sign election.
#include "merge/methods/registry.hpp"
#include "merge/methods/task_vector.hpp"

namespace cocktail {

const Method& dare_linear_method() {
  static const auto m = make_task_vector_method({"dare_linear", Sparsifier::Random, false, false, true});
  return *m;
}

const Method& dare_ties_method() {
  static const auto m = make_task_vector_method({"dare_ties", Sparsifier::Random, true, false, true});
  return *m;
}

}  // namespace cocktail
